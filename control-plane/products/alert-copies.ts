import type { AlertCopyRow, AlertRow } from '../store/index.ts';
import { owningView, visibleIn, type SyncConfig } from './sync-matrix.ts';

/**
 * The copies a new alert gets, one per product view that shows it. The owning product keeps the
 * detection's id; M365D uses its own prefixed ids (`da…` for endpoint alerts, `dc…` for cloud
 * ones, as Defender XDR does); the MDC copy of an MDE alert is a separate MDC alert with its own
 * id that links back to the source, made only for a server OS (`serverOs`); the Sentinel copy has
 * its own id.
 */
export function copiesFor(alert: AlertRow, config: SyncConfig, newId: () => string, now: number, serverOs = true): AlertCopyRow[] {
  const detecting = String(alert.properties.detectingProduct ?? 'MDC');
  const owner = owningView(detecting);
  return visibleIn(detecting, config, serverOs).map((product) => ({
    systemAlertId: alert.systemAlertId,
    product,
    copyId: product === owner ? alert.systemAlertId
      : product === 'M365D' ? `${owner === 'MDE' ? 'da' : 'dc'}${alert.systemAlertId}`
      : newId(),
    status: alert.status,
    updatedAt: now,
  }));
}

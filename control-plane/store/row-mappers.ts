import type { AlertCopyRow, IncidentRow, TokenRow } from './store.ts';

/** Column rows -> store rows, where both backends return the same column values. */
type Row = Record<string, any>;

export function toCopy(r: Row): AlertCopyRow {
  return { systemAlertId: r.system_alert_id, product: r.product, copyId: r.copy_id, status: r.status, updatedAt: r.updated_at };
}

export function toIncident(r: Row): IncidentRow {
  return {
    incidentId: r.incident_id, title: r.title, severity: r.severity, status: r.status, sentinelStatus: r.sentinel_status,
    createdAt: r.created_at, updatedAt: r.updated_at, firstActivity: r.first_activity, lastActivity: r.last_activity,
    redirectedTo: r.redirected_to,
  };
}

export function toToken(r: Row): TokenRow {
  return {
    id: r.id, tokenHash: r.token_hash, subscription: r.subscription, resourceGroup: r.resource_group, location: r.location,
    createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, uses: r.uses,
  };
}

import type { AlertRow, EntityKey, StoreTx } from '../store/index.ts';

/** A Defender for SQL alert (`SQL.VM_*`, `SQL.DB_*`): the kind that names a client. */
export function isSqlAlert(a: Pick<AlertRow, 'alertType'>): boolean {
  return a.alertType.startsWith('SQL.');
}

/**
 * A crypto-mining or command-and-control alert: intent CommandAndControl, or a mining detection
 * ("Digital currency mining related behavior detected", "Process associated with digital currency
 * mining detected", VM_MinerInContainerImage, ...).
 */
export function isMiningOrC2Alert(a: Pick<AlertRow, 'alertType' | 'properties'>): boolean {
  const intent = String(a.properties.intent ?? '');
  const name = `${a.alertType} ${String(a.properties.alertDisplayName ?? '')}`;
  return /\bCommandAndControl\b/.test(intent) || /mining|miner|coinminer/i.test(name);
}

export interface BreachedHostLink {
  related: AlertRow;
  clientIp: string;
  /** The breached computer (its hostname) when the client IP is one of its addresses; null when the IP is the C&C server the alert names. */
  host: string | null;
  /** The SQL alert's description, naming the related alert. */
  description: string;
  /** Added to the SQL alert's correlation keys so both land in one incident. */
  key: EntityKey;
}

const entitiesOf = (a: AlertRow) => (a.properties.entities ?? []) as Array<Record<string, unknown>>;

/**
 * The seed's "legitimate user accessing an SQL Server from a breached computer which communicated
 * with a crypto-mining C&C server": for a new Defender for SQL alert, the most recent mining or C&C
 * alert within `windowMs` (alert time) whose host has the SQL client's IP among its network
 * addresses, or whose entities name that IP. Undefined when there is none.
 */
export async function breachedHostLink(tx: StoreTx, sql: AlertRow, windowMs: number): Promise<BreachedHostLink | undefined> {
  if (!isSqlAlert(sql)) return undefined;
  const clientIp = entitiesOf(sql).find((e) => e.type === 'ip' && typeof e.address === 'string')?.address as string | undefined;
  if (!clientIp) return undefined;
  const hosts = new Map<string, string>();
  for (const m of await tx.machines.listMachines()) {
    if ((m.facts.networkInterfaces ?? []).some((n) => (n.ipAddresses ?? []).includes(clientIp))) hosts.set(m.resourceId, m.facts.hostname);
  }
  // Alerts on a machine that has the client's address, or naming the address itself.
  const keys: EntityKey[] = [...[...hosts.keys()].map((value) => ({ kind: 'asset' as const, value })), { kind: 'ip', value: clientIp }];
  const candidates = (await tx.alerts.alertsSharing(keys, sql.startTime - windowMs))
    .filter((a) => a.systemAlertId !== sql.systemAlertId && !isSqlAlert(a) && isMiningOrC2Alert(a))
    .map((alert) => ({ alert, host: hosts.get(alert.resourceId) ?? null }))
    // A breached host first, then the latest.
    .sort((x, y) => Number(y.host !== null) - Number(x.host !== null) || y.alert.endTime - x.alert.endTime);
  const best = candidates[0];
  if (!best) return undefined;
  const r = best.alert;
  const named = `"${String(r.properties.alertDisplayName ?? r.alertType)}" (${r.alertType}, ${r.systemAlertId}, ${new Date(r.startTime).toISOString()})`;
  const why = best.host
    ? `The client ${clientIp} is ${best.host}, a breached computer which communicated with a crypto-mining C&C server: related alert ${named}.`
    : `The client ${clientIp} is named by the crypto-mining / C&C alert ${named}.`;
  const description = `${String(sql.properties.description ?? '').trim()} ${why}`.trim();
  return { related: r, clientIp, host: best.host, description, key: { kind: 'asset', value: r.resourceId } };
}

import type { ArcStatus, MachineRow } from '../store/index.ts';

export interface ArcStatusConfig {
  /** Heartbeat interval asked of agents, ms. */
  heartbeatIntervalMs: number;
  /** Missed heartbeats before a machine shows Disconnected (real Arc: 5 min interval, 15–30 min). */
  missedHeartbeats: number;
  /** Silence before a machine shows Expired, ms (real Arc: 45 days). */
  expiredAfterMs: number;
}

/**
 * The status a machine's silence calls for, or undefined when it keeps its status. The sweep only
 * downgrades (Connected -> Disconnected -> Expired); only a heartbeat or a registration brings a
 * machine back to Connected. `Error` is left alone.
 */
export function statusAfterSilence(m: Pick<MachineRow, 'status' | 'lastHeartbeat'>, now: number, c: ArcStatusConfig): ArcStatus | undefined {
  if (m.status === 'Error' || m.status === 'Expired') return undefined;
  const silence = now - m.lastHeartbeat;
  if (silence >= c.expiredAfterMs) return 'Expired';
  if (m.status === 'Connected' && silence > c.missedHeartbeats * c.heartbeatIntervalMs) return 'Disconnected';
  return undefined;
}

/**
 * The heartbeat times at which statusAfterSilence starts to call for a change, for a store
 * pre-filter (`listSilentMachines`): with silence = now − lastHeartbeat, `silence >= expiredAfterMs`
 * is `lastHeartbeat <= expireFrom`, and `silence > missed × interval` is
 * `lastHeartbeat < disconnectBefore`. Exact for integer ms; statusAfterSilence still decides.
 */
export function silenceBounds(now: number, c: ArcStatusConfig): { disconnectBefore: number; expireFrom: number } {
  return { disconnectBefore: now - c.missedHeartbeats * c.heartbeatIntervalMs, expireFrom: now - c.expiredAfterMs };
}

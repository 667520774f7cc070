import { sql } from '../sql.ts';
import type { AlertChangeRow, SinksRepository } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  // The outbox row itself is written by the alerts repository, in the transaction of the change.
  startOf: sql(`SELECT start_after FROM sink_state WHERE sink = ?`),
  claimStart: sql(`INSERT INTO sink_state (sink, start_after, created_at)
                   SELECT ?, COALESCE(MAX(id), 0), ? FROM alert_outbox WHERE true
                   ON CONFLICT (sink) DO NOTHING`),
  pending: sql(`SELECT o.id, o.system_alert_id, o.change, o.status, o.at FROM alert_outbox o
                WHERE o.id > ? AND NOT EXISTS (SELECT 1 FROM sink_deliveries d WHERE d.sink = ? AND d.change_id = o.id)
                ORDER BY o.id LIMIT ?`),
  delivered: sql((d) => `INSERT INTO sink_deliveries (sink, change_id, delivered_at, attempts)
                  SELECT ?, id, ?, ? FROM ${d.jsonRows('x', { id: 'bigint' })} WHERE true ON CONFLICT DO NOTHING`),
  backlog: sql(`SELECT COUNT(*) AS n, MIN(o.at) AS oldest FROM alert_outbox o
                WHERE o.id > ? AND NOT EXISTS (SELECT 1 FROM sink_deliveries d WHERE d.sink = ? AND d.change_id = o.id)`),
};

interface ChangeCols { id: number; system_alert_id: string; change: AlertChangeRow['change']; status: AlertChangeRow['status']; at: number }
const toChange = (r: ChangeCols): AlertChangeRow => ({ id: Number(r.id), systemAlertId: r.system_alert_id, change: r.change, status: r.status, at: Number(r.at) });

export class SinksRepo extends RepositoryBase implements SinksRepository {
  async sinkStart(sink: string, now: number): Promise<number> {
    await this.ex.run(Q.claimStart, [sink, now]);
    return Number((await this.ex.get<{ start_after: number }>(Q.startOf, [sink]))!.start_after);
  }

  async pendingChanges(sink: string, startAfter: number, limit: number): Promise<AlertChangeRow[]> {
    return (await this.ex.all<ChangeCols>(Q.pending, [startAfter, sink, limit])).map(toChange);
  }

  async markDelivered(sink: string, changeIds: number[], at: number, attempts: number): Promise<void> {
    if (changeIds.length === 0) return;
    await this.ex.run(Q.delivered, [sink, at, attempts, JSON.stringify(changeIds.map((id) => ({ id })))]);
  }

  async backlog(sink: string, startAfter: number): Promise<{ pending: number; oldestAt: number | null }> {
    const r = await this.ex.get<{ n: number; oldest: number | null }>(Q.backlog, [startAfter, sink]);
    return { pending: Number(r?.n ?? 0), oldestAt: r?.oldest === null || r?.oldest === undefined ? null : Number(r.oldest) };
  }
}

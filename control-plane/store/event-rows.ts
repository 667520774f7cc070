import type { SensorEvent } from '../../protocol/index.ts';

/**
 * A batch's events as the events table stores them, one array per column, index i being the
 * batch's i-th event: what `EventsRepository.insertEventRows` writes. The ingest worker thread
 * (control-plane/ingest/decode-worker.ts) builds these off the writer's thread, so the writer only
 * binds them; `toEventRows` builds the same for events decoded on the writer's thread.
 */
export interface EventRows {
  reportIds: string[];
  tables: string[];
  /** Event time (`Timestamp`), epoch ms. */
  times: number[];
  detonationIds: Array<string | null>;
  /** The validated event as JSON text (the `data` column). */
  data: string[];
}

export function toEventRows(events: readonly SensorEvent[]): EventRows {
  const rows: EventRows = { reportIds: [], tables: [], times: [], detonationIds: [], data: [] };
  for (const e of events) {
    rows.reportIds.push(e.ReportId);
    rows.tables.push(e.Table);
    rows.times.push(Date.parse(e.Timestamp));
    rows.detonationIds.push(e.DetonationId ?? null);
    rows.data.push(JSON.stringify(e));
  }
  return rows;
}

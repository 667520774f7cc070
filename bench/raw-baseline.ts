import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machineCpu } from './machine-cpu.ts';

const MIGRATIONS = fileURLToPath(new URL('../control-plane/store/migrations/sqlite/', import.meta.url));

interface RawEvent {
  ReportId: string;
  Table: string;
  Timestamp: string;
  DetonationId?: string;
}

export interface RawResult {
  elapsedMs: number;
  /** CPU time of this process over the same span, ms. */
  cpuMs: number;
  /** CPU time other processes on the machine used over the same span, ms. */
  otherCpuMs: number;
  eventsInserted: number;
}

/**
 * The floor under the full path: the same frames (same JSON text, same batches) parsed and
 * inserted into the same `events` table, one transaction per frame, with no network, no
 * validation and no detection. Same pragmas as the real store (WAL, synchronous=NORMAL).
 * `frames` is each agent's frame list; frames are taken round-robin across agents, roughly
 * the order in which concurrent agents' batches reach the control plane.
 */
export function runRawBaseline(dbFile: string, frames: Array<{ agentId: string; frames: string[] }>): RawResult {
  const db = new Database(dbFile);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Every migration, in order: the events table exactly as the store has it now (since 014 a rowid
    // table with its (ReportId, agent) dedup index and the indexes queries read), the same insert.
    for (const file of readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort()) db.exec(readFileSync(join(MIGRATIONS, file), 'utf8'));
    const insert = db.prepare(`INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
                               VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, report_id) DO NOTHING`);
    // BEGIN IMMEDIATE, as the store's ingest transaction does.
    const insertBatch = db.transaction((agentId: string, events: RawEvent[]) => {
      const receivedAt = Date.now();
      for (const e of events) {
        insert.run(e.ReportId, agentId, e.Table, Date.parse(e.Timestamp), e.DetonationId ?? null, JSON.stringify(e), receivedAt);
      }
    }).immediate;

    const order = roundRobin(frames);
    const cpuStart = process.cpuUsage();
    const machineStart = machineCpu();
    const start = performance.now();
    for (const { agentId, frame } of order) {
      const message = JSON.parse(frame) as { events: RawEvent[] };
      insertBatch(agentId, message.events);
    }
    const elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const otherCpuMs = Math.max(0, machineCpu().busyMs - machineStart.busyMs - cpuMs);
    const { n } = db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number };
    return { elapsedMs, cpuMs, otherCpuMs, eventsInserted: n };
  } finally {
    db.close();
  }
}

function roundRobin(agents: Array<{ agentId: string; frames: string[] }>): Array<{ agentId: string; frame: string }> {
  const out: Array<{ agentId: string; frame: string }> = [];
  const longest = Math.max(...agents.map((a) => a.frames.length));
  for (let i = 0; i < longest; i++) {
    for (const a of agents) {
      const frame = a.frames[i];
      if (frame !== undefined) out.push({ agentId: a.agentId, frame });
    }
  }
  return out;
}

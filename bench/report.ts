import Database from 'better-sqlite3';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import type { FullPathResult } from './full-path.ts';
import type { RawResult } from './raw-baseline.ts';

/** One pass (one agent count): the full path and the raw baseline over the same frames. */
export interface PassResult {
  full: FullPathResult;
  raw: RawResult;
  /** With --rounds above 1: full / raw of every round of this agent count, in round order (this result is the median round). */
  roundRatios?: number[];
}

/**
 * The round whose full / raw ratio is the median (the lower middle one for an even count), with
 * every round's ratio attached. Each round is a full path and its raw baseline measured back to
 * back, so a drift of the machine's speed between rounds does not pair one round's full path with
 * another's baseline; all figures reported come from that one round.
 */
export function medianRound(rounds: PassResult[]): PassResult {
  const ratio = (r: PassResult) => { const x = rates(r); return x.full / x.raw; };
  const sorted = [...rounds].sort((a, b) => ratio(a) - ratio(b));
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, roundRatios: rounds.map(ratio) };
}

/** The machine the figures come from, one line each. */
export function machineLines(): string[] {
  const list = cpus();
  return [
    `CPU:      ${list[0]?.model.trim() ?? 'unknown'} x ${list.length}`,
    `Memory:   ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node:     ${process.version}`,
    `Platform: ${platform()} ${release()} ${arch()}`,
    `SQLite:   ${sqliteVersion()} (better-sqlite3)`,
  ];
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function rates(r: PassResult): { full: number; raw: number } {
  return {
    full: r.full.eventsSent / (r.full.fleet.elapsedMs / 1000),
    raw: r.raw.eventsInserted / (r.raw.elapsedMs / 1000),
  };
}

/** Throughput and latency, one row per agent count. */
export function throughputTable(results: PassResult[]): string {
  const rows = results.map((r) => {
    const { full, raw } = rates(r);
    const lat = r.full.fleet.latenciesMs;
    return [
      String(r.full.agents),
      String(r.full.eventsSent),
      fmtInt(full),
      fmtInt(raw),
      `${((full / raw) * 100).toFixed(1)} %`,
      `${(raw / full).toFixed(1)}x`,
      percentile(lat, 50).toFixed(1),
      percentile(lat, 99).toFixed(1),
    ];
  });
  return table(['agents', 'events', 'full ev/s', 'raw ev/s', 'full/raw', 'slower', 'ack p50 ms', 'ack p99 ms'], rows);
}

/**
 * CPU cost per event and how busy each side was. `CP CPU` counts every thread of the control
 * plane; `main thread CPU` is its main thread's alone (Linux), what bounds throughput once the
 * ingest workers take decoding and matching; `workers busy` their event loops' active time. CPU shares are of one core. `other CPU` is
 * what the rest of the machine used meanwhile: when it is high, events/s is not to be trusted,
 * while CPU per event moves much less.
 */
export function costTable(results: PassResult[]): string {
  const rows = results.map((r) => {
    const elapsed = r.full.fleet.elapsedMs;
    const finish = r.full.fleet.agentFinishMs;
    return [
      String(r.full.agents),
      ((r.full.serverCpuMs * 1000) / r.full.eventsSent).toFixed(1),
      ((r.full.serverMainMs * 1000) / r.full.eventsSent).toFixed(1),
      ((r.full.serverWorkersMs * 1000) / r.full.eventsSent).toFixed(1),
      ((r.raw.cpuMs * 1000) / r.raw.eventsInserted).toFixed(1),
      `${((r.full.serverCpuMs / elapsed) * 100).toFixed(0)} %`,
      `${(r.full.serverLoopBusy * 100).toFixed(0)} %`,
      `${((r.full.fleet.cpuMs / elapsed) * 100).toFixed(0)} %`,
      `${((r.full.otherCpuMs / elapsed) * 100).toFixed(0)} % / ${((r.raw.otherCpuMs / r.raw.elapsedMs) * 100).toFixed(0)} %`,
      `${(Math.min(...finish) / 1000).toFixed(1)}..${(Math.max(...finish) / 1000).toFixed(1)}`,
    ];
  });
  return table(['agents', 'CP CPU us/ev', 'main thread CPU us/ev', 'workers busy us/ev', 'raw CPU us/ev', 'CP CPU', 'CP loop busy', 'fleet CPU', 'other CPU full/raw', 'agents done (s)'], rows);
}

/** What was sent against what was acked, stored and detected, one row per agent count. */
export function verificationTable(results: PassResult[]): string {
  const rows = results.map((r) => [
    String(r.full.agents),
    String(r.full.eventsSent),
    String(r.full.fleet.storedAcked),
    String(r.full.eventsStored),
    String(r.raw.eventsInserted),
    String(r.full.fleet.errors.length),
    String(r.full.alertRows),
    `${r.full.alertOccurrences} / ${r.full.expectedDetections}`,
  ]);
  return table(['agents', 'sent', 'acked as stored', 'in store', 'in raw table', 'errors', 'alerts', 'detections / expected'], rows);
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A plain text table: header, rule, right-aligned cells. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

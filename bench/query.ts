/**
 * KQL benchmark (issue 14): `npm run bench:query [-- --events N]` (or BENCH_QUERY_EVENTS).
 *
 * Fills a fresh SQLite store with N DeviceProcessEvents (default 1,000,000) spread evenly over 30
 * days and 50 devices, one command line in 20 running PowerShell, then times the issue's query
 *
 *   DeviceProcessEvents | where Timestamp > ago(1d) | where ProcessCommandLine has "powershell"
 *   | summarize count() by DeviceName
 *
 * through the same path the API takes (queryStore: parse, pushdown into SQL, evaluate), five
 * times, and the same without the time filter (the whole table) for contrast. The bound is 1 s
 * for the first (median); the run exits 1 when it is missed or a count is wrong. The parser's
 * one-time load (first query of a process) is timed apart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../control-plane/index.ts';
import { parseKql, queryStore } from '../control-plane/query/index.ts';
import type { SensorEvent } from '../protocol/index.ts';

const argIndex = process.argv.indexOf('--events');
const EVENTS = Number(argIndex > 0 ? process.argv[argIndex + 1] : process.env.BENCH_QUERY_EVENTS ?? 1_000_000);
const DEVICES = 50;
const DAYS = 30;
const BOUND_MS = 1000;
const NOW = Date.parse('2026-03-01T00:00:00Z');

function event(i: number): SensorEvent {
  const t = NOW - Math.floor((i / EVENTS) * DAYS * 86_400_000) - 1;
  const device = i % DEVICES;
  const ps = i % 20 === 0;
  const hex = (t + 1e12).toString(16).padStart(12, '0').slice(-12);
  const id = `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-${i.toString(16).padStart(12, '0')}`;
  return {
    Table: 'DeviceProcessEvents', Timestamp: new Date(t).toISOString(), DeviceId: `agent-${device}`, DeviceName: `host-${device}`, ReportId: id,
    ActionType: 'ProcessCreated', FileName: ps ? 'powershell.exe' : 'svchost.exe',
    ProcessCommandLine: ps ? `powershell.exe -NoProfile -c Get-Item C:\\temp\\${i}` : `svchost.exe -k netsvcs -p -s Schedule${i}`,
    InitiatingProcessFileName: 'services.exe', AccountName: 'system',
  } as SensorEvent;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-query-bench-'));
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  try {
    console.log(`arcsim KQL benchmark: ${EVENTS.toLocaleString('en')} DeviceProcessEvents over ${DAYS} days, ${DEVICES} devices (SQLite)`);
    console.log(`  CPUs: ${cpus().length} x ${cpus()[0]?.model ?? '?'}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const t0 = performance.now();
    const batch = 10_000;
    for (let i = 0; i < EVENTS; i += batch) {
      const events = Array.from({ length: Math.min(batch, EVENTS - i) }, (_, j) => event(i + j));
      const byAgent = new Map<string, SensorEvent[]>();
      for (const e of events) { const l = byAgent.get(e.DeviceId); if (l) l.push(e); else byAgent.set(e.DeviceId, [e]); }
      await store.transaction(async (tx) => { for (const [agent, list] of byAgent) await tx.events.insertEvents(agent, list, NOW); });
    }
    console.log(`  filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const deps = { store, baseUrl: () => 'http://bench', now: () => new Date(NOW) };
    // By construction: events i with i % 20 == 0 within the last day; i runs over the newest 1/30 of the indices.
    const lastDay = Array.from({ length: EVENTS }, (_, i) => i).filter((i) => NOW - Math.floor((i / EVENTS) * DAYS * 86_400_000) - 1 > NOW - 86_400_000 && i % 20 === 0).length;
    const failures: string[] = [];
    // The parser (Kusto.Language, 4 MB of JavaScript) loads on the first query of a process: timed apart.
    const cold = performance.now();
    parseKql('print 1');
    console.log(`  parser load (once per process): ${(performance.now() - cold).toFixed(0)} ms`);
    for (const [label, q, expected, bound] of [
      ['last day', 'DeviceProcessEvents | where Timestamp > ago(1d) | where ProcessCommandLine has "powershell" | summarize count() by DeviceName', lastDay, BOUND_MS],
      ['whole table', 'DeviceProcessEvents | where ProcessCommandLine has "powershell" | summarize count() by DeviceName', Math.ceil(EVENTS / 20), undefined],
    ] as const) {
      const times: number[] = [];
      let total = 0;
      for (let k = 0; k < 5; k++) {
        const s = performance.now();
        const r = await queryStore(q, deps);
        times.push(performance.now() - s);
        total = r.rows.reduce((n, row) => n + Number(row.count_), 0);
      }
      times.sort((a, b) => a - b);
      const median = times[2]!;
      console.log(`  ${label.padEnd(12)} median ${median.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)}), counted ${total}${bound ? `; bound ${bound} ms` : ''}`);
      if (total !== expected) failures.push(`${label}: counted ${total}, expected ${expected}`);
      if (bound !== undefined && median > bound) failures.push(`${label}: median ${median.toFixed(0)} ms over the ${bound} ms bound`);
    }
    console.log(`  load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (failures.length) { console.log(`FAIL\n  ${failures.join('\n  ')}`); process.exitCode = 1; } else console.log('PASS');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * Ingest benchmark: `npm run bench [-- options]`. Loopback only (127.0.0.1).
 *
 * For each agent count K it measures, over the same pre-encoded frames:
 *   - full path: K agents (a separate process, raw `ws` clients) stream `events` frames over
 *     WebSocket through the real control plane (validate -> persist -> detect -> ack) backed by
 *     a fresh SQLite store; events/s and per-batch ack latency p50/p99;
 *   - raw baseline: the same frames JSON.parse'd and inserted into the same `events` table,
 *     one transaction per frame, no network, no validation, no detection.
 * Then it checks that every event sent is stored, and counts the alerts raised.
 *
 * Options (flag, or environment variable; flags win):
 *   --agents 1,4,16   BENCH_AGENTS   agent counts to measure, one pass each
 *   --events 50000    BENCH_EVENTS   events per pass, split evenly over its agents
 *   --batch 100       BENCH_BATCH    events per frame (at most 1000, the protocol limit)
 *   --window 8        BENCH_WINDOW   frames each agent keeps in flight
 *   --warmup 4000     BENCH_WARMUP   events of an untimed 1-agent pass run first; 0 skips it
 *   --rounds 5        BENCH_ROUNDS   rounds of each throughput pass; the median full/raw round is reported
 *   --rate 10000      BENCH_RATE     events/s of the paced detection-latency pass (1 agent); 0 skips it
 *   --footprint 60    BENCH_FOOTPRINT seconds of the agent idle-footprint measurement; 0 skips it
 *   --noisy 16        BENCH_NOISY    quiet agents of the noisy-neighbour pass (bench/noisy.ts); 0 skips it
 *   --all             BENCH_ALL=1    every pass in one invocation (the above, then the reconnect storm, the
 *                                     connections and replicas passes, the portal pass)
 *   --json FILE       BENCH_JSON     also write the figures as JSON (bench/json-report.ts)
 *   --storm           BENCH_STORM=1   only the reconnect storm (bench/storm.ts): --storm-agents 1000
 *                                     agents reconnecting at once, --storm-stored 2500 machines stored
 *   --rules DIR...    BENCH_RULES     only detection at scale (bench/detect-speed.ts): shipped rules vs
 *                                     shipped + DIR's, offline and live; --atomics DIR, --json FILE
 *   --portal          BENCH_PORTAL=1  only the portal page-time pass (bench/portal.ts, issue 15): --portal-alerts
 *                                     10000 alerts and --portal-events 1000000 events stored, every page's server
 *                                     time (p50/max, bound 300 ms); --all runs it after the others
 * e.g. `npm run bench -- --agents 4 --events 100000`.
 *
 * Exits 1 if an event is lost (stored != sent) or any frame gets an `error` reply; 2 on bad options.
 * Everything lives in a temp dir under os.tmpdir(), removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOptions, USAGE, type BenchOptions } from './options.ts';
import { runFullPath } from './full-path.ts';
import { runRawBaseline } from './raw-baseline.ts';
import { idleShare } from './machine-cpu.ts';
import { costTable, machineLines, medianRound, percentile, rates, throughputTable, verificationTable, type PassResult } from './report.ts';
import { measureAgentFootprint } from './agent-footprint.ts';
import { formatStorm, runStorm } from './storm.ts';
import { formatDetectSpeed, runDetectSpeed } from './detect-speed.ts';
import { writeFileSync } from 'node:fs';
import { connectionsOk, formatConnections, runConnections } from './connections.ts';
import { formatReplicas, replicasOk, runReplicas, summarize } from './replicas.ts';
import { goalLines, passJson, type BenchJson } from './json-report.ts';
import { runNoisy } from './noisy.ts';
import { formatPortal, runPortalBench } from './portal.ts';

/** One agent count: full path, then the raw baseline over the frames the agents sent. */
async function runPass(dir: string, options: BenchOptions, agents: number, events: number, runId: string): Promise<PassResult> {
  const full = await runFullPath({ dbFile: join(dir, `full-${runId}.db`), agents, events, batch: options.batch, window: options.window, runId, ingestWorkers: options.ingestWorkers });
  const raw = runRawBaseline(join(dir, `raw-${runId}.db`), full.workload);
  // Nothing of a round outlives it: the control plane of the next round runs in this process, and a
  // heap holding every earlier round's frames (~30 MB each) made its garbage collection dearer
  // round after round (the heap grew to 300-560 MB over ten rounds); its database files go too.
  for (const f of readdirSync(dir)) if (f.startsWith(`full-${runId}.db`) || f.startsWith(`raw-${runId}.db`)) rmSync(join(dir, f), { force: true });
  return { full: { ...full, workload: [] }, raw };
}

/** Problems that make the run fail: lost events and error replies. */
function failures(r: PassResult): string[] {
  const out: string[] = [];
  const { agents, eventsSent, eventsStored, fleet } = r.full;
  if (eventsStored !== eventsSent) out.push(`${agents} agent(s): ${eventsSent} events sent, ${eventsStored} in the store`);
  if (fleet.storedAcked !== eventsSent) out.push(`${agents} agent(s): acks report ${fleet.storedAcked} stored of ${eventsSent} sent`);
  if (r.raw.eventsInserted !== eventsSent) out.push(`${agents} agent(s): raw baseline inserted ${r.raw.eventsInserted} of ${eventsSent}`);
  for (const e of fleet.errors) out.push(`${agents} agent(s): ${e}`);
  return out;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  let options: BenchOptions;
  try {
    options = readOptions(process.argv.slice(2), process.env);
  } catch (err) {
    // A usage mistake: the message says what to fix; a stack trace would only hide it.
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  console.log('arcsim ingest benchmark (loopback, SQLite store)');
  for (const line of machineLines()) console.log(`  ${line}`);
  const idle = await idleShare(1000);
  console.log(`  Idle:     ${(idle * 100).toFixed(0)} % of all CPUs over the second before start`);
  if (idle < 0.8) console.log('  warning: the machine is busy; events/s will be low and noisy (CPU us/event is steadier)');
  if (options.storm) {
    if (!(await stormPass(options))) process.exitCode = 1;
    return;
  }
  if (options.portal) {
    const r = await portalPass(options);
    if (options.json) writeFileSync(options.json, JSON.stringify({ portal: r.json, machine: machineLines(), idleBefore: idle, loadAfter: loadavg() }, null, 2) + '\n');
    if (!r.ok) process.exitCode = 1;
    return;
  }
  if (options.connections > 0 || options.replicas.length > 0) {
    // Issue 16 goals 4 and 5 alone (--all runs them after the other passes).
    const r = await scalePasses(options.connections, options.replicas, options);
    if (!r.ok) process.exitCode = 1;
    if (options.json) writeFileSync(options.json, JSON.stringify(r.json, null, 2) + '\n');
    return;
  }
  if (options.rules.length > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'arcsim-detect-'));
    try {
      console.log(`  Options:  rules ${options.rules.join(' ')}, ${options.events} offline events${options.atomics ? ` (Atomic tests of ${options.atomics})` : ''}, live ${options.events} events (1 agent, batch ${options.batch}, window ${options.window})\n`);
      const r = await runDetectSpeed({
        rulesDirs: options.rules, atomicsDir: options.atomics, events: options.events, liveEvents: options.events,
        batch: options.batch, window: options.window, dir, log: (l) => console.log(`  ${l}`),
      });
      console.log('');
      console.log(formatDetectSpeed(r));
      console.log(`  load average (1/5/15 min) after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      if (options.json) writeFileSync(options.json, JSON.stringify({ ...r, machine: machineLines(), idleBefore: idle, loadAfter: loadavg() }, null, 2) + '\n');
      const lost = [r.live.shipped, r.live.all].filter((f) => f.stored !== f.events || f.errors.length);
      if (lost.length) {
        console.error(`FAILED: live pass lost events or got errors: ${lost.map((f) => `${f.stored}/${f.events} stored, ${f.errors.join('; ')}`).join(' | ')}`);
        process.exitCode = 1;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  console.log(`  Options:  agents ${options.agents.join(',')}, ${options.events} events per pass, batch ${options.batch}, window ${options.window}, warm-up ${options.warmup}, rounds ${options.rounds}, rate ${options.rate}, noisy ${options.noisy}, footprint ${options.footprint} s${options.all ? ', all passes' : ''}`);
  const json: BenchJson = { machine: machineLines(), idleBefore: idle, loadAfter: [] };
  console.log('');

  const dir = mkdtempSync(join(tmpdir(), 'arcsim-bench-'));
  try {
    if (options.warmup > 0) {
      const warm = await runPass(dir, options, 1, options.warmup, 'warmup');
      console.log(`warm-up: ${warm.full.eventsSent} events, 1 agent (not reported)`);
    }
    const results: PassResult[] = [];
    const roundProblems: string[] = [];
    for (const k of options.agents) {
      const rounds: PassResult[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const r = await runPass(dir, options, k, options.events, `k${k}r${round}`);
        const { full, raw } = rates(r);
        const of = options.rounds > 1 ? `, round ${round + 1}/${options.rounds}` : '';
        console.log(`${String(k).padStart(3)} agent(s)${of}: full path ${Math.round(full)} ev/s, raw baseline ${Math.round(raw)} ev/s (${(100 * full / raw).toFixed(1)} %)`);
        rounds.push(r);
        // A round that lost events or got errors fails the run, whatever its ratio.
        roundProblems.push(...failures(r).map((f) => (options.rounds > 1 ? `round ${round + 1}: ${f}` : f)));
      }
      results.push(medianRound(rounds));
    }

    console.log(`\nThroughput (events/s) and batch ack latency (send -> ack)${options.rounds > 1 ? `: of each agent count, the round with the median full/raw ratio of ${options.rounds}` : ''}`);
    console.log(throughputTable(results));
    if (options.rounds > 1) for (const r of results) console.log(`  ${r.full.agents} agent(s), full/raw of each round: ${r.roundRatios!.map((x) => `${(100 * x).toFixed(1)} %`).join(', ')}`);
    console.log('\nCost per event (CPU time of the control-plane process, and of the raw baseline)');
    console.log(costTable(results));
    console.log('\nVerification');
    console.log(verificationTable(results));
    json.passes = results.map(passJson);

    const notes = results
      .filter((r) => r.full.alertOccurrences !== r.full.expectedDetections)
      .map((r) => `note: ${r.full.agents} agent(s): ${r.full.alertOccurrences} detections, ${r.full.expectedDetections} expected (see docs/performance.md)`);
    if (notes.length > 0) console.log(`\n${notes.join('\n')}`);

    const extra: string[] = [];
    if (options.rate > 0) {
      // Paced below saturation: how long until an event's alert is readable. The control plane
      // acks a batch only after the transaction that stored it, ran detection and upserted its
      // alerts has committed, so send -> ack bounds "event sent -> alert readable through the API".
      const events = Math.max(options.batch, Math.min(options.events, options.rate * 5));
      const paced = await runFullPath({ dbFile: join(dir, 'paced.db'), agents: 1, events, batch: options.batch, window: options.window, runId: 'paced', rate: options.rate, ingestWorkers: options.ingestWorkers });
      const lat = paced.fleet.latenciesMs;
      const achieved = paced.eventsSent / (paced.fleet.elapsedMs / 1000);
      const p99 = percentile(lat, 99);
      console.log(`\nDetection latency at ${options.rate.toLocaleString('en-US')} events/s (1 agent, paced; achieved ${Math.round(achieved).toLocaleString('en-US')} ev/s, ${paced.eventsSent} events, ${paced.alertOccurrences} detections)`);
      console.log(`  event sent -> alert committed and acked: p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (target: p99 <= 50 ms) ${p99 <= 50 ? 'met' : 'NOT met'}`);
      json.latency = {
        rateEps: options.rate, achievedEps: Math.round(achieved), p50Ms: round1(percentile(lat, 50)), p99Ms: round1(p99),
        events: paced.eventsSent, lost: paced.eventsSent - paced.eventsStored,
      };
      if (paced.eventsStored !== paced.eventsSent) extra.push(`paced pass: ${paced.eventsSent} events sent, ${paced.eventsStored} in the store`);
      for (const e of paced.fleet.errors) extra.push(`paced pass: ${e}`);
    }

    if (options.noisy > 0) {
      const quietRateEps = 100;
      const seconds = 10;
      console.log(`\nNoisy neighbour (${options.noisy} quiet agents at ${quietRateEps} events/s each for ${seconds} s, shipped rate limits; then beside one agent at its limit)`);
      const n = await runNoisy({ dir, quiet: options.noisy, quietRateEps, seconds, batch: options.batch, window: options.window });
      console.log(`  quiet agents' ack p99: alone ${n.quietAloneP99Ms.toFixed(1)} ms, beside an agent at ${n.noisyRateEps} events/s ${n.quietWithNoisyP99Ms.toFixed(1)} ms: ${n.factor.toFixed(2)}x (target: <= 2x) ${n.factor <= 2 ? 'met' : 'NOT met'}`);
      const { problems, ...noisy } = n;
      json.noisy = noisy;
      extra.push(...problems);
    }

    if (options.footprint > 0) {
      console.log(`\nAgent idle footprint (${options.footprint} s of heartbeats every 5 s; the service entry as systemd runs it)`);
      const fp = await measureAgentFootprint({ durationMs: options.footprint * 1000, heartbeatIntervalSec: 5, log: () => {} });
      console.log(`  RSS median ${fp.rssMedianMB.toFixed(1)} MB, max ${fp.rssMaxMB.toFixed(1)} MB; CPU ${fp.cpuMs.toFixed(0)} ms (${fp.cpuPercent.toFixed(2)} % of a core); ${fp.heartbeats} heartbeats; target < ${fp.targetRssMB} MB: ${fp.withinTarget ? 'met' : 'NOT met'}`);
    }

    // --all: then the reconnect storm, 10,000 agents on one control plane, 1 and 2 replicas on PostgreSQL, the portal pages.
    if (options.all) {
      console.log('');
      if (!(await stormPass(options))) extra.push('reconnect storm outside its bounds');
      const scale = await scalePasses(options.connections || 10_000, options.replicas.length ? options.replicas : [1, 2], options, { freshProcess: true });
      if (scale.json.connections) json.connections = scale.json.connections;
      if (scale.json.replicas) json.replicas = scale.json.replicas;
      if (!scale.ok) extra.push('connections or replicas pass outside its bounds');
      console.log('');
      const portal = await portalPass(options);
      json.portal = portal.json;
      if (!portal.ok) extra.push(`portal pages over the bound: ${portal.failures.join('; ')}`);
    }

    console.log('\nGoals (issue 16; figures from a shared machine are only indicative, see docs/performance.md)');
    for (const line of goalLines(json)) console.log(`  ${line}`);

    json.loadAfter = loadavg();
    if (options.json) {
      // The pass sections first, then the machine (JSON keeps insertion order).
      const { machine, idleBefore, loadAfter, ...sections } = json;
      writeFileSync(options.json, JSON.stringify({ ...sections, machine, idleBefore, loadAfter }, null, 2) + '\n');
      console.log(`\nwrote ${options.json}`);
    }

    const problems = [...roundProblems, ...extra];
    if (problems.length > 0) {
      console.error(`\nFAILED: ${problems.length} problem(s)`);
      for (const p of problems.slice(0, 20)) console.error(`  ${p}`);
      process.exitCode = 1;
    } else {
      console.log('\nOK: every event sent was acked and stored; no error replies.');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The connections pass (`agents` > 0) and the replicas passes (one per count) in a temp dir; their JSON sections and whether both held. */
async function scalePasses(agents: number, replicas: number[], options: BenchOptions, how: { freshProcess?: boolean } = {}): Promise<{ ok: boolean; json: Pick<BenchJson, 'connections' | 'replicas'> }> {
  const json: Pick<BenchJson, 'connections' | 'replicas'> = {};
  let ok = true;
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-scale-'));
  try {
    if (agents > 0 && how.freshProcess) {
      // Under --all this process has hosted the earlier passes' control planes: its RSS (memory they
      // grew and was not given back) is theirs too, so the connections pass runs in a process of its own, as
      // `npm run bench -- --connections N` does, and its JSON section is read back.
      const file = join(dir, 'connections.json');
      const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--connections', String(agents),
        '--connections-seconds', String(options.connectionsSeconds), '--connections-batch', String(options.connectionsBatch), '--json', file];
      console.log('\n  the connections pass in a fresh process (this one hosted the earlier passes)');
      const code = await new Promise<number | null>((resolve) => spawn(process.execPath, args, { stdio: 'inherit' }).on('exit', (c) => resolve(c)));
      let section: BenchJson['connections'];
      try { section = (JSON.parse(readFileSync(file, 'utf8')) as BenchJson).connections; } catch { section = undefined; }
      if (section) json.connections = section;
      ok &&= code === 0 && !!section;
    } else if (agents > 0) {
      console.log(`\n  load average before the connections pass: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      const r = await runConnections({ agents, seconds: options.connectionsSeconds, batchEvents: options.connectionsBatch, dir, log: (l) => console.log(`  ${l}`) });
      console.log('');
      console.log(formatConnections(r));
      console.log(`  load average (1/5/15 min) after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      const held = connectionsOk(r);
      console.log(held ? '  within the bounds (all registered <= 60 s, RSS <= 512 MB, 0 events lost)' : '  OUTSIDE the bounds (all registered <= 60 s, RSS <= 512 MB, 0 events lost)');
      ok &&= held;
      json.connections = { agents: r.agents, connectSeconds: round(r.connectSeconds, 2), rssMb: round(r.rssMb, 1), lost: r.lost };
    }
    if (replicas.length > 0) {
      console.log(`\n  load average before the replicas passes: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      const r = await runReplicas({ replicas, events: options.replicaEvents, warmup: options.replicaWarmup, rounds: options.replicaRounds, batch: options.batch, window: options.window, pgStatements: options.pgStatements, dir, log: (l) => console.log(`  ${l}`) });
      console.log('');
      console.log(formatReplicas(r));
      console.log(`  load average (1/5/15 min) after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      ok &&= replicasOk(r);
      json.replicas = summarize(r).map((m) => ({ replicas: m.replicas, eventsPerSec: Math.round(m.eventsPerSec), duplicates: m.duplicates, roundsEventsPerSec: m.roundsEventsPerSec.map(Math.round) }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ok, json };
}

function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}

/** The portal page-time pass (issue 15) in its own temp dir: its JSON section and whether every page held the bound. */
async function portalPass(options: BenchOptions): Promise<{ ok: boolean; json: NonNullable<BenchJson['portal']>; failures: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-portal-'));
  try {
    console.log(`Portal page time (${options.portalAlerts} alerts, ${options.portalEvents} events, ${options.portalMachines} machines, ${options.portalRequests} timed requests per page); load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    const r = await runPortalBench({
      alerts: options.portalAlerts, events: options.portalEvents, machines: options.portalMachines, requests: options.portalRequests, dir, log: (l) => console.log(`  ${l}`),
    });
    console.log('');
    console.log(formatPortal(r));
    for (const f of r.failures) console.log(`  OVER: ${f}`);
    return { ok: r.failures.length === 0, json: r.pages.map((p) => ({ path: p.path, p50Ms: p.p50Ms, maxMs: p.maxMs, cpuP50Ms: p.cpuP50Ms, cpuMaxMs: p.cpuMaxMs })), failures: r.failures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The reconnect storm (issue 12) in its own temp dir; false when outside its bounds. */
async function stormPass(options: BenchOptions): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-storm-'));
  try {
    console.log(`Reconnect storm (${options.stormAgents} agents, ${options.stormStored} machines stored)`);
    const r = await runStorm({ stored: options.stormStored, agents: options.stormAgents, probeIntervalMs: 20, deadlineMs: 60_000, dir, log: (l) => console.log(`  ${l}`) });
    console.log('');
    console.log(formatStorm(r));
    console.log(`  load average (1/5/15 min) after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    // The issue's bounds: all registered within 30 s, /api/health p99 <= 200 ms.
    const ok = r.registered === r.agents && r.allRegisteredMs <= 30_000 && r.health.p99Ms <= 200 && r.health.failed === 0;
    console.log(ok ? '  within the bounds (all registered <= 30 s, health p99 <= 200 ms)' : '  OUTSIDE the bounds (all registered <= 30 s, health p99 <= 200 ms)');
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});

import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import WebSocket from 'ws';
import { systemClock } from '../lib/clock.ts';
import { findPostgresBin, startCluster, type TestPostgres } from '../lib/postgres-cluster.ts';
import { openPostgresStore } from '../control-plane/index.ts';
import { createEnrollmentToken, enrollAgent } from '../control-plane/auth/enrollment.ts';
import { BASE_TIME, buildWorkload, ROUND_MS, type AgentWorkload } from './workload.ts';
import { runFleet, type FleetAgentPlan } from './fleet-messages.ts';
import type { FromReplica, ToReplica } from './replica-process.ts';
import { machineCpu } from './machine-cpu.ts';
import { processCpuMs, processTreeCpuMs } from './process-cpu.ts';
import { percentile } from './storm.ts';

const REPLICA_ENTRY = join(import.meta.dirname, 'replica-process.ts');

/** Sizes and bounds of the scale-out pass; units beside each number. */
export const REPLICAS = {
  /** Agents, the same set in every pass; agent i connects to replica i mod N. */
  agents: 16,
  /** 2 replicas' events/s over 1 replica's, at least (issue 16, goal 5), ratio. */
  minSpeedup: 1.4,
  /** Frames each agent resends to another replica after the pass (a failover redelivery), count. */
  redelivered: 3,
} as const;

export interface ReplicasOptions {
  replicas: number[]; events: number; batch: number; window: number; dir: string; log?: (line: string) => void;
  /**
   * Events each replica takes before the timed phase, from 16 agents of their own (0: none). A
   * replica is a fresh process: without it the timed phase also pays its JIT compilation and its
   * pool's first connections, once per replica, so N replicas would pay N times over the same events.
   */
  warmup?: number;
  /**
   * Rounds of passes (default 1): each round runs every count once, every other round in reverse
   * order, and the figures compared are each count's median over the rounds. On a VM whose speed
   * drifts between passes a minute apart, one pass per count measures the drift as much as the replicas.
   */
  rounds?: number;
  /** Tally the statements of each pass with pg_stat_statements and log the costliest (a profile of PostgreSQL's work). */
  pgStatements?: boolean;
}

/** Statements printed per pass by --pg-statements, count. */
const TOP_STATEMENTS = 15;

export interface ReplicaPass {
  replicas: number;
  /** Which round this pass belongs to, from 0. */
  round: number;
  agents: number;
  eventsSent: number;
  eventsStored: number;
  storedAcked: number;
  eventsPerSec: number;
  ackP50Ms: number;
  ackP99Ms: number;
  alertRows: number;
  alertOccurrences: number;
  expectedDetections: number;
  /** Alert rows sharing a dedup key, plus occurrences over what the events raise, plus events stored twice; 0 when dedup is exact. */
  duplicates: number;
  /** Events a replica stored again when another replica's batches were resent to it (failover); must be 0. */
  redeliveredStored: number;
  /** CPU per event during the timed phase, µs: all replicas together, the busiest replica, PostgreSQL (postmaster and backends), the agent fleet, everything else. */
  replicaCpuUsPerEvent: number;
  busiestReplicaCpuShare: number;
  postgresCpuUsPerEvent: number;
  fleetCpuUsPerEvent: number;
  otherCpuUsPerEvent: number;
  errors: string[];
}

export interface ReplicasResult {
  /** Every pass, in the order run. */
  passes: ReplicaPass[];
  postgres: string;
  /** Untimed events per replica before each pass. */
  warmup: number;
  /** The counts, in the order asked for. */
  counts: number[];
  rounds: number;
}

/** One replica count over all rounds: the median pass figures, and every round's events/s. */
export interface ReplicaSummary {
  replicas: number;
  eventsPerSec: number;
  replicaCpuUsPerEvent: number;
  postgresCpuUsPerEvent: number;
  /** Summed over the rounds (0 when dedup is exact in every pass). */
  duplicates: number;
  /** Events/s of each round's pass, in round order. */
  roundsEventsPerSec: number[];
}

/**
 * Issue 16, goal 5: for each N, N control-plane processes (bench/replica-process.ts) on one fresh
 * database of a PostgreSQL cluster started here (as the tests start one), behind the same 16 agents
 * (agent i on replica i mod N), streaming the ingest workload of the throughput passes. Counts
 * duplicates (alerts, occurrences, events) and resends some batches of each agent to another
 * replica, as after a failover: nothing may be stored or counted twice.
 */
export async function runReplicas(o: ReplicasOptions): Promise<ReplicasResult> {
  const log = o.log ?? (() => {});
  const bin = findPostgresBin();
  if (!bin) throw new Error('--store postgres: PostgreSQL binaries (initdb, pg_ctl) not found (ARCSIM_PG_BIN, PATH, /usr/lib/postgresql/*/bin)');
  // Durability off as in the tests (a throwaway cluster); enough connections for every replica's pool.
  const tally = ['-c shared_preload_libraries=pg_stat_statements', '-c pg_stat_statements.track=all', '-c pg_stat_statements.track_planning=on'];
  const cluster = await startCluster(bin, { serverOptions: ['-c max_connections=200', ...(o.pgStatements ? tally : [])] });
  log(`PostgreSQL cluster from ${bin} started (fsync off, as the tests run it)`);
  try {
    const passes: ReplicaPass[] = [];
    const rounds = o.rounds ?? 1;
    for (let round = 0; round < rounds; round++) {
      // 1,2 then 2,1: a drift of the machine's speed over the rounds weighs on every count alike.
      for (const n of round % 2 === 0 ? o.replicas : [...o.replicas].reverse()) {
        const p = await onePass(cluster, n, round, o);
        log(`round ${round + 1}/${rounds}, ${n} replica(s): ${Math.round(p.eventsPerSec)} ev/s, duplicates ${p.duplicates}`);
        passes.push(p);
      }
    }
    return { passes, postgres: bin, warmup: o.warmup ?? 0, counts: o.replicas, rounds };
  } finally {
    await cluster.stop();
  }
}

async function onePass(cluster: TestPostgres, n: number, round: number, o: ReplicasOptions): Promise<ReplicaPass> {
  const db = await cluster.createDatabase(`bench_replicas_${n}_${round}_${Date.now()}`);
  const store = await openPostgresStore({ connectionString: db }); // migrates once, before the replicas start
  const replicas: ChildProcess[] = [];
  try {
    const token = await createEnrollmentToken(store, { subscription: 'bench', resourceGroup: 'bench' }, systemClock);
    const enroll = async (prefix: string) => {
      const identities: Array<{ agentId: string; agentKey: string; hostname: string }> = [];
      for (let i = 0; i < REPLICAS.agents; i++) {
        const hostname = `${prefix}-${String(i).padStart(2, '0')}`;
        const e = await enrollAgent(store, token.token, hostname, systemClock);
        identities.push({ agentId: e.agentId, agentKey: e.agentKey, hostname });
      }
      return identities;
    };
    const identities = await enroll(`bench-r${n}`);
    const urls = await Promise.all(Array.from({ length: n }, () => startReplica(db, replicas)));
    const wsUrls = urls.map((u) => `${u.replace(/^http/, 'ws')}/agent/v1`);
    const toPlans = (workload: AgentWorkload[], keys: Array<{ agentKey: string }>): FleetAgentPlan[] =>
      workload.map((w, i) => ({ ...w, agentKey: keys[i]!.agentKey, wsUrl: wsUrls[i % n]! }));
    const errors: string[] = [];

    // Untimed warm-up: every replica takes `warmup` events from agents of its own, whose event
    // times all lie before the timed workload's (so no correlation window or watermark is shared).
    const warmEvents = (o.warmup ?? 0) * n;
    if (warmEvents > 0) {
      const warmIds = await enroll(`bench-w${n}`);
      const perAgent = Math.ceil(warmEvents / REPLICAS.agents);
      const warm = buildWorkload(warmIds, warmEvents, o.batch, `w${n}`, BASE_TIME - (perAgent + 2) * ROUND_MS);
      const result = await runFleet({ wsUrl: wsUrls[0]!, window: o.window, rate: 0, agents: toPlans(warm, warmIds) });
      const sent = warm.reduce((s, w) => s + w.events, 0);
      errors.push(...result.errors.map((e) => `warm-up: ${e}`));
      if (result.storedAcked !== sent) errors.push(`${n} replica(s), warm-up: acks report ${result.storedAcked} stored of ${sent} sent`);
    }
    // The timed phase counts from here: what the warm-up stored is subtracted below.
    const eventsBefore = await store.events.countEvents();
    const occurrencesBefore = (await store.alerts.listAlerts()).reduce((s, a) => s + a.count, 0);

    const workload = buildWorkload(identities, o.events, o.batch, `r${n}`);
    const plans = toPlans(workload, identities);
    const cpu = () => ({ replicas: replicas.map((r) => processCpuMs(r.pid!)), pg: processTreeCpuMs(cluster.pid()!), machine: machineCpu().busyMs, self: process.cpuUsage() });
    let cpu0 = cpu();
    let cpu1 = cpu0;
    const fleet = await runFleet({ wsUrl: wsUrls[0]!, window: o.window, rate: 0, agents: plans }, {
      beforeGo: async () => {
        if (o.pgStatements) await statements(db, 'reset');
        cpu0 = cpu();
      },
      afterDone: () => { cpu1 = cpu(); },
    });

    const eventsSent = workload.reduce((s, w) => s + w.events, 0);
    if (o.pgStatements) for (const line of await statements(db, 'report', eventsSent)) (o.log ?? (() => {}))(`${n} replica(s), PostgreSQL: ${line}`);
    const expectedDetections = workload.reduce((s, w) => s + w.expectedDetections, 0);
    // Failover redelivery: each agent resends its first frames to the next replica; all are duplicates.
    const redeliveredStored = await redeliver(plans, wsUrls, n);
    const eventsStored = (await store.events.countEvents()) - eventsBefore;
    const alerts = await store.alerts.listAlerts();
    const keys = new Set(alerts.map((a) => a.dedupKey));
    const alertOccurrences = alerts.reduce((s, a) => s + a.count, 0) - occurrencesBefore;
    const duplicates = (alerts.length - keys.size) + Math.max(0, alertOccurrences - expectedDetections) + Math.max(0, eventsStored - eventsSent) + redeliveredStored;

    const perEvent = (ms: number) => (ms * 1000) / eventsSent;
    const replicaMs = cpu1.replicas.map((c, i) => c - cpu0.replicas[i]!);
    const replicaTotal = replicaMs.reduce((s, c) => s + c, 0);
    const pgMs = cpu1.pg - cpu0.pg;
    const selfCpu = process.cpuUsage(cpu0.self);
    const other = Math.max(0, (cpu1.machine - cpu0.machine) - replicaTotal - pgMs - fleet.cpuMs - (selfCpu.user + selfCpu.system) / 1000);
    const lat = [...fleet.latenciesMs].sort((a, b) => a - b);
    errors.push(...fleet.errors);
    if (eventsStored !== eventsSent) errors.push(`${n} replica(s): ${eventsSent} events sent, ${eventsStored} stored`);
    if (fleet.storedAcked !== eventsSent) errors.push(`${n} replica(s): acks report ${fleet.storedAcked} stored of ${eventsSent} sent`);
    if (alertOccurrences !== expectedDetections) errors.push(`${n} replica(s): ${alertOccurrences} detections, ${expectedDetections} expected`);
    return {
      replicas: n, round, agents: REPLICAS.agents, eventsSent, eventsStored, storedAcked: fleet.storedAcked,
      eventsPerSec: eventsSent / (fleet.elapsedMs / 1000), ackP50Ms: percentile(lat, 50), ackP99Ms: percentile(lat, 99),
      alertRows: alerts.length, alertOccurrences, expectedDetections, duplicates, redeliveredStored,
      replicaCpuUsPerEvent: perEvent(replicaTotal), busiestReplicaCpuShare: Math.max(...replicaMs) / fleet.elapsedMs,
      postgresCpuUsPerEvent: perEvent(pgMs), fleetCpuUsPerEvent: perEvent(fleet.cpuMs), otherCpuUsPerEvent: perEvent(other),
      errors,
    };
  } finally {
    await Promise.all(replicas.map(stopReplica));
    await store.close();
  }
}

/**
 * pg_stat_statements of `db`: 'reset' before the timed phase; 'report' after it, the totals and the
 * costliest statements (time is the backends' wall time in the statement, so a lock wait counts).
 */
async function statements(db: string, what: 'reset' | 'report', events = 0): Promise<string[]> {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    if (what === 'reset') {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await c.query('SELECT pg_stat_statements_reset()');
      return [];
    }
    const mine = `FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'`;
    const t = (await c.query(`SELECT sum(calls)::float8 AS calls, sum(total_exec_time)::float8 AS exec, sum(total_plan_time)::float8 AS plan ${mine}`)).rows[0];
    const d = (await c.query(`SELECT xact_commit::float8 AS commits, xact_rollback::float8 AS rollbacks, deadlocks::float8 AS deadlocks FROM pg_stat_database WHERE datname = current_database()`)).rows[0];
    const top = (await c.query(`SELECT calls::float8, rows::float8, total_exec_time::float8 AS exec, total_plan_time::float8 AS plan,
      left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 110) AS q ${mine} ORDER BY total_exec_time + total_plan_time DESC LIMIT ${TOP_STATEMENTS}`)).rows;
    return [
      `${t.calls} statements (${(t.calls / events).toFixed(2)} per event), ${t.exec.toFixed(0)} ms executing, ${t.plan.toFixed(0)} ms planning`,
      `transactions since the database was created: ${d.commits} committed, ${d.rollbacks} rolled back, ${d.deadlocks} deadlocks`,
      '  calls     rows  exec ms  plan ms  statement',
      ...top.map((r) => `${String(r.calls).padStart(7)} ${String(r.rows).padStart(8)} ${r.exec.toFixed(0).padStart(8)} ${r.plan.toFixed(0).padStart(8)}  ${r.q}`),
    ];
  } finally {
    await c.end();
  }
}

/** Forks one replica process on `db`; resolves with its URL once it listens. */
function startReplica(db: string, into: ChildProcess[]): Promise<string> {
  // BENCH_REPLICA_PROFILE=DIR: each replica writes a V8 CPU profile (.cpuprofile) of its life into DIR when it stops.
  const profile = process.env.BENCH_REPLICA_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_REPLICA_PROFILE}`] : [];
  const child = fork(REPLICA_ENTRY, [], { execArgv: ['--import', 'tsx', ...profile], stdio: 'inherit' });
  into.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`replica exited (${code}) before listening`)));
    child.once('message', (m: FromReplica) => (m.type === 'listening' ? resolve(m.url) : reject(new Error(`replica: ${m.type === 'failed' ? m.message : m.type}`))));
    child.send({ type: 'start', connectionString: db } satisfies ToReplica);
  });
}

async function stopReplica(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill(), 10_000);
  if (child.connected) child.send({ type: 'stop' } satisfies ToReplica);
  else child.kill();
  await exited;
  clearTimeout(timer);
}

/** Each agent reconnects to the next replica and resends its first frames; returns the events stored again (0 when dedup holds). */
async function redeliver(plans: FleetAgentPlan[], wsUrls: string[], n: number): Promise<number> {
  let stored = 0;
  await Promise.all(plans.map(async (p, i) => {
    const ws = new WebSocket(wsUrls[(i + 1) % n]!, { headers: { authorization: `Bearer ${p.agentId}.${p.agentKey}` } });
    const replies: Array<{ type: string; stored?: number }> = [];
    let wake = () => {};
    ws.on('message', (d) => { replies.push(JSON.parse(String(d))); wake(); });
    const next = async (type: string) => {
      for (;;) {
        const i2 = replies.findIndex((r) => r.type === type || r.type === 'error');
        if (i2 >= 0) {
          const r = replies.splice(i2, 1)[0]!;
          if (r.type === 'error') throw new Error(`redelivery to replica ${(i + 1) % n}: ${JSON.stringify(r)}`);
          return r;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(JSON.stringify({ v: 1, type: 'register', sqlInstances: [], machine: { hostname: p.hostname, agentVersion: 'bench', osType: 'linux', detectedProperties: {}, cloudMetadata: { provider: 'N/A' } } }));
    await next('registered');
    for (const frame of p.frames.slice(0, REPLICAS.redelivered)) {
      ws.send(frame);
      stored += (await next('ack')).stored ?? 0;
    }
    ws.close(1000);
  }));
  return stored;
}

/** Each count's median figures over the rounds, in the order the counts were asked for. */
export function summarize(r: ReplicasResult): ReplicaSummary[] {
  return r.counts.map((n) => {
    const mine = r.passes.filter((p) => p.replicas === n).sort((a, b) => a.round - b.round);
    return {
      replicas: n,
      eventsPerSec: median(mine.map((p) => p.eventsPerSec)),
      replicaCpuUsPerEvent: median(mine.map((p) => p.replicaCpuUsPerEvent)),
      postgresCpuUsPerEvent: median(mine.map((p) => p.postgresCpuUsPerEvent)),
      duplicates: mine.reduce((s, p) => s + p.duplicates, 0),
      roundsEventsPerSec: mine.map((p) => p.eventsPerSec),
    };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Speed-up of N replicas over one (medians over the rounds), when both ran. */
export function speedup(r: ReplicasResult, n: number): number | undefined {
  const sums = summarize(r);
  const one = sums.find((p) => p.replicas === 1);
  const many = sums.find((p) => p.replicas === n);
  return one && many ? many.eventsPerSec / one.eventsPerSec : undefined;
}

/** No duplicates, nothing lost, no errors in any pass; and 2 replicas >= 1.4x one (medians) when both ran. */
export function replicasOk(r: ReplicasResult): boolean {
  const s = speedup(r, 2);
  return r.passes.every((p) => p.duplicates === 0 && p.errors.length === 0) && (s === undefined || s >= REPLICAS.minSpeedup);
}

export function formatReplicas(r: ReplicasResult): string {
  const rows = r.passes.map((p) => [
    String(p.round + 1), String(p.replicas), String(Math.round(p.eventsPerSec)), `${p.ackP50Ms.toFixed(0)} / ${p.ackP99Ms.toFixed(0)}`,
    `${p.eventsStored} / ${p.eventsSent}`, `${p.alertOccurrences} / ${p.expectedDetections}`, String(p.duplicates),
    p.replicaCpuUsPerEvent.toFixed(0), `${(p.busiestReplicaCpuShare * 100).toFixed(0)} %`, p.postgresCpuUsPerEvent.toFixed(0), p.fleetCpuUsPerEvent.toFixed(0), p.otherCpuUsPerEvent.toFixed(0),
  ]);
  const head = ['round', 'replicas', 'ev/s', 'ack p50/p99 ms', 'stored/sent', 'detections/expected', 'duplicates', 'replicas CPU us/ev', 'busiest replica CPU', 'PostgreSQL us/ev', 'fleet us/ev', 'other us/ev'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}`;
  const s = speedup(r, 2);
  const medians = r.rounds > 1
    ? [`  median of ${r.rounds} rounds (alternating order):`, ...summarize(r).map((m) => `    ${m.replicas} replica(s): ${Math.round(m.eventsPerSec)} ev/s (rounds: ${m.roundsEventsPerSec.map((x) => Math.round(x)).join(', ')}), replicas ${m.replicaCpuUsPerEvent.toFixed(0)} us/ev, PostgreSQL ${m.postgresCpuUsPerEvent.toFixed(0)} us/ev, duplicates ${m.duplicates}`)]
    : [];
  return [
    `Replicas: N control-plane processes on one PostgreSQL (${r.postgres}), ${REPLICAS.agents} agents (agent i on replica i mod N), after ${r.warmup > 0 ? `an untimed warm-up of ${r.warmup} events per replica` : 'no warm-up'}; then each agent resends ${REPLICAS.redelivered} batches to another replica`,
    line(head), ...rows.map(line), ...medians,
    ...(s === undefined ? [] : [`  2 replicas / 1 replica${r.rounds > 1 ? ' (medians)' : ''}: ${s.toFixed(2)}x (target >= ${REPLICAS.minSpeedup}x) ${s >= REPLICAS.minSpeedup ? 'met' : 'NOT met'}`]),
    ...r.passes.flatMap((p) => p.errors.slice(0, 10).map((e) => `  error: ${e}`)),
  ].join('\n');
}

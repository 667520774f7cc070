import { parseArgs } from 'node:util';
import { LIMITS } from '../protocol/index.ts';

/** What one bench run measures; every size is a count, never a duration. */
export interface BenchOptions {
  /** Numbers of concurrent agents to measure, one full-path + baseline pass each. */
  agents: number[];
  /** Events sent per pass (split evenly over the agents of that pass). */
  events: number;
  /** Events per `events` frame. */
  batch: number;
  /** Frames each agent keeps in flight (sent, not yet acked). */
  window: number;
  /** Events of the untimed single-agent pass run first so the JIT is warm; 0 skips it. */
  warmup: number;
  /** Rounds of each throughput pass (full path, then its raw baseline); the median round's figures are reported. */
  rounds: number;
  /** Events per second of the paced detection-latency pass (one agent); 0 skips it. */
  rate: number;
  /** Seconds of the agent idle-footprint measurement (heartbeats every 5 s); 0 skips it. */
  footprint: number;
  /** Quiet agents of the noisy-neighbour pass (each at 100 events/s, then beside one agent at its rate limit); 0 skips it. */
  noisy: number;
  /** Run every pass in one invocation: the default passes, then the reconnect storm (and any pass added since). */
  all: boolean;
  /** Run only the reconnect-storm pass (issue 12) instead of the ingest passes. */
  storm: boolean;
  /** Agents reconnecting at once in the storm pass. */
  stormAgents: number;
  /** Machines stored before the storm (at least stormAgents). */
  stormStored: number;
  /** The control plane's limits.ingestWorkers in the throughput passes; undefined: its default. */
  ingestWorkers?: number;
  /** Sigma rule folders: run only the detection-at-scale passes (bench/detect-speed.ts) with them. */
  rules: string[];
  /** An Atomic Red Team atomics/ folder for the offline detection workload (with --rules). */
  atomics: string | undefined;
  /** Also write the figures as JSON to this file (bench/json-report.ts; with --rules, that pass's figures; with --connections / --replicas, their sections). */
  json: string | undefined;
  /** Agents of the connections pass (issue 16, goal 4); 0 skips it. */
  connections: number;
  /** Seconds of steady heartbeats and batches in the connections pass once all are registered. */
  connectionsSeconds: number;
  /** Events per batch in the connections pass. */
  connectionsBatch: number;
  /** Store of the replicas pass: `postgres` (a PostgreSQL cluster started by the bench) is the only one replicas can share. */
  store: 'sqlite' | 'postgres';
  /** Replica counts of the scale-out pass (issue 16, goal 5), one pass each; empty skips it. */
  replicas: number[];
  /** Events per replica pass. */
  replicaEvents: number;
  /** Rounds of the replicas passes (each count once per round, alternating order; medians compared). */
  replicaRounds: number;
  /** Events each replica takes in an untimed warm-up before its pass is timed (JIT, pools, caches); 0 skips it. */
  replicaWarmup: number;
  /** Replicas pass: tally PostgreSQL's statements per pass (pg_stat_statements) and print the costliest. */
  pgStatements: boolean;
  /** Only the portal page-time pass (issue 15; --all runs it too). */
  portal: boolean;
  /** Alerts stored for the portal pass. */
  portalAlerts: number;
  /** Events stored for the portal pass. */
  portalEvents: number;
  /** Machines the portal pass's events and alerts spread over. */
  portalMachines: number;
  /** Timed requests per page in the portal pass. */
  portalRequests: number;
}

/** What `npm run bench -- --help` prints. */
export const USAGE = `usage: npm run bench [-- options]   (loopback only; options also from BENCH_* variables)
  --agents 1,4,16   BENCH_AGENTS     agent counts to measure, one pass each
  --events 50000    BENCH_EVENTS     events per pass, split evenly over its agents
  --batch 100       BENCH_BATCH      events per frame (at most 1000, the protocol limit)
  --window 8        BENCH_WINDOW     frames each agent keeps in flight
  --warmup 4000     BENCH_WARMUP     events of an untimed 1-agent pass run first; 0 skips it
  --rounds 5        BENCH_ROUNDS     rounds of each throughput pass (full path and its raw baseline, back to back);
                                     the round with the median full/raw ratio is reported, every round's ratio shown
  --rate 10000      BENCH_RATE       events/s of the paced detection-latency pass; 0 skips it
  --footprint 60    BENCH_FOOTPRINT  seconds of the agent idle-footprint measurement; 0 skips it
  --noisy 16        BENCH_NOISY      quiet agents of the noisy-neighbour pass: each sends 100 events/s for 10 s,
                                     alone, then beside one agent at its rate limit (shipped limits); 0 skips it
  --ingest-workers N  BENCH_INGEST_WORKERS  the control plane's ingest worker threads (limits.ingestWorkers,
                                     default 0: all on the main thread) in the throughput and latency passes
  --all             BENCH_ALL=1      every pass in one invocation: the passes above, then the reconnect storm, the
                                     connections pass (in a fresh process of its own), the replicas
                                     passes and the portal pass
  --storm           BENCH_STORM=1    only the reconnect storm: agents reconnecting at once against stored
                                     machines, /api/health probed every 20 ms (the other options are ignored)
  --storm-agents 1000  BENCH_STORM_AGENTS  agents reconnecting at once
  --storm-stored 2500  BENCH_STORM_STORED  machines stored before the storm (at least --storm-agents)
  --rules DIR...     BENCH_RULES      only detection at scale: the shipped rules vs the shipped rules plus every
                                     rule of these folders that loads (e.g. SigmaHQ's rules/windows ...), offline
                                     (--events events, one core) and live (1 agent); several folders: repeat the
                                     flag or separate them with commas
  --atomics DIR     BENCH_ATOMICS    with --rules: the offline events are these Atomic Red Team tests played
                                     (atomics/Txxxx/Txxxx.yaml), re-run hourly; default: the library scenarios
  --json FILE       BENCH_JSON       also write the figures as JSON to FILE: {"passes": [...], "latency": {...},
                                     "noisy": {...}, "connections": {...}, "replicas": [...], "portal": [...]} (a section per pass
                                     that ran; see bench/json-report.ts); with --rules, that pass's figures
  --connections N   BENCH_CONNECTIONS  only the connections pass (with --replicas, both): N agents connect at once to one
                                     control plane, then heartbeat every 5 s and send a batch every 10 s
  --connections-seconds 30  BENCH_CONNECTIONS_SECONDS  steady seconds after all are registered
  --connections-batch 5     BENCH_CONNECTIONS_BATCH    events per batch of the connections pass
                    BENCH_STEADY_PROFILE=FILE  a V8 CPU profile (.cpuprofile) of the connections pass's steady phase
  --store postgres  BENCH_STORE      with --replicas: the store the replicas share (a PostgreSQL cluster the bench starts)
  --replicas 1,2    BENCH_REPLICAS   only the scale-out pass (with --connections, both): N control-plane processes on
                                     one PostgreSQL behind the same agents, one pass per count
  --replica-events 80000  BENCH_REPLICA_EVENTS  events per replicas pass
  --replica-rounds 3      BENCH_REPLICA_ROUNDS  rounds of the replicas passes: each count once per round, every other
                                     round in reverse order; the speed-up compares each count's median
  --replica-warmup 8000   BENCH_REPLICA_WARMUP  events each replica takes, untimed, before its pass is timed
                                     (from 16 other agents; JIT, pools and caches warm, as --warmup does); 0 skips it
  --pg-statements   BENCH_PG_STATEMENTS=1  with --replicas: the cluster loads pg_stat_statements; each pass prints its
                                     costliest statements (calls, rows, execution and planning ms, lock waits included)
  --portal          BENCH_PORTAL=1   only the portal page-time pass (issue 15): a fresh SQLite store file seeded with
                                     --portal-events events and --portal-alerts alerts on --portal-machines machines,
                                     then every portal page requested --portal-requests times by a signed-in reader;
                                     server time per page (p50, max; bound 300 ms). --all runs it too
  --portal-alerts 10000      BENCH_PORTAL_ALERTS    alerts stored (with copies, entities, evidence, incidents)
  --portal-events 1000000    BENCH_PORTAL_EVENTS    events stored, across the device tables
  --portal-machines 200      BENCH_PORTAL_MACHINES  Arc machines (the busiest holds 10 % of the events)
  --portal-requests 5        BENCH_PORTAL_REQUESTS  timed requests per page (after one untimed)
Figures, the machine and what they mean: docs/performance.md.`;

export const DEFAULTS: BenchOptions = {
  agents: [1, 4, 16], events: 50_000, batch: 100, window: 8, warmup: 4_000, rounds: 5, rate: 10_000, footprint: 60, noisy: 16, all: false,
  storm: false, stormAgents: 1000, stormStored: 2500, rules: [], atomics: undefined, json: undefined,
  connections: 0, connectionsSeconds: 30, connectionsBatch: 5, store: 'sqlite', replicas: [], replicaEvents: 80_000, replicaRounds: 3, replicaWarmup: 8_000, pgStatements: false,
  portal: false, portalAlerts: 10_000, portalEvents: 1_000_000, portalMachines: 200, portalRequests: 5,
};

/**
 * Reads options from `--flag value` arguments, then `BENCH_*` environment variables, then
 * DEFAULTS (arguments win). Throws on unknown flags or values that are not positive integers,
 * so a typo never silently benchmarks the defaults.
 */
export function readOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      agents: { type: 'string' },
      events: { type: 'string' },
      batch: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      footprint: { type: 'string' },
      noisy: { type: 'string' },
      all: { type: 'boolean' },
      storm: { type: 'boolean' },
      'storm-agents': { type: 'string' },
      'storm-stored': { type: 'string' },
      rules: { type: 'string', multiple: true },
      atomics: { type: 'string' },
      json: { type: 'string' },
      connections: { type: 'string' },
      'connections-seconds': { type: 'string' },
      'connections-batch': { type: 'string' },
      store: { type: 'string' },
      replicas: { type: 'string' },
      'replica-events': { type: 'string' },
      'replica-warmup': { type: 'string' },
      'replica-rounds': { type: 'string' },
      'pg-statements': { type: 'boolean' },
      'ingest-workers': { type: 'string' },
      portal: { type: 'boolean' },
      'portal-alerts': { type: 'string' },
      'portal-events': { type: 'string' },
      'portal-machines': { type: 'string' },
      'portal-requests': { type: 'string' },
    },
  });
  const pick = (name: 'agents' | 'events' | 'batch' | 'window' | 'warmup' | 'rounds' | 'rate' | 'footprint' | 'noisy'): string | undefined => values[name] ?? env[`BENCH_${name.toUpperCase()}`];
  const rulesText = values.rules ?? (env.BENCH_RULES ? [env.BENCH_RULES] : []);

  const agentsText = pick('agents');
  const options: BenchOptions = {
    agents: agentsText === undefined ? DEFAULTS.agents : agentsText.split(',').map((s) => count('agents', s.trim(), 1)),
    events: numberOr('events', pick('events'), DEFAULTS.events, 1),
    batch: numberOr('batch', pick('batch'), DEFAULTS.batch, 1),
    window: numberOr('window', pick('window'), DEFAULTS.window, 1),
    warmup: numberOr('warmup', pick('warmup'), DEFAULTS.warmup, 0),
    rounds: numberOr('rounds', pick('rounds'), DEFAULTS.rounds, 1),
    rate: numberOr('rate', pick('rate'), DEFAULTS.rate, 0),
    footprint: numberOr('footprint', pick('footprint'), DEFAULTS.footprint, 0),
    noisy: numberOr('noisy', pick('noisy'), DEFAULTS.noisy, 0),
    all: values.all ?? env.BENCH_ALL === '1',
    storm: values.storm ?? env.BENCH_STORM === '1',
    stormAgents: numberOr('storm-agents', values['storm-agents'] ?? env.BENCH_STORM_AGENTS, DEFAULTS.stormAgents, 1),
    stormStored: numberOr('storm-stored', values['storm-stored'] ?? env.BENCH_STORM_STORED, DEFAULTS.stormStored, 1),
    rules: rulesText.flatMap((r) => r.split(',')).map((r) => r.trim()).filter((r) => r !== ''),
    atomics: values.atomics ?? (env.BENCH_ATOMICS || undefined),
    json: values.json ?? (env.BENCH_JSON || undefined),
    connections: numberOr('connections', values.connections ?? env.BENCH_CONNECTIONS, DEFAULTS.connections, 0),
    connectionsSeconds: numberOr('connections-seconds', values['connections-seconds'] ?? env.BENCH_CONNECTIONS_SECONDS, DEFAULTS.connectionsSeconds, 1),
    connectionsBatch: numberOr('connections-batch', values['connections-batch'] ?? env.BENCH_CONNECTIONS_BATCH, DEFAULTS.connectionsBatch, 1),
    store: storeOf(values.store ?? env.BENCH_STORE),
    replicas: (values.replicas ?? env.BENCH_REPLICAS)?.split(',').map((s) => count('replicas', s.trim(), 1)) ?? DEFAULTS.replicas,
    replicaEvents: numberOr('replica-events', values['replica-events'] ?? env.BENCH_REPLICA_EVENTS, DEFAULTS.replicaEvents, 1),
    replicaRounds: numberOr('replica-rounds', values['replica-rounds'] ?? env.BENCH_REPLICA_ROUNDS, DEFAULTS.replicaRounds, 1),
    replicaWarmup: numberOr('replica-warmup', values['replica-warmup'] ?? env.BENCH_REPLICA_WARMUP, DEFAULTS.replicaWarmup, 0),
    pgStatements: values['pg-statements'] ?? env.BENCH_PG_STATEMENTS === '1',
    portal: values.portal ?? env.BENCH_PORTAL === '1',
    portalAlerts: numberOr('portal-alerts', values['portal-alerts'] ?? env.BENCH_PORTAL_ALERTS, DEFAULTS.portalAlerts, 1),
    portalEvents: numberOr('portal-events', values['portal-events'] ?? env.BENCH_PORTAL_EVENTS, DEFAULTS.portalEvents, 1),
    portalMachines: numberOr('portal-machines', values['portal-machines'] ?? env.BENCH_PORTAL_MACHINES, DEFAULTS.portalMachines, 2),
    portalRequests: numberOr('portal-requests', values['portal-requests'] ?? env.BENCH_PORTAL_REQUESTS, DEFAULTS.portalRequests, 1),
  };
  const workersText = values['ingest-workers'] ?? env.BENCH_INGEST_WORKERS;
  if (workersText !== undefined) options.ingestWorkers = count('ingest-workers', workersText, 0);
  if (options.portal && (options.all || options.storm || options.rules.length > 0)) {
    throw new Error('--portal runs the portal pass alone; --all includes it');
  }
  if (options.rules.length === 0 && options.atomics !== undefined) {
    throw new Error('--atomics goes with --rules DIR (the detection-at-scale passes)');
  }
  if (options.all && (options.storm || options.rules.length > 0)) {
    throw new Error('--all runs every ingest-side pass; --storm and --rules each run one pass alone');
  }
  if (options.replicas.length > 0 && options.store !== 'postgres') {
    throw new Error('--replicas needs --store postgres: replicas share one PostgreSQL database (SQLite is one process\'s file)');
  }
  if (options.connectionsBatch > LIMITS.maxEventsPerBatch) {
    throw new Error(`--connections-batch ${options.connectionsBatch}: the protocol accepts at most ${LIMITS.maxEventsPerBatch} events per batch`);
  }
  if (options.stormStored < options.stormAgents) {
    throw new Error(`--storm-stored ${options.stormStored} is less than --storm-agents ${options.stormAgents}: every reconnecting agent has a stored machine`);
  }
  if (options.batch > LIMITS.maxEventsPerBatch) {
    throw new Error(`--batch ${options.batch}: the protocol accepts at most ${LIMITS.maxEventsPerBatch} events per batch`);
  }
  for (const k of options.agents) {
    if (k > options.events) throw new Error(`--agents ${k} is more than --events ${options.events}: some agents would send nothing`);
  }
  return options;
}

function storeOf(text: string | undefined): 'sqlite' | 'postgres' {
  if (text === undefined || text === 'sqlite' || text === 'postgres') return text ?? DEFAULTS.store;
  throw new Error(`--store: expected sqlite or postgres, got "${text}"`);
}

function numberOr(name: string, text: string | undefined, fallback: number, min: number): number {
  return text === undefined ? fallback : count(name, text, min);
}

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got "${text}"`);
  return n;
}

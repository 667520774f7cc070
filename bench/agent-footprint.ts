import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlPlane, openSqliteStore } from '../control-plane/index.ts';
import { AGENT_ARTIFACT, UNIT_ENVIRONMENT, UNIT_NODE_ARGS } from '../protocol/agent-service.ts';

/**
 * Agent idle footprint: one real agent process started exactly as the systemd unit starts it
 * (`node [UNIT_NODE_ARGS] arcsim-agent.cjs run ...`: the one-file bundle install.sh installs, built
 * now from the sources into a temp dir, no node_modules next to it, the real host inventory) connected to a control plane in this process, heartbeating at
 * `heartbeatIntervalSec`, measured for `durationMs` after it registered: RSS (sampled from
 * /proc every second: median and max) and CPU time used over the window.
 */
export interface AgentFootprintOptions {
  /** Measurement window after registration, ms (default one minute). */
  durationMs?: number;
  /** Heartbeat interval the control plane asks for, s (a lab setting; real Arc uses 300). */
  heartbeatIntervalSec?: number;
  /** Progress lines go here (default: stderr). */
  log?: (line: string) => void;
  /** Entry script to run (default: the agent bundle, built now from the sources). */
  entry?: string;
  /** Node options before the entry (default: the unit's, `UNIT_NODE_ARGS`). */
  nodeArgs?: string[];
}

export interface AgentFootprint {
  durationMs: number;
  heartbeatIntervalSec: number;
  heartbeats: number;
  rssMedianMB: number;
  rssMaxMB: number;
  /** CPU (user + system) over the window, ms, and as a share of one core. */
  cpuMs: number;
  cpuPercent: number;
  targetRssMB: number;
  withinTarget: boolean;
  /** What ran: `bundle` (arcsim-agent.cjs, as installed) or another entry given by the caller. */
  mode: 'bundle' | 'other entry';
  nodeArgs: string[];
}

const TARGET_RSS_MB = 50;
const BUILD_SCRIPT = join(import.meta.dirname, '..', 'scripts', 'build-agent.mjs');

/** Resident set size and CPU ticks of a Linux process, from /proc. */
async function procStat(pid: number): Promise<{ rssBytes: number; cpuTicks: number }> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  // Fields after "(comm) ": state is index 0, utime 11, stime 12 (in clock ticks, 100 per second on Linux).
  return { rssBytes: rssKb * 1024, cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

/**
 * What bin/arcsim-agent.js will run: the bundle when dist/arcsim-agent.cjs exists and is newer than
 * every source it was built from (the bin's own rule), else the sources through tsx.
 */
export function agentEntryMode(root = join(import.meta.dirname, '..')): 'bundle' | 'tsx' {
  if (process.env.ARCSIM_AGENT_FROM_SOURCE === '1') return 'tsx';
  try {
    const built = statSync(join(root, 'dist', 'arcsim-agent.cjs')).mtimeMs;
    const sources = JSON.parse(readFileSync(join(root, 'dist', 'arcsim-agent.sources.json'), 'utf8')) as string[];
    return sources.every((f) => statSync(join(root, f)).mtimeMs <= built) ? 'bundle' : 'tsx';
  } catch {
    return 'tsx';
  }
}

export async function measureAgentFootprint(o: AgentFootprintOptions = {}): Promise<AgentFootprint> {
  const durationMs = o.durationMs ?? 60_000;
  const heartbeatIntervalSec = o.heartbeatIntervalSec ?? 5;
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-footprint-'));
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const cp = createControlPlane({ store, config: { port: 0, limits: { heartbeatIntervalSec } } });
  let child: ChildProcess | undefined;
  try {
    const url = await cp.listen();
    const token = await cp.createToken({ subscription: 'bench', resourceGroup: 'footprint' });
    let heartbeats = 0;
    const registered = new Promise<void>((resolve) => cp.once('registered', () => resolve()));
    let entry = o.entry;
    if (!entry) {
      const built = spawnSync(process.execPath, [BUILD_SCRIPT, '--quiet', '--out-dir', join(dir, 'bundle')], { encoding: 'utf8' });
      if (built.status !== 0) throw new Error(`could not build the agent bundle: ${built.stderr}`);
      entry = join(dir, 'bundle', AGENT_ARTIFACT);
    }
    const nodeArgs = o.nodeArgs ?? UNIT_NODE_ARGS;
    // execArgv given explicitly: fork() would otherwise pass on this process's `--import tsx`.
    child = fork(entry, ['run', '--control-plane', url, '--token', token.token, '--state-dir', join(dir, 'agent'), '--log-format', 'json'], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: { ...process.env, ...UNIT_ENVIRONMENT, ARCSIM_LOG_LEVEL: 'warn' }, execArgv: nodeArgs,
    });
    const pid = child.pid!;
    await registered;
    const origRecord = store.machines.recordHeartbeat.bind(store.machines);
    store.machines.recordHeartbeat = async (agentId: string, at: number) => { heartbeats++; return origRecord(agentId, at); };
    // The gateway writes heartbeats in batches (gateway/heartbeat-writer.ts): each row is one heartbeat.
    const origBatch = store.machines.recordHeartbeats.bind(store.machines);
    store.machines.recordHeartbeats = async (rows) => { heartbeats += rows.length; return origBatch(rows); };
    const mode = o.entry ? 'other entry' : 'bundle';
    log(`agent footprint: agent pid ${pid} (${mode}, node ${nodeArgs.join(' ') || '(no options)'}) registered; measuring ${Math.round(durationMs / 1000)} s of ${heartbeatIntervalSec} s heartbeats`);
    const start = await procStat(pid);
    const samples: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < durationMs) {
      samples.push((await procStat(pid)).rssBytes);
      await new Promise((r) => setTimeout(r, Math.min(1000, durationMs - (Date.now() - t0)) || 1));
    }
    const end = await procStat(pid);
    samples.push(end.rssBytes);
    const elapsed = Date.now() - t0;
    const mb = (b: number) => Math.round((b / 1024 ** 2) * 10) / 10;
    const sorted = [...samples].sort((a, b) => a - b);
    const cpuMs = (end.cpuTicks - start.cpuTicks) * 10;
    const result: AgentFootprint = {
      durationMs: elapsed, heartbeatIntervalSec, heartbeats,
      rssMedianMB: mb(sorted[Math.floor(sorted.length / 2)]!), rssMaxMB: mb(sorted[sorted.length - 1]!),
      cpuMs, cpuPercent: Math.round((cpuMs / elapsed) * 1000) / 10,
      targetRssMB: TARGET_RSS_MB, withinTarget: sorted[sorted.length - 1]! / 1024 ** 2 < TARGET_RSS_MB,
      mode, nodeArgs,
    };
    log(`agent footprint: RSS median ${result.rssMedianMB} MB, max ${result.rssMaxMB} MB (target < ${TARGET_RSS_MB} MB: ${result.withinTarget ? 'met' : 'NOT met'}); CPU ${cpuMs} ms over ${Math.round(elapsed / 1000)} s (${result.cpuPercent} % of a core); ${heartbeats} heartbeats`);
    return result;
  } finally {
    child?.kill('SIGTERM');
    if (child && child.exitCode === null) await new Promise((r) => child!.once('exit', r));
    await cp.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node --import tsx bench/agent-footprint.ts [seconds]` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? process.env.BENCH_AGENT_SECONDS ?? 60);
  // For comparisons: BENCH_AGENT_ENTRY=<script> and BENCH_AGENT_NODE_ARGS="<node options>" (space-separated).
  const nodeArgs = process.env.BENCH_AGENT_NODE_ARGS;
  const r = await measureAgentFootprint({
    durationMs: seconds * 1000, entry: process.env.BENCH_AGENT_ENTRY || undefined,
    nodeArgs: nodeArgs === undefined ? undefined : nodeArgs.split(/\s+/).filter(Boolean),
  });
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}

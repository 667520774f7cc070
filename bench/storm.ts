import { fork } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MachineFactsSchema, machineResourceId, toMachineName } from '../protocol/index.ts';
import { systemClock } from '../lib/clock.ts';
import { createControlPlane, openSqliteStore } from '../control-plane/index.ts';
import { createEnrollmentToken, enrollAgent } from '../control-plane/auth/enrollment.ts';
import { stormFacts, type FromStormFleet, type StormAgentPlan, type StormFleetResult, type ToStormFleet } from './storm-messages.ts';

const FLEET_ENTRY = join(import.meta.dirname, 'storm-fleet.ts');

export interface StormOptions {
  /** Machines stored (enrolled and registered) before the storm. */
  stored: number;
  /** Of those, agents that reconnect all at once. */
  agents: number;
  /** Interval between `/api/health` probes, ms. */
  probeIntervalMs: number;
  /** Agents not registered by then count as failed, ms. */
  deadlineMs: number;
  dir: string;
  /** Control-plane limits to override (e.g. a small admission bound). */
  limits?: Partial<Record<'maxRegistrationsInFlight' | 'maxRegistrationsWaiting' | 'busyRetryAfterMs', number>>;
  /** Progress lines (seeding, start); default: none. */
  log?: (line: string) => void;
}

export interface StormResult extends StormFleetResult {
  stored: number;
  agents: number;
  /** Registration latency percentiles, ms (from the common start to each agent's `registered`). */
  registrationP50Ms: number;
  registrationP99Ms: number;
  health: { probes: number; p50Ms: number; p99Ms: number; maxMs: number; failed: number };
  /** Refusals counted by the control plane's admission (upgrades + registrations). */
  serverRefusals: number;
  /** Registrations that needed no inventory recompute (same host back, nothing merge-relevant changed). */
  recomputesSkipped: number;
  seedMs: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * The reconnect storm of issue 12: `stored` machines in a real SQLite store (agents enrolled and
 * machines registered through the store, with the facts their agents send), a control plane on
 * loopback, then `agents` of them reconnecting at once from a child process (real WebSockets, the
 * real protocol), while this process probes `/api/health` every `probeIntervalMs`.
 */
export async function runStorm(o: StormOptions): Promise<StormResult> {
  const log = o.log ?? (() => {});
  const store = openSqliteStore({ file: join(o.dir, 'storm.db') });
  const seedStart = performance.now();
  const token = await createEnrollmentToken(store, { subscription: 'sub-storm', resourceGroup: 'rg-storm' }, systemClock);
  const plans: StormAgentPlan[] = [];
  const now = Date.now();
  for (let i = 0; i < o.stored; i++) {
    const facts = MachineFactsSchema.parse(stormFacts(i));
    const e = await enrollAgent(store, token.token, facts.hostname, systemClock);
    const name = toMachineName(facts.hostname);
    await store.machines.upsertMachine({
      agentId: e.agentId, resourceId: machineResourceId('sub-storm', 'rg-storm', name), name, facts, sqlInstances: [], extensions: [],
      status: 'Connected', lastHeartbeat: now, lastStatusChange: now, registeredAt: now,
    });
    if (i < o.agents) plans.push({ agentId: e.agentId, agentKey: e.agentKey, hostname: facts.hostname, index: i });
  }
  const seedMs = performance.now() - seedStart;
  log(`seeded ${o.stored} machines in ${(seedMs / 1000).toFixed(1)} s`);

  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false }, limits: o.limits ?? {} } });
  const url = await cp.listen();
  try {
    const child = fork(FLEET_ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const done = new Promise<FromStormFleet>((resolve, reject) => {
      child.once('message', (m: FromStormFleet) => resolve(m));
      child.once('exit', (code) => reject(new Error(`storm fleet exited with ${code} before reporting`)));
    });
    // Probe health from before the storm until the fleet reports.
    const latencies: number[] = [];
    let failed = 0;
    let probing = true;
    const probes = (async () => {
      while (probing) {
        const t0 = performance.now();
        try {
          const res = await fetch(`${url}/api/health`);
          await res.text();
          if (res.status !== 200) failed++;
        } catch {
          failed++;
        }
        const ms = performance.now() - t0;
        latencies.push(ms);
        await new Promise((r) => setTimeout(r, Math.max(0, o.probeIntervalMs - ms)));
      }
    })();
    log(`control plane on ${url}; ${o.agents} agents reconnecting at once`);
    child.send({ type: 'plan', wsUrl: `${url.replace('http', 'ws')}/agent/v1`, agents: plans, deadlineMs: o.deadlineMs } satisfies ToStormFleet);
    const report = await done.finally(() => { probing = false; });
    await probes;
    if (report.type === 'failed') throw new Error(`storm fleet failed: ${report.message}`);
    const r = report.result;
    const regs = [...r.latenciesMs].sort((a, b) => a - b);
    const health = [...latencies].sort((a, b) => a - b);
    return {
      ...r, stored: o.stored, agents: o.agents, seedMs,
      registrationP50Ms: percentile(regs, 50), registrationP99Ms: percentile(regs, 99),
      health: { probes: health.length, p50Ms: percentile(health, 50), p99Ms: percentile(health, 99), maxMs: health.at(-1) ?? 0, failed },
      serverRefusals: cp.admission().refused,
      recomputesSkipped: cp.inventory.registrationsSkipped,
    };
  } finally {
    await cp.close();
    await store.close();
  }
}

/** The figures, one per line, as the bench and the test print them. */
export function formatStorm(r: StormResult): string {
  const ms = (n: number) => `${Math.round(n)} ms`;
  return [
    `Reconnect storm: ${r.agents} agents reconnecting at once, ${r.stored} machines stored`,
    `  agents registered        ${r.registered} / ${r.agents}`,
    `  all registered after     ${(r.allRegisteredMs / 1000).toFixed(2)} s`,
    `  registration p50 / p99   ${ms(r.registrationP50Ms)} / ${ms(r.registrationP99Ms)}`,
    `  /api/health p50/p99/max  ${ms(r.health.p50Ms)} / ${ms(r.health.p99Ms)} / ${ms(r.health.maxMs)} (${r.health.probes} probes, ${r.health.failed} failed)`,
    `  BUSY refusals / retries  ${r.busy} / ${r.retries} (server counted ${r.serverRefusals} refusals)`,
    `  recomputes skipped       ${r.recomputesSkipped} (registrations of an unchanged host)`,
    ...(r.errors.length ? [`  errors (first ${r.errors.length}):`, ...r.errors.map((e) => `    ${e}`)] : []),
  ].join('\n');
}

import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import type { Store } from '../../control-plane/index.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { seededRandom } from '../../lib/random.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { TEST_FACTS } from '../helpers.ts';

/**
 * Shared by the chaos tests: an agent streaming a known set of events, and the tally that says
 * whether anything acknowledged was lost or stored twice.
 */

/** `n` distinct, schema-valid events of `agentId` (failed SSH logons an hour apart, so no correlation work piles up). */
export function eventsOf(agentId: string, n: number, detonationId: string): SensorEvent[] {
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  return planEvents(ssh, {
    detonationId, device: { id: agentId, name: 'chaos-host' }, startTime: Date.UTC(2026, 0, 1), seed: detonationId, inputs: { attempts: n, interval: '1h' },
  }).map((p) => p.event);
}

/** An enrolled, registered agent with a spool big enough never to drop, quick reconnects and seeded jitter. */
export async function startStreamingAgent(controlPlane: string, token: string, dir: string, seed = 1): Promise<Agent> {
  const random = seededRandom(seed).next;
  const agent = new Agent({
    controlPlane, token, stateDir: join(dir, 'agent'), facts: async () => ({ machine: { ...TEST_FACTS, hostname: 'chaos-host' }, sqlInstances: [] }),
    backoffMinMs: 20, backoffMaxMs: 200, batchRetryMinMs: 20, batchRetryMaxMs: 200, random,
    spoolMaxEvents: 1_000_000, eventsPerSecond: 4000, eventsBurst: 4000,
  });
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  return agent;
}

/** Hands `events` to the agent `chunk` at a time every `everyMs`, as a sensor would; resolves once all are spooled. */
export async function stream(agent: Agent, events: SensorEvent[], chunk = 250, everyMs = 20): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    agent.enqueue(events.slice(i, i + chunk));
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Events the agent has seen acked so far (spooled minus still pending); the spool never drops here. */
export function ackedSoFar(agent: Agent, spooled: number): number {
  return spooled - agent.pendingEvents();
}

export interface Tally { produced: number; acked: number; stored: number; lost: number; duplicates: number }

/** Compares what was produced with what the store holds for the run: every ReportId once, none missing. */
export async function tally(store: Pick<Store, 'events'>, produced: SensorEvent[], detonationId: string, acked: number): Promise<Tally> {
  const rows = await store.events.listEvents({ detonationId, limit: 1_000_000 });
  const ids = rows.map((e) => `${e.DeviceId}/${e.ReportId}`);
  const distinct = new Set(ids);
  const missing = produced.filter((e) => !distinct.has(`${e.DeviceId}/${e.ReportId}`)).length;
  return { produced: produced.length, acked, stored: rows.length, lost: missing, duplicates: ids.length - distinct.size };
}

/** The one-line result each chaos test prints. */
export function report(name: string, t: Tally, extra = ''): string {
  const line = `chaos ${name}: acked ${t.acked}, stored ${t.stored}, lost ${t.lost}, duplicates ${t.duplicates}${extra ? `, ${extra}` : ''}`;
  process.stdout.write(`${line}\n`);
  return line;
}

/** Polls `check` every 20 ms until it is true or `timeoutMs` passes (then throws naming `what`). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

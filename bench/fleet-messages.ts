/**
 * IPC between the bench (which hosts the control plane) and the agent fleet child process.
 * The agents run in their own process so their work (masking and sending frames, reading
 * acks) does not share the control plane's event loop and is not counted as server time.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One agent's credentials and pre-encoded `events` frames (seq 1..n). */
export interface FleetAgentPlan {
  agentId: string;
  agentKey: string;
  hostname: string;
  frames: string[];
  /** Events in all of `frames`. */
  events: number;
  /** The control plane this agent connects to, when not the plan's `wsUrl` (one of several replicas). */
  wsUrl?: string;
  /** This agent's pace, events/s, instead of the plan's `rate` (the noisy-neighbour pass). */
  rate?: number;
}

export type ToFleet =
  /** `rate`: events per second per agent, paced by frame (0 = as fast as the window allows). */
  | { type: 'plan'; wsUrl: string; window: number; rate: number; agents: FleetAgentPlan[] }
  /** Start sending; the timed phase begins when the fleet receives this. */
  | { type: 'go' };

export interface FleetResult {
  /** Wall time from `go` to the last agent's last ack (or failure), ms. */
  elapsedMs: number;
  /** Send -> ack time of every acked batch, ms. */
  latenciesMs: number[];
  /** The same, per agent, in the plan's order. */
  agentLatenciesMs: number[][];
  batchesAcked: number;
  /** Sum of `stored` over all acks. */
  storedAcked: number;
  /** Every `error` frame, socket failure or stall, as readable text. */
  errors: string[];
  /** When each agent got its last ack, ms after `go`; the spread shows how fairly agents were served. */
  agentFinishMs: number[];
  /** CPU time the fleet process used during the timed phase, ms. */
  cpuMs: number;
}

export type FromFleet =
  /** Every agent is connected and has its `registered` reply. */
  | { type: 'ready' }
  | { type: 'done'; result: FleetResult }
  | { type: 'failed'; message: string };

/** The fleet's next message; rejects when the fleet process exits first. */
export function nextMessage(child: ChildProcess): Promise<FromFleet> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`agent fleet exited (code ${code}) before answering`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as FromFleet);
    });
  });
}

/** `message` as the `type` expected, or the fleet's failure / an unexpected message as an error. */
export function expectType<T extends FromFleet['type']>(message: FromFleet, type: T): Extract<FromFleet, { type: T }> {
  if (message.type === 'failed') throw new Error(`agent fleet failed: ${message.message}`);
  if (message.type !== type) throw new Error(`agent fleet: expected ${type}, got ${message.type}`);
  return message as Extract<FromFleet, { type: T }>;
}

const FLEET_ENTRY = fileURLToPath(new URL('./agent-fleet.ts', import.meta.url));

/**
 * One run of the agent fleet (bench/agent-fleet.ts, a process of its own): sends the plan, waits
 * until every agent is registered, calls `beforeGo` (the timed phase starts after it), says `go`,
 * and calls `afterDone` as soon as the fleet reports done, before waiting for it to exit. Resolves
 * with what the fleet measured; kills it on any failure.
 */
export async function runFleet(
  plan: Omit<Extract<ToFleet, { type: 'plan' }>, 'type'>,
  hooks: { beforeGo?: () => void | Promise<void>; afterDone?: () => void } = {},
): Promise<FleetResult> {
  // 'advanced' serialization: the plan holds megabytes of frames; structured clone is cheaper than JSON.
  const child = fork(FLEET_ENTRY, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const ready = nextMessage(child);
    child.send({ type: 'plan', ...plan } satisfies ToFleet);
    expectType(await ready, 'ready');
    const done = nextMessage(child);
    await hooks.beforeGo?.();
    child.send({ type: 'go' } satisfies ToFleet);
    const result = expectType(await done, 'done').result;
    hooks.afterDone?.();
    await exited;
    return result;
  } catch (err) {
    child.kill();
    await exited;
    throw err;
  }
}

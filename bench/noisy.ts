import { join } from 'node:path';
import { LIMITS } from '../protocol/index.ts';
import { runFullPath } from './full-path.ts';
import type { NoisyJson } from './json-report.ts';
import { percentile } from './report.ts';

export interface NoisyOptions {
  dir: string;
  /** Quiet agents, each paced at `quietRateEps`. */
  quiet: number;
  quietRateEps: number;
  /** How long each phase sends, s. */
  seconds: number;
  batch: number;
  window: number;
}

export interface NoisyResult extends NoisyJson {
  /** Error replies and lost events of either phase, as text (the run fails on any). */
  problems: string[];
}

/**
 * The noisy-neighbour pass (issue 16, goal 2): `quiet` agents paced at `quietRateEps` each, with
 * the shipped rate limits, first alone, then beside one agent paced at its rate limit
 * (limits.maxEventsPerSecond, so the token bucket lets all of it in). Compares the quiet agents'
 * batch ack p99 (send -> ack) of the two phases. Each phase has its own fresh store.
 */
export async function runNoisy(o: NoisyOptions): Promise<NoisyResult> {
  const noisyRateEps = LIMITS.maxEventsPerSecond;
  const quietPlan = Array.from({ length: o.quiet }, () => ({ events: Math.max(o.batch, Math.round(o.quietRateEps * o.seconds)), rate: o.quietRateEps }));
  const phase = (id: string, perAgent: Array<{ events: number; rate: number }>) => runFullPath({
    dbFile: join(o.dir, `noisy-${id}.db`), agents: perAgent.length, events: perAgent.reduce((n, a) => n + a.events, 0),
    batch: o.batch, window: o.window, runId: `noisy-${id}`, perAgent, shippedLimits: true,
  });
  const alone = await phase('alone', quietPlan);
  const withNoisy = await phase('with', [...quietPlan, { events: noisyRateEps * o.seconds, rate: noisyRateEps }]);
  const quietAloneP99Ms = percentile(alone.fleet.latenciesMs, 99);
  const quietWithNoisyP99Ms = percentile(withNoisy.fleet.agentLatenciesMs.slice(0, o.quiet).flat(), 99);
  const problems: string[] = [];
  for (const [name, r] of [['alone', alone], ['with the noisy agent', withNoisy]] as const) {
    if (r.eventsStored !== r.eventsSent) problems.push(`noisy pass (${name}): ${r.eventsSent} events sent, ${r.eventsStored} in the store`);
    for (const e of r.fleet.errors) problems.push(`noisy pass (${name}): ${e}`);
  }
  return {
    quietAgents: o.quiet,
    quietRateEps: o.quietRateEps,
    noisyRateEps,
    quietAloneP99Ms: Math.round(quietAloneP99Ms * 10) / 10,
    quietWithNoisyP99Ms: Math.round(quietWithNoisyP99Ms * 10) / 10,
    factor: Math.round((quietWithNoisyP99Ms / quietAloneP99Ms) * 100) / 100,
    lost: alone.eventsSent - alone.eventsStored + withNoisy.eventsSent - withNoisy.eventsStored,
    problems,
  };
}

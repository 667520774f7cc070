/**
 * The machine-readable result of `npm run bench -- --json FILE` (issue 16, goal 7). One object;
 * a section is present only when its pass ran. The shape is additive: new fields and sections
 * may be added, existing ones keep their name, unit and meaning.
 *
 *   passes       one per --agents count: full path vs raw baseline over the same frames
 *   latency      the paced detection-latency pass (--rate)
 *   noisy        the noisy-neighbour pass (--noisy): quiet agents' ack p99 alone and beside one
 *                agent sending at its rate limit
 *   connections  many idle agents on one control plane (--connections; filled by that pass)
 *   replicas     control-plane replicas on one PostgreSQL (--replicas; filled by that pass)
 *   portal       the portal page-time pass (--portal, issue 15): per page path, its server time
 */
import { percentile, rates, type PassResult } from './report.ts';

export interface PassJson {
  agents: number;
  events: number;
  fullEventsPerSec: number;
  rawEventsPerSec: number;
  /** fullEventsPerSec / rawEventsPerSec, 0..1 (goal: >= 0.6). */
  ratio: number;
  /** With --rounds above 1: every round's ratio, in round order (`ratio` is their median). */
  roundsRatio?: number[];
  ackP50Ms: number;
  ackP99Ms: number;
  /** When the first and the last agent got their last ack, s after the start (goal: max <= 1.25 x min). */
  agentDoneMinS: number;
  agentDoneMaxS: number;
  /** Events sent and not in the store afterwards (goal: 0). */
  lost: number;
  /** CPU time of the control-plane process (all threads) per event, µs. */
  cpUsPerEvent: number;
  /** Of which the control plane's main thread (the writer), busy time per event, µs; and its ingest worker threads'. */
  cpMainUsPerEvent: number;
  cpWorkersUsPerEvent: number;
  /** CPU time of the raw baseline per event, µs. */
  rawUsPerEvent: number;
  /** Share of the timed phase the rest of the machine was busy (other processes), of all CPUs x 100 %. */
  otherCpuShare: number;
}

export interface LatencyJson {
  /** The rate asked for, events/s. */
  rateEps: number;
  /** The rate achieved, events/s. */
  achievedEps: number;
  p50Ms: number;
  p99Ms: number;
  events: number;
  lost: number;
}

export interface NoisyJson {
  quietAgents: number;
  /** Each quiet agent's paced rate, events/s. */
  quietRateEps: number;
  /** The noisy agent's paced rate: its rate limit (limits.maxEventsPerSecond), events/s. */
  noisyRateEps: number;
  /** Quiet agents' batch ack p99 without, then with, the noisy agent, ms. */
  quietAloneP99Ms: number;
  quietWithNoisyP99Ms: number;
  /** quietWithNoisyP99Ms / quietAloneP99Ms (goal: <= 2). */
  factor: number;
  lost: number;
}

export interface ConnectionsJson {
  agents: number;
  connectSeconds: number;
  rssMb: number;
  lost: number;
}

export interface ReplicaJson {
  replicas: number;
  /** Median over the rounds (--replica-rounds). */
  eventsPerSec: number;
  /** Summed over the rounds. */
  duplicates: number;
  /** Each round's events/s, in round order. */
  roundsEventsPerSec: number[];
}

/** One portal page path of the portal pass: server time (onRequest to onSend in the control plane), ms. */
export interface PortalPageJson {
  path: string;
  p50Ms: number;
  maxMs: number;
  /** CPU time of the control-plane process over the same span, median and max, ms. */
  cpuP50Ms: number;
  cpuMaxMs: number;
}

export interface BenchJson {
  passes?: PassJson[];
  latency?: LatencyJson;
  noisy?: NoisyJson;
  connections?: ConnectionsJson;
  replicas?: ReplicaJson[];
  /** Every page of the portal pass (bound: maxMs <= 300). */
  portal?: PortalPageJson[];
  /** The machine (CPU, memory, Node, platform, SQLite), one line each. */
  machine: string[];
  /** Share of all CPUs idle over the second before the start, 0..1. */
  idleBefore: number;
  /** Load averages (1/5/15 min) at the end. */
  loadAfter: number[];
}

/** One ingest pass as its JSON entry. */
export function passJson(r: PassResult): PassJson {
  const { full, raw } = rates(r);
  const lat = r.full.fleet.latenciesMs;
  const finish = r.full.fleet.agentFinishMs;
  return {
    agents: r.full.agents,
    events: r.full.eventsSent,
    fullEventsPerSec: round(full),
    rawEventsPerSec: round(raw),
    ratio: round(full / raw, 3),
    ...(r.roundRatios && r.roundRatios.length > 1 ? { roundsRatio: r.roundRatios.map((x) => round(x, 3)) } : {}),
    ackP50Ms: round(percentile(lat, 50), 1),
    ackP99Ms: round(percentile(lat, 99), 1),
    agentDoneMinS: round(Math.min(...finish) / 1000, 2),
    agentDoneMaxS: round(Math.max(...finish) / 1000, 2),
    lost: r.full.eventsSent - r.full.eventsStored,
    cpUsPerEvent: round((r.full.serverCpuMs * 1000) / r.full.eventsSent, 1),
    cpMainUsPerEvent: round((r.full.serverMainMs * 1000) / r.full.eventsSent, 1),
    cpWorkersUsPerEvent: round((r.full.serverWorkersMs * 1000) / r.full.eventsSent, 1),
    rawUsPerEvent: round((r.raw.cpuMs * 1000) / r.raw.eventsInserted, 1),
    otherCpuShare: round(r.full.otherCpuMs / r.full.fleet.elapsedMs, 2),
  };
}

/** Issue 16's goals against the figures of this run, one line each ("met" / "NOT met"). */
export function goalLines(j: BenchJson): string[] {
  const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const out: string[] = [];
  for (const p of j.passes ?? []) {
    out.push(`${p.agents} agent(s): full path ${(p.ratio * 100).toFixed(1)} % of the raw baseline (>= 60 %): ${mark(p.ratio >= 0.6)}`);
    if (p.agents > 1) {
      const spread = p.agentDoneMaxS / p.agentDoneMinS;
      out.push(`${p.agents} agents: slowest done ${spread.toFixed(2)}x the fastest (<= 1.25x): ${mark(spread <= 1.25)}`);
    }
  }
  if (j.noisy) out.push(`noisy neighbour: quiet agents' ack p99 ${j.noisy.factor.toFixed(2)}x (<= 2x): ${mark(j.noisy.factor <= 2)}`);
  if (j.portal?.length) {
    const worst = j.portal.reduce((a, b) => (b.maxMs > a.maxMs ? b : a));
    out.push(`portal (issue 15): slowest page ${worst.path} max ${worst.maxMs} ms server time (every page <= 300 ms): ${mark(worst.maxMs <= 300)}`);
  }
  if (j.latency) out.push(`detection latency at ${j.latency.rateEps} events/s: p99 ${j.latency.p99Ms} ms (<= 50 ms): ${mark(j.latency.p99Ms <= 50)}`);
  return out;
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

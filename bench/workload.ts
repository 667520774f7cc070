import { loadLibrary, planEvents, type Scenario } from '../scenarios/index.ts';
import type { SensorEvent } from '../protocol/index.ts';

/** An enrolled bench agent: the identity its events must carry. */
export interface BenchAgentIdentity {
  agentId: string;
  hostname: string;
}

/** Everything one agent will send, encoded before any timing starts. */
export interface AgentWorkload extends BenchAgentIdentity {
  /** `events` frames as JSON text, seq 1..n in order. */
  frames: string[];
  events: number;
  /** Detections a correct engine raises for these events (one per complete attack playback). */
  expectedDetections: number;
}

/**
 * One "round" of a host's activity: every library scenario, attack and benign twin, each
 * starting a little later. The attack playbacks each end in one detection (the 10th failed
 * SSH logon completes the brute-force correlation; the encoded PowerShell start matches the
 * single-event rule); the benign twins match base rules but must raise nothing.
 */
const ROUND = [
  { slug: 'ssh-brute-force-failed', variant: 'attack', offsetMs: 0, triggers: 'last' },
  { slug: 'ssh-brute-force-failed', variant: 'benign', offsetMs: 60_000, triggers: 'none' },
  { slug: 'suspicious-powershell-encoded', variant: 'attack', offsetMs: 120_000, triggers: 'powershell' },
  { slug: 'suspicious-powershell-encoded', variant: 'benign', offsetMs: 180_000, triggers: 'none' },
] as const;

/**
 * Event time between rounds. Longer than the brute-force window (10 min) plus the engine's
 * default lateness (5 min), so benign failed logons of successive rounds never add up to a
 * false brute force, and old correlation hits get pruned as they would on a live host.
 */
export const ROUND_MS = 20 * 60_000;
/** Event time of the first round, unless a workload is given its own start. */
export const BASE_TIME = Date.parse('2026-11-01T00:00:00Z');

interface Planned {
  event: SensorEvent;
  /** This event completes a detection (if it is included in the workload). */
  trigger: boolean;
}

/**
 * Builds `totalEvents` events split as evenly as possible over `agents` (or, given a list, the
 * i-th count for the i-th agent), cut into frames of
 * `batch` events, the first round at `startMs` (event time). Deterministic for given agent ids. Throws if two events share a ReportId:
 * the store would drop the second as a redelivery and the bench would report a loss.
 */
export function buildWorkload(agents: BenchAgentIdentity[], totalEvents: number | number[], batch: number, runId: string, startMs = BASE_TIME): AgentWorkload[] {
  const library = loadLibrary();
  const seen = new Set<string>();
  return agents.map((agent, i) => {
    // A list gives each agent's own count (the noisy-neighbour pass); a number is split evenly.
    const share = Array.isArray(totalEvents)
      ? totalEvents[i]!
      : Math.floor(totalEvents / agents.length) + (i < totalEvents % agents.length ? 1 : 0);
    const planned = planAgent(library, agent, i, share, runId, startMs);
    for (const p of planned) {
      if (seen.has(p.event.ReportId)) throw new Error(`workload: duplicate ReportId ${p.event.ReportId}`);
      seen.add(p.event.ReportId);
    }
    return {
      ...agent,
      frames: toFrames(planned.map((p) => p.event), batch),
      events: planned.length,
      expectedDetections: planned.filter((p) => p.trigger).length,
    };
  });
}

/** Plays rounds for one agent until it has `count` events, in event-time order. */
function planAgent(library: Map<string, Scenario>, agent: BenchAgentIdentity, agentIndex: number, count: number, runId: string, startMs: number): Planned[] {
  const out: Planned[] = [];
  for (let round = 0; out.length < count; round++) {
    // Agents share one timeline (a second apart) so event times stay close across agents.
    const roundStart = startMs + round * ROUND_MS + agentIndex * 1000;
    for (const [j, step] of ROUND.entries()) {
      const scenario = library.get(step.slug);
      if (!scenario) throw new Error(`workload: scenario ${step.slug} is not in the library`);
      const events = planEvents(scenario, {
        variant: step.variant,
        detonationId: `bench-${runId}-${agentIndex}-${round}-${j}`,
        device: { id: agent.agentId, name: agent.hostname },
        startTime: roundStart + step.offsetMs,
        // A seed per playback: the ReportIds' random bits come from it.
        seed: `${runId}/${agent.agentId}/${round}/${j}`,
      }).map((p) => p.event);
      events.forEach((event, n) => out.push({ event, trigger: isTrigger(step.triggers, event, n === events.length - 1) }));
    }
  }
  // Cutting mid-round is fine: a partial attack playback is simply not counted as a trigger.
  return out.slice(0, count);
}

function isTrigger(kind: (typeof ROUND)[number]['triggers'], event: SensorEvent, last: boolean): boolean {
  if (kind === 'last') return last;
  if (kind === 'powershell') return event.Table === 'DeviceProcessEvents' && event.FileName === 'powershell.exe';
  return false;
}

function toFrames(events: SensorEvent[], batch: number): string[] {
  const frames: string[] = [];
  for (let i = 0; i < events.length; i += batch) {
    frames.push(JSON.stringify({ v: 1, type: 'events', seq: frames.length + 1, events: events.slice(i, i + batch) }));
  }
  return frames;
}

import { randomUUID } from 'node:crypto';
import type { SensorEvent } from '../protocol/index.ts';
import { releasePlan, warpedStart } from '../scenarios/playback.ts';
import { recordingPlan, rewriteRecording } from '../scenarios/recording.ts';
import type { Agent } from './agent.ts';

export interface ReplayOptions {
  /** Host name stamped on the events (DeviceName); the agent registers under the same name. */
  hostName: string;
  /** Addresses to rewrite, old -> new. */
  ipMap?: Record<string, string>;
  /** Time-warp factor; 0 sends everything at once. */
  speed?: number;
  /** Keep the recorded timestamps instead of moving the stream to end now. */
  keepTime?: boolean;
  detonationId?: string;
  now?: () => number;
}

/**
 * Sends a recorded stream through the real agent path (its identity, socket, outbox and acks)
 * as a new run: this agent's ids, a new DetonationId, new ReportIds, rewritten addresses, and
 * timestamps that keep their spacing. Resolves once every event is acked.
 */
export async function replayThroughAgent(agent: Agent, recorded: readonly SensorEvent[], o: ReplayOptions): Promise<{ detonationId: string; events: number; first?: string; last?: string }> {
  if (!agent.agentId) throw new Error('the agent is not enrolled');
  const detonationId = o.detonationId ?? randomUUID();
  const speed = o.speed ?? 0;
  const span = recorded.length ? Date.parse(recorded.at(-1)!.Timestamp) - Date.parse(recorded[0]!.Timestamp) : 0;
  const now = (o.now ?? Date.now)();
  const events = rewriteRecording(recorded, {
    device: { id: agent.agentId, name: o.hostName }, detonationId, ipMap: o.ipMap,
    endAt: o.keepTime ? undefined : warpedStart(now, span, speed) + span,
  });
  await releasePlan(recordingPlan(events, detonationId), { speed, sink: (batch) => agent.enqueue(batch) });
  await agent.drained();
  return { detonationId, events: events.length, first: events[0]?.Timestamp, last: events.at(-1)?.Timestamp };
}

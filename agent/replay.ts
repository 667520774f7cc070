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
  /**
   * Wait for acks so the spool never holds more than it can (default true). Off, a recording
   * larger than the spool overflows it; the drops are counted in the result either way.
   */
  backPressure?: boolean;
}

export interface ReplayResult {
  detonationId: string;
  /** Events in the recording (all of them handed to the agent). */
  events: number;
  /** Of those, events the agent's spool dropped before they were acked (0 unless something overflowed it). */
  dropped: number;
  first?: string;
  last?: string;
}

/**
 * Sends a recorded stream through the real agent path (its identity, socket, outbox and acks)
 * as a new run: this agent's ids, a new DetonationId, new ReportIds, rewritten addresses, and
 * timestamps that keep their spacing. Back-pressure: events go into the spool only as far as it
 * has room, the rest wait here for acks, so a recording larger than the spool is delivered
 * whole. Resolves once every event is acked (or dropped: `dropped` counts them).
 */
export async function replayThroughAgent(agent: Agent, recorded: readonly SensorEvent[], o: ReplayOptions): Promise<ReplayResult> {
  if (!agent.agentId) throw new Error('the agent is not enrolled');
  const detonationId = o.detonationId ?? randomUUID();
  const speed = o.speed ?? 0;
  const span = recorded.length ? Date.parse(recorded.at(-1)!.Timestamp) - Date.parse(recorded[0]!.Timestamp) : 0;
  const now = (o.now ?? Date.now)();
  const events = rewriteRecording(recorded, {
    device: { id: agent.agentId, name: o.hostName }, detonationId, ipMap: o.ipMap,
    endAt: o.keepTime ? undefined : warpedStart(now, span, speed) + span,
  });
  const droppedBefore = agent.droppedEvents();
  const feeder = o.backPressure === false ? undefined : new SpoolFeeder(agent);
  await releasePlan(recordingPlan(events, detonationId), { speed, sink: (batch) => (feeder ? feeder.offer(batch) : agent.enqueue(batch)) });
  await feeder?.finished();
  await agent.drained();
  return {
    detonationId, events: events.length, dropped: agent.droppedEvents() - droppedBefore,
    first: events[0]?.Timestamp, last: events.at(-1)?.Timestamp,
  };
}

/** Hands events to the agent only as far as its spool has room; the rest wait for acks. */
class SpoolFeeder {
  private readonly waiting: SensorEvent[] = [];
  private pumping: Promise<void> = Promise.resolve();

  constructor(private readonly agent: Agent) {}

  offer(batch: SensorEvent[]): void {
    this.waiting.push(...batch);
    this.pumping = this.pumping.then(() => this.pump());
  }

  /** Resolves once every offered event is in the spool. */
  async finished(): Promise<void> {
    await this.pumping;
  }

  private async pump(): Promise<void> {
    while (this.waiting.length > 0) {
      const room = this.agent.spoolCapacity() - this.agent.pendingEvents();
      if (room <= 0) {
        if (this.agent.isStopped) throw new Error(`the agent stopped with ${this.waiting.length} events of the replay not yet spooled`);
        await this.acked();
        continue;
      }
      this.agent.enqueue(this.waiting.splice(0, room));
    }
  }

  /** The next ack (or the agent stopping, so a replay never hangs on a stopped agent). */
  private acked(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.agent.off('ack', done);
        resolve();
      };
      this.agent.on('ack', done);
      void this.agent.drained().then(done);
    });
  }
}

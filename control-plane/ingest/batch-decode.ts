import { AGENT_TO_SERVER, decodeFrame, type Message } from '../../protocol/index.ts';
import type { DetectionEngine, OsFamily } from '../detection/index.ts';
import { profileOf, type FileProfile } from '../detection/file-profile.ts';
import { toEventRows, type EventRows } from '../store/event-rows.ts';

/** One event of a batch that matched detection rules (selection matching only: stateless). */
export interface PreparedMatch {
  /** The event's index in the batch. */
  i: number;
  /** Ids of the detection rules whose selection it matched, in the rule index's order. */
  rules: string[];
  /** The file profile the rules read, as attached when they were matched (file-profile.ts). */
  profile?: FileProfile;
}

/**
 * An `events` frame decoded, validated and matched off the writer's thread (decode-worker.ts):
 * what the writer still needs, and nothing it would have to take apart again.
 */
export interface PreparedBatch {
  seq: number;
  /** Events in the batch. */
  count: number;
  rows: EventRows;
  /** Index of the first event whose DeviceId is not the sending agent's, -1 when none (the batch is then refused, unmatched). */
  foreign: number;
  /** The events that matched a rule, by index, ascending. */
  matches: PreparedMatch[];
}

/** What the writer's thread gets back for one frame. */
export type DecodeReply =
  | { ok: false; code: string; message: string; path?: string }
  /** A frame that turned out not to be an `events` batch: decoded, handled as usual. */
  | { ok: true; kind: 'message'; message: Message }
  | { ok: true; kind: 'events'; batch: PreparedBatch };

/** The OS family whose rules run on an event of a device of family `hostOs` (a scenario playback's is unknown). */
export function eventOs(detonationId: string | undefined, hostOs: OsFamily | undefined): OsFamily | undefined {
  return detonationId ? undefined : hostOs;
}

/**
 * Decodes one agent frame exactly as the session does (decodeFrame: same ARCSIM_E_* errors), and
 * for an `events` batch builds its store rows and runs every loaded rule's selection (the rule
 * index) on each event. The worker thread's whole job; a pure function of the engine's rules and
 * its file-profile cache.
 */
export function prepareFrame(engine: DetectionEngine, text: string, agentId: string, hostOs: OsFamily | undefined, maxEventsPerBatch: number): DecodeReply {
  const decoded = decodeFrame(text, AGENT_TO_SERVER, { maxEventsPerBatch });
  if (!decoded.ok) {
    const e = decoded.error;
    return e.path === undefined ? { ok: false, code: e.code, message: e.message } : { ok: false, code: e.code, message: e.message, path: e.path };
  }
  const msg = decoded.message;
  if (msg.type !== 'events') return { ok: true, kind: 'message', message: msg };
  const events = msg.events;
  const foreign = events.findIndex((e) => e.DeviceId !== agentId);
  const matches: PreparedMatch[] = [];
  // A refused batch is matched by nobody (as on the writer's thread, where it never reaches the engine).
  if (foreign < 0) {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const matched = engine.match(event, eventOs(event.DetonationId, hostOs));
      if (matched.length === 0) continue;
      const profile = profileOf(event as Record<string, unknown>);
      matches.push(profile ? { i, rules: matched.map((r) => r.id), profile: { ...profile } } : { i, rules: matched.map((r) => r.id) });
    }
  }
  return { ok: true, kind: 'events', batch: { seq: msg.seq, count: events.length, rows: toEventRows(events), foreign, matches } };
}

import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { EventSchema, type SensorEvent } from '../protocol/index.ts';
import { fileError } from '../protocol/errors.ts';
import type { PlannedEvent, PlayPlan } from './player.ts';

/**
 * A recording is NDJSON: one sensor event per line, in event-time order, exactly as the agent
 * would send it. Nothing else is in the file, so two recordings of the same run compare byte
 * for byte and any NDJSON tool can read them.
 */
export function toNdjson(events: readonly SensorEvent[]): string {
  return events.map((e) => JSON.stringify(e) + '\n').join('');
}

/** Reads a recording; each line must be a valid event (errors name the line and column). */
export function parseRecording(text: string, file = 'recording'): SensorEvent[] {
  const out: SensorEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw fileError('ARCSIM_E_SCENARIO_SCHEMA', file, `line ${i + 1}`, `not a JSON event: ${(err as Error).message}`);
    }
    const parsed = EventSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const code = issue.path[0] === 'Table' ? 'ARCSIM_E_SCENARIO_TABLE' : 'ARCSIM_E_SCENARIO_COLUMN';
      throw fileError(code, file, `line ${i + 1}${issue.path.length ? `.${issue.path.join('.')}` : ''}`, issue.message);
    }
    out.push(parsed.data);
  });
  return out.sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp));
}

export interface RewriteOptions {
  device: { id: string; name: string };
  detonationId: string;
  /** Addresses to replace, exact (`RemoteIP`) and inside strings (URLs, command lines). */
  ipMap?: Record<string, string>;
  /** Event time of the last event after the shift (spacing is kept); undefined keeps the recorded times. */
  endAt?: number;
  /** Source of ReportId randomness (injectable for tests). */
  random?: (n: number) => Uint8Array;
}

const IP_COLUMNS = ['RemoteIP', 'LocalIP', 'ClientIP'];

/**
 * Rewrites a recorded stream for another run: this agent's DeviceId and host name, a new
 * DetonationId, new ReportIds (so the store takes them as new events), mapped IP addresses,
 * and timestamps moved so the stream ends at `endAt` with its original spacing.
 */
export function rewriteRecording(events: readonly SensorEvent[], o: RewriteOptions): SensorEvent[] {
  if (events.length === 0) return [];
  const random = o.random ?? ((n: number) => randomBytes(n));
  const last = Date.parse(events[events.length - 1]!.Timestamp);
  const shift = o.endAt === undefined ? 0 : o.endAt - last;
  const map = Object.entries(o.ipMap ?? {});
  // An address inside a string must not be part of a longer one (10.0.0.1 vs 10.0.0.12).
  const patterns = map.map(([from, to]) => [new RegExp(`(?<![\\d.])${from.replace(/\./g, '\\.')}(?![\\d]|\\.\\d)`, 'g'), to] as const);
  return events.map((e) => {
    const time = Date.parse(e.Timestamp) + shift;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) {
      if (typeof v !== 'string' || k === 'Timestamp' || k === 'ReportId' || k === 'DeviceId' || k === 'DeviceName' || k === 'DetonationId' || k === 'Table') {
        out[k] = v;
      } else if (IP_COLUMNS.includes(k) && o.ipMap && v in o.ipMap) {
        out[k] = o.ipMap[v];
      } else {
        out[k] = patterns.reduce((s, [re, to]) => s.replace(re, to), v);
      }
    }
    return EventSchema.parse({
      ...out, Timestamp: new Date(time).toISOString(), DeviceId: o.device.id, DeviceName: o.device.name,
      ReportId: uuidv7({ msecs: time, random: random(16) }), DetonationId: o.detonationId,
    });
  });
}

/** Wraps a rewritten stream as a plan, so it is released (and time-warped) like a played scenario. */
export function recordingPlan(events: readonly SensorEvent[], detonationId: string): PlayPlan {
  const start = events.length ? Date.parse(events[0]!.Timestamp) : 0;
  const planned: PlannedEvent[] = events.map((event) => ({ offsetMs: Date.parse(event.Timestamp) - start, phase: 'detonate', event }));
  const span = planned.length ? planned[planned.length - 1]!.offsetMs : 0;
  return { slug: 'recording', variant: 'attack', detonationId, startTime: start, events: planned, cleanupStartMs: span, spanMs: span };
}

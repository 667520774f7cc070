import { v7 as uuidv7 } from 'uuid';
import { EventSchema, type SensorEvent } from '../protocol/index.ts';
import { parseDuration } from '../lib/duration.ts';
import { seededRandom } from '../lib/random.ts';
import type { InputValue, Scenario } from './schema.ts';
import { renderDeep, repeatCount, resolveInputs } from './loader.ts';
import { scenarioError } from './errors.ts';

export interface PlayOptions {
  variant?: 'attack' | 'benign';
  /** Same scenario + inputs + seed + start time = byte-identical events. */
  seed?: number | string;
  detonationId: string;
  device: { id: string; name: string };
  /** Event time of the scenario's start, ms since epoch. */
  startTime: number;
  inputs?: Record<string, InputValue>;
}

/** An event and when it happens, relative to the start of the playback (event time). */
export interface PlannedEvent {
  offsetMs: number;
  event: SensorEvent;
}

/**
 * Plans a playback: every event with its time, fully rendered and schema-checked.
 * Pure and deterministic (seeded jitter and ids); it executes nothing — the events only
 * describe what a sensor would have seen.
 */
export function planEvents(s: Scenario, options: PlayOptions): PlannedEvent[] {
  const variant = options.variant ?? 'attack';
  if (variant === 'benign' && !s.benign) throw scenarioError('ARCSIM_E_SCENARIO_SCHEMA', s.slug, 'benign', 'this scenario has no benign twin');
  const steps = variant === 'benign' ? s.benign!.steps : s.steps;
  const args = resolveInputs(s, options.inputs);
  const rng = seededRandom(options.seed ?? 1);
  const out: PlannedEvent[] = [];
  let cursor = 0;
  steps.forEach((step, i) => {
    const path = `${variant === 'benign' ? 'benign.steps' : 'steps'}.${i}`;
    const every = parseDuration(step.every);
    const jitter = parseDuration(step.jitter);
    const repeat = repeatCount(step, args, s.slug, path);
    cursor += parseDuration(step.after);
    for (let n = 0; n < repeat; n++) {
      const offset = cursor + n * every + (jitter > 0 ? Math.floor(rng.next() * jitter) : 0);
      step.events.forEach((template, j) => {
        const rendered = renderDeep(template, { ...args, index: n }) as Record<string, unknown>;
        const time = options.startTime + offset;
        const { Table, ActionType, ...rest } = rendered;
        const candidate = {
          Table, Timestamp: new Date(time).toISOString(), DeviceId: options.device.id, DeviceName: options.device.name,
          ActionType, ReportId: uuidv7({ msecs: time, random: rng.bytes(16) }), DetonationId: options.detonationId, ...rest,
        };
        const parsed = EventSchema.safeParse(candidate);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw scenarioError('ARCSIM_E_SCENARIO_COLUMN', s.slug, `${path}.events.${j}.${issue.path.join('.')}`, issue.message);
        }
        out.push({ offsetMs: offset, event: parsed.data });
      });
    }
    cursor += every * (repeat - 1) + jitter;
  });
  // Stable sort: events of one instant keep their written order.
  return out.sort((a, b) => a.offsetMs - b.offsetMs);
}

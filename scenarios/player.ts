import { v7 as uuidv7 } from 'uuid';
import { EventSchema, type SensorEvent } from '../protocol/index.ts';
import { ArcsimError, fileError } from '../protocol/errors.ts';
import { seededRandom } from '../lib/random.ts';
import { PHASES, variantPhases, type InputValue, type Phase, type Scenario, type Variant } from './schema.ts';
import { renderDeep, resolveInputs, stepTiming } from './loader.ts';

export interface PlayOptions {
  variant?: Variant;
  /** Same scenario + inputs + seed + start time = byte-identical events. */
  seed?: number | string;
  detonationId: string;
  device: { id: string; name: string };
  /**
   * Event time of the scenario's start, ms since epoch. A variant with `startTimeOfDay` starts
   * at the latest such UTC time of day at or before it.
   */
  startTime: number;
  inputs?: Record<string, InputValue>;
}

/** An event, its phase and when it happens, relative to the plan's start (event time). */
export interface PlannedEvent {
  offsetMs: number;
  phase: Phase;
  event: SensorEvent;
}

/** Why a warmup or detonation stopped early; cleanup was still planned after it. */
export interface PlanFailure {
  phase: Phase;
  code: string;
  path: string;
  message: string;
  error: ArcsimError;
}

/** A whole run: every event of every phase, in event-time order. */
export interface PlayPlan {
  slug: string;
  variant: Variant;
  detonationId: string;
  /** Event time of offset 0, ms (after `startTimeOfDay` alignment). */
  startTime: number;
  events: PlannedEvent[];
  /** Offset where the cleanup phase begins (the end of the detonation, or where it failed). */
  cleanupStartMs: number;
  /** Offset of the last event (0 when there is none). */
  spanMs: number;
  failure?: PlanFailure;
}

/** The latest instant at or before `t` whose UTC time of day is `hhmmss` (HH:MM or HH:MM:SS). */
export function alignToTimeOfDay(t: number, hhmmss: string): number {
  const [h, m, s] = hhmmss.split(':').map(Number);
  const day = Math.floor(t / 86_400_000) * 86_400_000;
  const candidate = day + ((h! * 60 + m!) * 60 + (s ?? 0)) * 1000;
  return candidate <= t ? candidate : candidate - 86_400_000;
}

/**
 * Plans a run: every event of warmup, detonate and cleanup with its time, fully rendered and
 * schema-checked. Pure and deterministic (seeded jitter and ids); it executes nothing — the
 * events only describe what a sensor would have seen.
 *
 * An event that fails validation (e.g. an overridden input out of range) stops its phase
 * there and is recorded in `failure`; a failed warmup skips the detonation; cleanup is always
 * planned, starting where the run stopped. Unknown or mistyped inputs throw before anything is
 * planned, since nothing would have run.
 */
export function planRun(s: Scenario, options: PlayOptions): PlayPlan {
  const variant = options.variant ?? 'attack';
  const v = variantPhases(s, variant);
  if (!v) throw fileError('ARCSIM_E_SCENARIO_SCHEMA', s.slug, 'benign', 'this scenario has no benign twin');
  const args = resolveInputs(s, options.inputs);
  const startTime = v.startTimeOfDay ? alignToTimeOfDay(options.startTime, v.startTimeOfDay) : options.startTime;
  const rng = seededRandom(options.seed ?? 1);
  // ReportIds also depend on the detonation: two runs are different events even when a pinned
  // start time (startTimeOfDay) and one seed give them the same timestamps.
  const ids = seededRandom(`${options.seed ?? 1}/${options.detonationId}`);
  const out: PlannedEvent[] = [];
  let cursor = 0;
  let failure: PlanFailure | undefined;
  let cleanupStartMs = 0;

  for (const phase of PHASES) {
    if (phase === 'cleanup') cleanupStartMs = cursor;
    else if (failure) continue; // a failed warmup skips the detonation
    const steps = v.phases[phase];
    try {
      steps.forEach((step, i) => {
        const path = `${v.prefix}${phase}.${i}`;
        const t = stepTiming(step, args, s.slug, path);
        cursor += t.after;
        for (let n = 0; n < t.repeat; n++) {
          const offset = cursor + n * t.every + (t.jitter > 0 ? Math.floor(rng.next() * t.jitter) : 0);
          step.events.forEach((template, j) => {
            const rendered = renderDeep(template, { ...args, index: n }) as Record<string, unknown>;
            const time = startTime + offset;
            const { Table, ActionType, ...rest } = rendered;
            const candidate = {
              Table, Timestamp: new Date(time).toISOString(), DeviceId: options.device.id, DeviceName: options.device.name,
              ...(ActionType === undefined ? {} : { ActionType }), ReportId: uuidv7({ msecs: time, random: ids.bytes(16) }), DetonationId: options.detonationId, ...rest,
            };
            const parsed = EventSchema.safeParse(candidate);
            if (!parsed.success) {
              const issue = parsed.error.issues[0]!;
              throw fileError('ARCSIM_E_SCENARIO_COLUMN', s.slug, `${path}.events.${j}.${issue.path.join('.')}`, issue.message);
            }
            out.push({ offsetMs: offset, phase, event: parsed.data });
          });
        }
        cursor += t.every * (t.repeat - 1) + t.jitter;
      });
    } catch (err) {
      if (!(err instanceof ArcsimError) || phase === 'cleanup') throw err;
      failure = { phase, code: err.code, path: err.path ?? '', message: err.message, error: err };
      // Cleanup starts after the last event that was emitted before the failure.
      for (const p of out) cursor = Math.max(cursor, p.offsetMs);
    }
  }
  // Stable sort: events of one instant keep their written order.
  out.sort((a, b) => a.offsetMs - b.offsetMs);
  return {
    slug: s.slug, variant, detonationId: options.detonationId, startTime, events: out, cleanupStartMs,
    spanMs: out.length ? out[out.length - 1]!.offsetMs : 0, failure,
  };
}

/**
 * Plans the events of a run and refuses a run that would fail: the strict form for recording
 * and tests. Throws the first event or timing error with its code and path.
 */
export function planEvents(s: Scenario, options: PlayOptions): PlannedEvent[] {
  const plan = planRun(s, options);
  if (plan.failure) throw plan.failure.error;
  return plan.events;
}

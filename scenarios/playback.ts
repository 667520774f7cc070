import type { SensorEvent } from '../protocol/index.ts';
import type { Phase } from './schema.ts';
import type { PlanFailure, PlannedEvent, PlayPlan } from './player.ts';

export interface ReleaseOptions {
  /**
   * Time-warp factor: event-time spacing is divided by `speed` in wall time (1 = real time,
   * 3600 = an hour per second). 0 releases everything at once. Timestamps never change.
   */
  speed: number;
  /** Receives events as they fall due (several at once when they share an instant). */
  sink: (events: SensorEvent[]) => void;
  /** Aborting stops warmup/detonation; the cleanup phase is then released straight away. */
  signal?: AbortSignal;
  /** Wall clock for pacing, ms (injectable so tests need not sleep). */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface ReleaseResult {
  released: number;
  byPhase: Record<Phase, number>;
  cancelled: boolean;
  failure: PlanFailure | undefined;
}

/**
 * Wall-clock start for a run of `spanMs` event time released at `speed`, so that no event is
 * stamped later than the moment it is sent: instant playback (speed 0) ends now; a warped
 * playback is back-dated by the time the warp saves.
 */
export function warpedStart(now: number, spanMs: number, speed: number): number {
  if (speed === 0) return now - spanMs;
  return Math.floor(now - Math.max(0, spanMs - spanMs / speed));
}

const defaultSleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) return resolve();
  const timer = setTimeout(done, ms);
  function done() {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  }
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Releases a planned run to `sink` at `speed`. Cleanup always runs: after the detonation, after
 * a detonation that failed while planning (`plan.failure`), and after a cancellation — then the
 * cleanup events are moved earlier so they follow the last released event with their own
 * spacing, and their timestamps and ReportIds are re-stamped to match.
 */
export async function releasePlan(plan: PlayPlan, options: ReleaseOptions): Promise<ReleaseResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const byPhase: Record<Phase, number> = { warmup: 0, detonate: 0, cleanup: 0 };
  const started = now();
  let lastOffset = 0;
  let cancelled = false;

  const emit = (group: PlannedEvent[]) => {
    if (group.length === 0) return;
    for (const p of group) byPhase[p.phase]++;
    options.sink(group.map((p) => p.event));
  };
  const pace = async (offsetMs: number, signal?: AbortSignal) => {
    if (options.speed <= 0) return;
    const due = started + offsetMs / options.speed - now();
    if (due > 0) await sleep(due, signal);
  };

  const main = plan.events.filter((p) => p.phase !== 'cleanup');
  let cleanup = plan.events.filter((p) => p.phase === 'cleanup');
  for (let i = 0; i < main.length;) {
    await pace(main[i]!.offsetMs, options.signal);
    if (options.signal?.aborted) {
      cancelled = true;
      break;
    }
    // Everything due by now goes out together.
    const elapsed = options.speed > 0 ? (now() - started) * options.speed : Infinity;
    const group: PlannedEvent[] = [];
    while (i < main.length && (group.length === 0 || main[i]!.offsetMs <= elapsed)) group.push(main[i++]!);
    emit(group);
    lastOffset = group[group.length - 1]!.offsetMs;
  }

  if (cancelled && cleanup.length > 0) {
    // Cleanup starts where the run was stopped, keeping its own relative timing.
    const stoppedAt = Math.max(lastOffset, options.speed > 0 ? Math.floor((now() - started) * options.speed) : lastOffset);
    const shift = stoppedAt - plan.cleanupStartMs;
    if (shift < 0) cleanup = cleanup.map((p) => retime(p, plan.startTime, p.offsetMs + shift));
  }
  const cleanupStarted = now();
  const cleanupBase = cleanup[0]?.offsetMs ?? 0;
  for (let i = 0; i < cleanup.length;) {
    if (options.speed > 0 && !cancelled) await pace(cleanup[i]!.offsetMs);
    else if (options.speed > 0) {
      const due = cleanupStarted + (cleanup[i]!.offsetMs - cleanupBase) / options.speed - now();
      if (due > 0) await sleep(due);
    }
    const group: PlannedEvent[] = [cleanup[i++]!];
    while (i < cleanup.length && (options.speed <= 0 || cleanup[i]!.offsetMs === group[0]!.offsetMs)) group.push(cleanup[i++]!);
    emit(group);
  }
  return { released: byPhase.warmup + byPhase.detonate + byPhase.cleanup, byPhase, cancelled, failure: plan.failure };
}

/** Moves a planned event to another offset: new Timestamp, and the ReportId's UUIDv7 time field to match. */
function retime(p: PlannedEvent, startTime: number, offsetMs: number): PlannedEvent {
  const time = startTime + offsetMs;
  return { ...p, offsetMs, event: { ...p.event, Timestamp: new Date(time).toISOString(), ReportId: uuidV7WithTime(p.event.ReportId, time) } };
}

/** A UUIDv7 with its 48-bit millisecond field replaced; the random bits (and so uniqueness) stay. */
export function uuidV7WithTime(id: string, ms: number): string {
  const hex = Math.floor(ms).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}${id.slice(13)}`;
}

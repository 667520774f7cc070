import type { Faults } from '../protocol/index.ts';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { issuePath } from '../protocol/errors.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { loadScenarioFile, type InputValue, type Scenario, type Variant } from '../scenarios/index.ts';
import type { ReleaseResult } from '../scenarios/playback.ts';
import { shippedLibrary } from './scenario-library.ts';

/** One cron entry of the agent's schedule file. */
export const ScheduleEntrySchema = z.strictObject({
  name: z.string().min(1).max(128),
  /** node-schedule cron: `m h dom mon dow`, or with a leading seconds field. */
  cron: z.string().min(1),
  /** A library slug, or a path to a scenario file. */
  scenario: z.string().min(1),
  variant: z.enum(['attack', 'benign']).default('attack'),
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  seed: z.union([z.number().int(), z.string()]).optional(),
  /** Time-warp factor (0 = all at once). */
  speed: z.number().nonnegative().default(0),
  /** Let this run overlap another run on the host; otherwise a run due while another plays is skipped. */
  allowOverlap: z.boolean().default(false),
});
export const ScheduleFileSchema = z.strictObject({ schedules: z.array(ScheduleEntrySchema) });
export type ScheduleEntry = z.infer<typeof ScheduleEntrySchema>;

/** Reads and checks a schedule file (YAML `schedules: [...]`); errors name the file and path. */
export function loadScheduleFile(file: string): ScheduleEntry[] {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length) throw new Error(`${file}: not valid YAML: ${doc.errors[0]!.message}`);
  const parsed = ScheduleFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file} at ${issuePath(issue.path) || '(root)'}: ${issue.message}`);
  }
  return parsed.data.schedules;
}

/** What to play, once resolved. */
export interface RunRequest {
  scenario: Scenario;
  variant: Variant;
  detonationId: string;
  seed?: number | string;
  speed?: number;
  inputs?: Record<string, InputValue>;
  allowOverlap?: boolean;
  /** Delivery faults for this playback only (issue #7 test runs). */
  faults?: Faults;
  /** `command` or `schedule:<name>`, for logs. */
  source: string;
}

export type PlayFn = (req: RunRequest, signal: AbortSignal) => Promise<ReleaseResult>;
/** Starts a cron job; returns something to cancel it. Injectable so tests can fire jobs by hand. */
export type ScheduleJobFn = (cron: string, fire: () => void) => { cancel(): void };

let nodeSchedule: Pick<typeof import('node-schedule'), 'scheduleJob'> | undefined;

/**
 * Loads node-schedule (with luxon, ~2.5 MB of RSS) before the first cron job, not at start: most
 * agents have no schedule file. A dynamic import, so the agent bundle carries it without running it.
 */
export async function loadNodeSchedule(): Promise<void> {
  nodeSchedule ??= await import('node-schedule');
}

const nodeScheduleJob: ScheduleJobFn = (cron, fire) => {
  if (!nodeSchedule) throw new Error('node-schedule is not loaded: await loadNodeSchedule() before scheduling');
  const job = nodeSchedule.scheduleJob(cron, fire);
  if (!job) throw new Error(`"${cron}" is not a valid cron expression`);
  return job;
};

/** Finds a schedule's scenario: a library slug, or a file path. */
export function resolveScenarioRef(ref: string, library: () => Map<string, Scenario> = shippedLibrary): Scenario {
  const bySlug = library().get(ref);
  if (bySlug) return bySlug;
  if (existsSync(ref)) return loadScenarioFile(ref);
  throw new Error(`scenario "${ref}" is neither a library slug nor a scenario file`);
}

/**
 * Runs scenarios on one host: now (a control-plane command) or on cron schedules. Runs never
 * overlap unless a run allows it: a command waits its turn, a scheduled run that falls due
 * while another is playing is skipped (and logged), as cron-style jobs usually are.
 * Every run can be cancelled by its detonation id; its cleanup phase still plays.
 */
export class ScenarioRunner {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<unknown>; exclusive: boolean }>();
  private readonly jobs: Array<{ cancel(): void }> = [];
  private readonly logger: Logger;
  private readonly scheduleJob: ScheduleJobFn;
  private readonly newId: () => string;

  constructor(private readonly deps: {
    play: PlayFn;
    logger?: Logger;
    scheduleJob?: ScheduleJobFn;
    newId?: () => string;
    resolveScenario?: (ref: string) => Scenario;
  }) {
    this.logger = deps.logger ?? silentLogger();
    this.scheduleJob = deps.scheduleJob ?? nodeScheduleJob;
    this.newId = deps.newId ?? randomUUID;
  }

  /** Detonation ids playing now. */
  active(): string[] {
    return [...this.running.keys()];
  }

  /** Resolves once every run playing now has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** True while a run plays or waits. */
  busy(): boolean {
    return this.running.size > 0 || this.waiting > 0;
  }

  /**
   * Plays `req`. With `ifBusy: 'skip'` a non-overlapping run is dropped (resolves undefined)
   * when the host is busy; with `'wait'` it queues behind the current run.
   */
  async run(req: RunRequest, ifBusy: 'wait' | 'skip' = 'wait'): Promise<ReleaseResult | undefined> {
    if (this.running.has(req.detonationId)) throw new Error(`detonation ${req.detonationId} is already playing`);
    if (req.allowOverlap) return this.start(req, false);
    if (ifBusy === 'skip' && this.busy()) {
      this.logger.warn('scheduled run skipped: another run is still playing on this host', { source: req.source, scenario: req.scenario.slug, playing: this.active() });
      return undefined;
    }
    this.waiting++;
    const turn = this.tail.then(async () => {
      // An exclusive run also waits for overlapping runs that are still playing.
      await Promise.allSettled([...this.running.values()].map((r) => r.done));
      this.waiting--;
      return this.start(req, true);
    });
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async start(req: RunRequest, exclusive: boolean): Promise<ReleaseResult> {
    const controller = new AbortController();
    this.logger.info('playing scenario', { scenario: req.scenario.slug, variant: req.variant, detonationId: req.detonationId, source: req.source });
    const done = this.deps.play(req, controller.signal);
    this.running.set(req.detonationId, { controller, done: done.catch(() => undefined), exclusive });
    try {
      return await done;
    } finally {
      this.running.delete(req.detonationId);
    }
  }

  /** Stops a run's warmup/detonation (its cleanup still plays); false when no such run plays. */
  cancel(detonationId: string): boolean {
    const r = this.running.get(detonationId);
    if (!r) return false;
    r.controller.abort();
    return true;
  }

  /** Starts cron jobs for `entries`; every scenario and cron expression is checked first. */
  schedule(entries: ScheduleEntry[]): void {
    const resolve = this.deps.resolveScenario ?? ((ref: string) => resolveScenarioRef(ref));
    const resolved = entries.map((e, i) => {
      try {
        return { entry: e, scenario: resolve(e.scenario) };
      } catch (err) {
        throw new Error(`schedules.${i} (${e.name}): ${(err as Error).message}`);
      }
    });
    const started: Array<{ cancel(): void }> = [];
    try {
      for (const [i, { entry, scenario }] of resolved.entries()) {
        try {
          started.push(this.scheduleJob(entry.cron, () => void this.fire(entry, scenario)));
        } catch (err) {
          throw new Error(`schedules.${i}.cron (${entry.name}): ${(err as Error).message}`);
        }
      }
    } catch (err) {
      for (const j of started) j.cancel();
      throw err;
    }
    this.jobs.push(...started);
  }

  private async fire(entry: ScheduleEntry, scenario: Scenario): Promise<void> {
    const req: RunRequest = {
      scenario, variant: entry.variant, detonationId: this.newId(), seed: entry.seed, speed: entry.speed,
      inputs: entry.inputs, allowOverlap: entry.allowOverlap, source: `schedule:${entry.name}`,
    };
    try {
      const r = await this.run(req, 'skip');
      if (r) this.logger.info('scheduled run finished', { schedule: entry.name, detonationId: req.detonationId, events: r.released, failure: r.failure?.message });
    } catch (err) {
      this.logger.error('scheduled run failed', { schedule: entry.name, error: (err as Error).message });
    }
  }

  /** Cancels every cron job and aborts running plays (their cleanup is still released). */
  stop(): void {
    for (const j of this.jobs.splice(0)) j.cancel();
    for (const r of this.running.values()) r.controller.abort();
  }
}

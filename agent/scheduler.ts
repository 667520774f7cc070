import type { Faults } from '../protocol/index.ts';
import { randomUUID } from 'node:crypto';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { InputValue, Scenario, Variant } from '../scenarios/index.ts';
import type { ReleaseResult } from '../scenarios/playback.ts';
import type { ScheduleEntry } from './schedule-file.ts';

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
let scheduleFile: Pick<typeof import('./schedule-file.ts'), 'resolveScenarioRef'> | undefined;

/**
 * Loads what schedules need before the first one, not at start (most agents have no schedule
 * file): the scenario resolver (YAML, scenario loader, embedded library) and, unless cron jobs are
 * started another way, node-schedule (with luxon, ~2.5 MB of RSS). Dynamic imports, so the agent
 * bundle carries them without running them.
 */
export async function loadScheduling(o: { nodeSchedule: boolean } = { nodeSchedule: true }): Promise<void> {
  scheduleFile ??= await import('./schedule-file.ts');
  if (o.nodeSchedule) nodeSchedule ??= await import('node-schedule');
}

const nodeScheduleJob: ScheduleJobFn = (cron, fire) => {
  if (!nodeSchedule) throw new Error('node-schedule is not loaded: await loadScheduling() before scheduling');
  const job = nodeSchedule.scheduleJob(cron, fire);
  if (!job) throw new Error(`"${cron}" is not a valid cron expression`);
  return job;
};

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
    const resolve = this.deps.resolveScenario ?? ((ref: string) => {
      if (!scheduleFile) throw new Error('the scenario resolver is not loaded: await loadScheduling() before scheduling');
      return scheduleFile.resolveScenarioRef(ref);
    });
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

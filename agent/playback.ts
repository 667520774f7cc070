import type { MachineFacts, SensorEvent, TableName } from '../protocol/index.ts';
import { protocolError } from '../protocol/errors.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { releasePlan, warpedStart, type ReleaseResult } from '../scenarios/playback.ts';
import type { Extensions } from './extension-state.ts';
import { FaultInjector } from './fault-injector.ts';
import type { Outbox } from './outbox.ts';
import type { RunRequest } from './scheduler.ts';

/** What a playback needs from the running agent. */
interface PlaybackDeps {
  clock: Clock;
  logger: Logger;
  /** The agent id and the host's last registered facts (the events' DeviceId and DeviceName). */
  device: () => Promise<{ id: string; machine: MachineFacts }>;
  outbox: () => Outbox;
  extensions: () => Extensions;
  /** Each collected event, as it is spooled. */
  spooled: (e: SensorEvent) => void;
  /** Resolves when the agent stops (a run then ends with its events left in the spool). */
  stopped: Promise<void>;
  isStopped: () => boolean;
}

/** One line on how a failed or cancelled run ended. */
export function describeRun(r: ReleaseResult): string {
  const what = r.failure ? `${r.failure.phase} failed: ${r.failure.code}: ${r.failure.message}` : 'cancelled';
  return `${what}; ${r.byPhase.warmup + r.byPhase.detonate} events played before, cleanup played ${r.byPhase.cleanup}`;
}

/**
 * Scenario playback on this host: synthetic events only, never executing scenario content. Keeps,
 * per run in progress, the events no installed extension collects.
 */
export class Playback {
  private readonly notCollected = new Map<string, Partial<Record<TableName, number>>>();

  constructor(private readonly d: PlaybackDeps) {}

  /** Events of run `detonationId` that no installed extension collects, per table; forgotten once taken. */
  takeNotCollected(detonationId: string): Partial<Record<TableName, number>> {
    const n = this.notCollected.get(detonationId) ?? {};
    this.notCollected.delete(detonationId);
    return n;
  }

  /**
   * One run: plans every phase (pure, deterministic), releases the events at `speed` (0 = at
   * once; timestamps keep their original spacing and are placed so none lies in the future),
   * keeps those an installed extension's sensor collects (the rest are counted as not
   * collected), spools them and waits for every ack. Cleanup is released even when the run
   * fails or is aborted. `released` counts the events collected.
   */
  async run(req: RunRequest, signal?: AbortSignal): Promise<ReleaseResult> {
    const outbox = this.d.outbox();
    const extensions = this.d.extensions();
    const device = await this.d.device();
    const speed = req.speed ?? 0;
    // Loaded on the first run: an idle agent never evaluates the scenario code.
    const { planRun, wrongOsReason } = await import('../scenarios/index.ts');
    // OS-true: a scenario written for another OS is refused before any event (never Windows events on Linux).
    const wrongOs = wrongOsReason(req.scenario, device.machine);
    if (wrongOs) throw protocolError('ARCSIM_E_PLAY_WRONG_OS', wrongOs, 'scenario.platforms');
    const options = {
      variant: req.variant, seed: req.seed, detonationId: req.detonationId, inputs: req.inputs,
      device: { id: device.id, name: device.machine.hostname },
    };
    const now = this.d.clock.now();
    const span = planRun(req.scenario, { ...options, startTime: now }).spanMs;
    const plan = planRun(req.scenario, { ...options, startTime: warpedStart(now, span, speed) });
    const skipped: Partial<Record<TableName, number>> = {};
    this.notCollected.set(req.detonationId, skipped);
    let collectedCount = 0;
    const sink = (events: SensorEvent[]) => {
      const { collected, notCollected } = extensions.filter(events);
      for (const [table, n] of Object.entries(notCollected)) skipped[table as TableName] = (skipped[table as TableName] ?? 0) + (n ?? 0);
      if (collected.length === 0) return;
      collectedCount += collected.length;
      // Sent from here on only through the network, so 'spooled' still comes before any ack.
      outbox.push(collected);
      for (const e of collected) this.d.spooled(e);
    };
    // FAULT SEAM (issue #7): a run-scenario command may carry delivery faults for this playback only.
    outbox.faults = req.faults ? new FaultInjector(req.faults, req.seed ?? req.detonationId) : undefined;
    if (outbox.faults) plan.events = outbox.faults.arrange(plan.events);
    try {
      const result = await releasePlan(plan, { speed, signal, sink });
      if (Object.keys(skipped).length > 0) {
        this.d.logger.info('events not collected: no installed extension has their sensor', { detonationId: req.detonationId, notCollected: skipped });
      }
      await Promise.race([outbox.spool.drained(), this.d.stopped]);
      if (this.d.isStopped()) throw new Error('agent stopped before every event was acked (they stay in the spool)');
      return { ...result, released: collectedCount };
    } finally {
      outbox.faults = undefined;
    }
  }
}

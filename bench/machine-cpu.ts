import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** CPU time of the whole machine (every core, every process) since boot, ms. */
export interface MachineCpu {
  busyMs: number;
  totalMs: number;
}

/**
 * Reads the kernel's per-core counters. Used to see how much CPU *other* processes took
 * during a timed phase: on a shared machine that, not the code, often explains a slow run.
 */
export function machineCpu(): MachineCpu {
  let busyMs = 0;
  let totalMs = 0;
  for (const { times } of cpus()) {
    const busy = times.user + times.nice + times.sys + times.irq;
    busyMs += busy;
    totalMs += busy + times.idle;
  }
  return { busyMs, totalMs };
}

/** Share (0..1) of the machine's CPU left idle over the next `ms`. */
export async function idleShare(ms: number): Promise<number> {
  const a = machineCpu();
  await sleep(ms);
  const b = machineCpu();
  const total = b.totalMs - a.totalMs;
  return total > 0 ? 1 - (b.busyMs - a.busyMs) / total : 1;
}

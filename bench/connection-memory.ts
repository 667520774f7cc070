/**
 * What one connected, idle agent costs the control plane in memory (issue 16, goal 4):
 * `node --expose-gc --import tsx bench/connection-memory.ts [STEP] [STEPS]` (default 1,000 × 2).
 * A control plane on a fresh SQLite store runs in this process; STEPS fleet processes of STEP agents
 * each (bench/connections-fleet.ts, heartbeats and batches so rare they never come) connect one
 * after the other. After each step, with the garbage collected, it prints RSS, V8 heap used and
 * `external` + `arrayBuffers` (socket and ws buffers live there), and the difference per agent from
 * the step before; with BENCH_HEAP_DIR=dir, a heap snapshot after each step. Not part of
 * `npm run bench`: a measurement for docs/performance.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { systemClock } from '../lib/clock.ts';
import { createControlPlane, openSqliteStore } from '../control-plane/index.ts';
import { createEnrollmentToken, enrollAgent } from '../control-plane/auth/enrollment.ts';
import type { ConnAgentPlan, FromConnFleet, ToConnFleet } from './connections-messages.ts';
import { ensureFdLimit } from './fd-limit.ts';

const FLEET_ENTRY = join(import.meta.dirname, 'connections-fleet.ts');
/** Heartbeat and batch interval of the idle agents: longer than the measurement, so none is sent, ms. */
const NEVER_MS = 24 * 3600_000;

const step = Number(process.argv[2] ?? 1000);
const steps = Number(process.argv[3] ?? 2);

function snapshot(): { rss: number; heap: number; external: number } {
  for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
}

async function main(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) console.log('(run with --expose-gc for figures after a full collection)');
  const fd = ensureFdLimit(step * steps + 512);
  if (!fd.ok) throw new Error(fd.note);
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-connmem-'));
  const store = openSqliteStore({ file: join(dir, 'connmem.db') });
  const token = await createEnrollmentToken(store, { subscription: 'sub-mem', resourceGroup: 'rg-mem' }, systemClock);
  const plans: ConnAgentPlan[] = [];
  for (let i = 0; i < step * steps; i++) {
    const hostname = `mem-${String(i).padStart(5, '0')}`;
    const e = await enrollAgent(store, token.token, hostname, systemClock);
    plans.push({ agentId: e.agentId, agentKey: e.agentKey, hostname });
  }
  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false } } });
  const url = await cp.listen();
  const wsUrl = `${url.replace('http', 'ws')}/agent/v1`;
  const children: ChildProcess[] = [];
  const MB = 2 ** 20;
  try {
    // BENCH_HEAP_DIR=dir: a V8 heap snapshot after each step, to see what an agent's memory is made of.
    const heapDir = process.env.BENCH_HEAP_DIR;
    let before = snapshot();
    if (heapDir) writeHeapSnapshot(join(heapDir, 'agents-0.heapsnapshot'));
    console.log(`0 agents: RSS ${(before.rss / MB).toFixed(1)} MB, heap ${(before.heap / MB).toFixed(1)} MB, external+arrayBuffers ${(before.external / MB).toFixed(1)} MB`);
    for (let s = 0; s < steps; s++) {
      const child = fork(FLEET_ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      children.push(child);
      const next = (type: FromConnFleet['type']) => new Promise<void>((resolve, reject) => {
        const on = (m: FromConnFleet) => {
          if (m.type === 'failed') reject(new Error(m.message));
          else if (m.type === type) { child.off('message', on); resolve(); }
        };
        child.on('message', on);
      });
      const ready = next('ready');
      child.send({
        type: 'plan', wsUrl, agents: plans.slice(s * step, (s + 1) * step), heartbeatMs: NEVER_MS, batchMs: NEVER_MS,
        batchEvents: 1, template: {}, deadlineMs: 120_000,
      } satisfies ToConnFleet);
      await ready;
      const connected = next('connected');
      child.send({ type: 'go' } satisfies ToConnFleet);
      await connected;
      await cp.inventory.idle();
      await new Promise((r) => setTimeout(r, 2000)); // provisioning and the heartbeat writer settle
      const now = snapshot();
      const per = (k: keyof typeof now) => ((now[k] - before[k]) / step / 1024).toFixed(1);
      console.log(`${(s + 1) * step} agents (${cp.admission().refused} refusals so far): RSS ${(now.rss / MB).toFixed(1)} MB, heap ${(now.heap / MB).toFixed(1)} MB, external+arrayBuffers ${(now.external / MB).toFixed(1)} MB; per agent of this step: RSS ${per('rss')} KB, heap ${per('heap')} KB, external ${per('external')} KB`);
      before = now;
      if (heapDir) writeHeapSnapshot(join(heapDir, `agents-${(s + 1) * step}.heapsnapshot`));
    }
  } finally {
    for (const c of children) c.kill();
    await cp.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { openSqliteStore } from '../../control-plane/index.ts';
import { createEnrollmentToken } from '../../control-plane/auth/enrollment.ts';
import { systemClock } from '../../lib/clock.ts';
import { cleanup, tempDir } from '../helpers.ts';
import { ackedSoFar, eventsOf, report, startStreamingAgent, stream, tally, until } from './chaos-support.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** `arcsim control-plane` as its own process on `dataDir`; resolves with its URL once it listens. */
async function controlPlaneProcess(dataDir: string, port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'control-plane', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`control plane exited (${code}) before listening: ${out}`)));
  });
  return { child, url };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

test('chaos kill -9: the control plane is killed during ingest and restarted on its data dir; every acked event is stored, none twice', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const dataDir = join(dir, 'cp');
  // The token is written into the store before the process opens it (the admin key is not needed).
  const seedStore = openSqliteStore({ file: join(dataDir, 'arcsim.db') });
  const { token } = await createEnrollmentToken(seedStore, { subscription: 's', resourceGroup: 'rg' }, systemClock);
  await seedStore.close();

  let cp = await controlPlaneProcess(dataDir, 0);
  t.after(() => { cp.child.kill('SIGKILL'); });
  const port = Number(new URL(cp.url).port);
  const agent = await startStreamingAgent(cp.url, token, dir, 9);
  t.after(() => agent.stop());
  const events = eventsOf(agent.agentId!, 12_000, 'chaos-kill-9');

  let spooled = 0;
  agent.on('spooled', () => spooled++);
  const streaming = stream(agent, events);
  // Kill it in the middle of the stream, with batches in flight.
  await until(() => ackedSoFar(agent, spooled) >= 3000, '3000 acked events');
  const ackedAtKill = ackedSoFar(agent, spooled);
  cp.child.kill('SIGKILL');
  await killed(cp.child);
  await new Promise((r) => setTimeout(r, 300)); // the agent notices, and keeps spooling meanwhile
  cp = await controlPlaneProcess(dataDir, port);

  await streaming;
  await until(() => agent.pendingEvents() === 0, 'every event acked after the restart', 30_000);
  const acked = ackedSoFar(agent, spooled);
  await agent.stop();
  cp.child.kill('SIGTERM');
  await killed(cp.child);

  const store = openSqliteStore({ file: join(dataDir, 'arcsim.db') });
  t.after(() => store.close());
  const r = await tally(store, events, 'chaos-kill-9', acked);
  report('kill-9', r, `killed after ${ackedAtKill} acked`);
  assert.ok(ackedAtKill >= 3000 && ackedAtKill < events.length, 'killed during ingest');
  assert.deepEqual([r.acked, r.stored, r.lost, r.duplicates], [12_000, 12_000, 0, 0]);
});

/**
 * Issue 16, goal 5: replicas starting together on an empty PostgreSQL database create exactly one
 * admin key, and only one of them prints it. Before the fix each replica read "no key yet", then
 * wrote its own: both printed a key and only the last writer's worked.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createControlPlane } from '../../control-plane/index.ts';
import { openPostgresStore } from '../../control-plane/store/postgres-store.ts';
import { keyedFetch } from '../helpers.ts';
import { startTestPostgres } from '../support/postgres.ts';

const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

describe('first start of several replicas on one empty database', () => {
  const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, { skip: postgres.skip }, fn);

  it('two control planes opened at once: exactly one admin key is created, and it works on both', async (t) => {
    const db = await postgres.pg!.createDatabase();
    const replicas = await Promise.all([0, 1].map(async () => {
      const store = await openPostgresStore({ connectionString: db });
      const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1' } });
      t.after(async () => { await cp.close(); await store.close(); });
      return { cp, store };
    }));
    // Both start-ups reach the admin-key step together, as two replicas launched at once do.
    const keys = await Promise.all(replicas.map((r) => r.cp.ensureAdminKey()));
    const created = keys.filter((k): k is string => k !== undefined);
    assert.equal(created.length, 1, `exactly one replica creates (and may print) the admin key; got ${created.length}`);
    for (const r of replicas) {
      const url = await r.cp.listen();
      assert.equal((await keyedFetch(created[0]!)(`${url}/api/alerts`)).status, 200, 'the one printed key is the stored key');
      assert.equal((await keyedFetch('arcsim_admin_not-the-key')(`${url}/api/alerts`)).status, 401);
    }
    // A later start finds the key: nothing printed, the same key still works.
    assert.equal(await replicas[0]!.cp.ensureAdminKey(), undefined);
  });

  it('two `arcsim control-plane --store postgres://…` processes started at once: one prints the admin key, which works on both', async (t) => {
    const db = await postgres.pg!.createDatabase();
    const start = (): { child: ChildProcess; ready: Promise<{ url: string; out: string }> } => {
      const child = spawn(process.execPath, [BIN, 'control-plane', '--port', '0', '--host', '127.0.0.1', '--store', db], { env: { ...process.env, ARCSIM_LOG_LEVEL: 'error' } });
      t.after(async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await once(child, 'exit');
        }
      });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      const ready = (async () => {
        // Up to 60 s: two CLI start-ups (tsx transpiling the sources) at once on a loaded 2-core box.
        for (let i = 0; i < 1200 && !/listening on (\S+)/.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
        const url = /listening on (\S+)/.exec(out)?.[1];
        assert.ok(url, `control plane did not start: ${out}`);
        // The key lines are written right after the listening line; let the pipe deliver them.
        await new Promise((r) => setTimeout(r, 300));
        return { url, out };
      })();
      return { child, ready };
    };
    const [a, b] = [start(), start()];
    const started = await Promise.all([a.ready, b.ready]);
    const printed = started.map((s) => /Admin API key[^\n]*\n\s*(\S+)/.exec(s.out)?.[1]).filter((k): k is string => k !== undefined);
    assert.equal(printed.length, 1, `exactly one replica prints an admin key; outputs:\n${started.map((s) => s.out).join('\n---\n')}`);
    for (const s of started) assert.equal((await keyedFetch(printed[0]!)(`${s.url}/api/alerts`)).status, 200);
  });
});

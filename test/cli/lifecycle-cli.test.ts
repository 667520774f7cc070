import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { cleanup, enableExtensions, startControlPlane, TEST_FACTS } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** Runs `arcsim ...` as a child process (the control plane lives in this one, so never synchronously). */
function arcsim(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('arcsim token create --max-uses, scenario run --wait and agent revoke against a live control plane', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const cli = { ARCSIM_CONTROL_PLANE: env.url, ARCSIM_ADMIN_KEY: (await env.cp.ensureAdminKey({ reset: true }))! };

  const created = await arcsim(['token', 'create', '--subscription', 'sub-1', '--resource-group', 'rg-1', '--max-uses', '2'], cli);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stderr, /enrolls 2 agent\(s\)/);
  const token = created.stdout.trim();
  const agent = new Agent({ controlPlane: env.url, token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: { ...TEST_FACTS, hostname: 'cli-host' }, sqlInstances: [] }) });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  await enableExtensions(env.cp, agent.agentId!);

  const run = await arcsim(['scenario', 'run', 'ssh-brute-force-failed', '--machine', 'cli-host', '--wait', '--json'], cli);
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.match(out.detonationId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(out.alerts.map((a: { alertType: string }) => a.alertType), ['VM_SshBruteForceFailed']);

  const unknown = await arcsim(['scenario', 'run', 'no-such-scenario', '--machine', 'cli-host'], cli);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^arcsim: ARCSIM_E_NOT_FOUND: /);

  const fatal = new Promise<Error>((resolve) => agent.once('fatal', resolve));
  const revoked = await arcsim(['agent', 'revoke', 'cli-host'], cli);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`^revoked agent ${agent.agentId} \\(machine cli-host\\)`));
  assert.match((await fatal).message, /revoked/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { uninstall } from '../../agent/installer.ts';
import { saveIdentity } from '../../agent/identity.ts';
import { installPaths } from '../../protocol/agent-service.ts';
import { cleanup, enroll, RawAgent, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

/** A stub `systemctl` first on PATH for the test's duration (uninstall calls it; no real service is touched). */
function stubSystemctl(t: { after(fn: () => unknown): void }, dir: string): void {
  const bin = join(dir, 'stub-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'systemctl'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, 'systemctl'), 0o755);
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  t.after(() => { process.env.PATH = saved; });
}

/** Lays out an installed agent under `root`: unit, env file, bundle and the identity. */
function fakeInstall(root: string, identity: { agentId: string; agentKey: string; controlPlane: string }): void {
  const p = installPaths(root);
  for (const d of [p.installDir, p.confDir, join(root, 'etc', 'systemd', 'system')]) mkdirSync(d, { recursive: true });
  writeFileSync(p.artifact, '// bundle\n');
  writeFileSync(p.envFile, `ARCSIM_CONTROL_PLANE=${identity.controlPlane}\n`);
  writeFileSync(p.unitFile, '[Unit]\n');
  saveIdentity(p.stateDir, { ...identity, enrolledAt: new Date().toISOString() });
}

test('agent uninstall deregisters: the machine is deleted and its key revoked before the files go', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  stubSystemctl(t, env.dir);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const creds = await enroll(env.url, token.token, 'vm-going-away');
  const raw = await RawAgent.connect(env.url, creds);
  await raw.register({ ...TEST_FACTS, hostname: 'vm-going-away' });
  raw.close(); // the service is stopped first
  await raw.closed;
  const root = join(env.dir, 'root');
  fakeInstall(root, { agentId: creds.agentId, agentKey: creds.agentKey, controlPlane: env.url });

  const log = await uninstall({ root });
  assert.ok(log.some((l) => /^deregistered agent .* \(deleted .*\/machines\/vm-going-away\); its key is revoked$/.test(l)), log.join('\n'));
  assert.deepEqual((await env.store.machines.listMachines()).map((m) => m.name), [], 'the inventory no longer shows it');
  assert.equal((await env.store.agents.getAgent(creds.agentId))?.revokedReason, 'deregistered');
  assert.equal(existsSync(installPaths(root).unitFile), false);
  assert.equal(existsSync(installPaths(root).installDir), false);
});

test('agent uninstall without a reachable control plane removes the files all the same and says the machine stays registered', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  stubSystemctl(t, dir);
  // A port nothing listens on.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const root = join(dir, 'root');
  fakeInstall(root, { agentId: 'a1', agentKey: 'arcsim_agent_x', controlPlane: `http://127.0.0.1:${port}` });
  const log = await uninstall({ root, timeoutMs: 3000 });
  assert.ok(log.some((l) => l.startsWith(`could not deregister from http://127.0.0.1:${port}`) && l.includes('the machine stays registered there')), log.join('\n'));
  assert.equal(existsSync(installPaths(root).unitFile), false);
  assert.equal(existsSync(installPaths(root).installDir), false);
  assert.equal(existsSync(installPaths(root).confDir), false);
});

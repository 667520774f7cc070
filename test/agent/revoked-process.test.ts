import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_REVOKED } from '../../protocol/agent-service.ts';
import { cleanup, startControlPlane } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim-agent.js');

test('a revoked agent process stops at once, says why in its log, and exits with the status its unit does not restart', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  // Metadata URLs on a closed loopback port: no real metadata service is asked.
  const config = join(env.dir, 'agent.yaml');
  writeFileSync(config, 'awsImdsUrl: http://127.0.0.1:9\ngcpMetadataUrl: http://127.0.0.1:9\n');
  const child = spawn(process.execPath, [BIN, 'run', '--control-plane', env.url, '--token', token.token, '--state-dir', join(env.dir, 'state'), '--config', config, '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const registered = new Promise<string>((resolve) => env.cp.once('registered', (s: { agentId: string }) => resolve(s.agentId)));
  const agentId = await Promise.race([registered, exited.then((c) => { throw new Error(`agent exited ${c}: ${output}`); })]);

  let upgrades = 0;
  env.cp.app.server.on('upgrade', () => upgrades++);
  const r = await env.cp.adminRequest('POST', `/api/agents/${agentId}/revoke`);
  assert.equal(r.status, 200);
  const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000))]);
  assert.equal(code, EXIT_REVOKED, output);
  assert.match(output, /key was revoked by the control plane \(ARCSIM_E_AGENT_REVOKED\); stopping and not reconnecting/);
  assert.match(output, /arcsim-agent: ARCSIM_E_AGENT_REVOKED: /);
  assert.equal(upgrades, 0, 'no reconnect attempt after the revocation');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, startControlPlane } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const EX = join(import.meta.dirname, '..', '..', 'examples', 'cspm');

/** Runs the CLI without blocking this process's event loop (the control plane runs in it). */
function arcsim(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('arcsim cspm connector set / import (all or nothing) and plan set, through the REST API with the admin key', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const key = (await env.cp.ensureAdminKey({ reset: true }))!;
  const vars = { ARCSIM_ADMIN_KEY: key };
  const cp = ['--control-plane', env.url];
  const truncated = join(env.dir, 'truncated.json');
  writeFileSync(truncated, '{"SecurityGroups": [{"GroupId": "sg-0');

  const set = await arcsim(['cspm', 'connector', 'set', 'aws-lab', join(EX, 'connector-aws-lab.json'), ...cp], vars);
  assert.equal(set.status, 0, set.stderr);
  const bad = await arcsim(['cspm', 'import', '--connector', 'aws-lab', join(EX, 'aws-describe-instances.json'), truncated, ...cp], vars);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /ARCSIM_E_SNAPSHOT_JSON: .*truncated\.json/);
  assert.equal((await env.store.inventory.listCspmResources()).length, 0, 'the good file was not imported either');
  const ok = await arcsim(['cspm', 'import', '--connector', 'aws-lab', join(EX, 'aws-describe-instances.json'), join(EX, 'aws-describe-security-groups.json'), ...cp], vars);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /aws-ec2-instances\s+3\s+3/);
  const plan = await arcsim(['plan', 'set', 'servers', 'on', '--connector', 'aws-lab', '--sub-plan', 'P1', ...cp], vars);
  assert.equal(plan.status, 0, plan.stderr);
  assert.deepEqual((await env.store.inventory.listPlans()).map((p) => [p.scopeKind, p.scope, p.plan, p.subPlan, p.enabled]), [['connector', 'aws-lab', 'VirtualMachines', 'P1', true]]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiKeyFor, cleanup, startControlPlane, tempDir, type TestControlPlane } from '../helpers.ts';

// Issue 12 item 5: a connector pull runs only the cloud CLI it names, with argv built from validated
// fields, never a shell; file sources only inside the import directory; readers see no commands.

const EX = join(import.meta.dirname, '..', '..', 'examples', 'cspm');
const json = (f: string) => JSON.parse(readFileSync(join(EX, f), 'utf8'));

interface Env {
  env: TestControlPlane;
  importDir: string;
  binDir: string;
  api(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any; text: string }>;
}

async function start(t: { after(fn: () => unknown): void }): Promise<Env> {
  // One directory for the data, the import dir and the fake CLIs' bin dir (the test's own PATH).
  const dir = tempDir();
  const importDir = join(dir, 'import');
  const binDir = join(dir, 'bin');
  mkdirSync(importDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  const env = await startControlPlane({ dir, config: { inventory: { schedulePulls: false, importDir, cliPath: binDir } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const admin = (await env.cp.ensureAdminKey({ reset: true }))!;
  const api: Env['api'] = async (method, path, body, key = admin) => {
    const res = await fetch(`${env.url}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
  };
  return { env, importDir, binDir, api };
}

/** A fake cloud CLI: records its argv (one per line) and prints a fixture; absolute paths only, PATH is the test's. */
function fakeCli(binDir: string, name: string, fixture: string): string {
  const argvFile = join(binDir, `${name}.argv`);
  writeFileSync(join(binDir, name), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${argvFile}'\n/bin/cat '${join(EX, fixture)}'\n`);
  chmodSync(join(binDir, name), 0o755);
  return argvFile;
}

test('found case: a free command string (id > FILE; echo {}) is refused, names its path and runs nothing', async (t) => {
  const e = await start(t);
  const marker = join(e.env.dir, 'x');
  const def = { ...json('connector-aws-lab.json'), pull: { schedule: '0 * * * *', sources: [{ command: `id > ${marker}; echo {}` }] } };
  const put = await e.api('PUT', '/api/connectors/aws-lab', def);
  assert.deepEqual([put.status, put.body.code, put.body.path], [400, 'ARCSIM_E_CONNECTOR_CONFIG', 'body.pull.sources.0.command']);
  const pull = await e.api('POST', '/api/connectors/aws-lab/pull');
  assert.equal(pull.body.code, 'ARCSIM_E_CONNECTOR_UNKNOWN', 'nothing was stored');
  assert.equal(existsSync(marker), false, 'no shell ran');
});

test('a definition stored before cli sources (with a command) is never run, and readers see it redacted', async (t) => {
  const e = await start(t);
  const marker = join(e.env.dir, 'legacy');
  const legacy = { ...json('connector-aws-lab.json'), pull: { schedule: '0 * * * *', sources: [{ command: `touch ${marker}`, kind: 'aws-ec2-instances' }] } };
  await e.env.store.inventory.upsertConnector({
    name: 'old', provider: 'AWS', accountId: '123456789012', subscription: legacy.subscription, resourceGroup: legacy.resourceGroup,
    location: 'eastus', config: legacy, createdAt: 0, updatedAt: 0,
  });
  const pull = await e.api('POST', '/api/connectors/old/pull');
  assert.deepEqual([pull.status, pull.body.code], [400, 'ARCSIM_E_CONNECTOR_CONFIG']);
  assert.equal(existsSync(marker), false);
  const reader = await apiKeyFor(e.env, 'reader');
  for (const path of ['/api/connectors', '/api/connectors/old']) {
    const r = await e.api('GET', path, undefined, reader);
    assert.equal(r.status, 200, path);
    assert.ok(!r.text.includes('touch'), `${path} does not show the command`);
    assert.ok(r.text.includes('[redacted]'), path);
  }
  assert.equal((await e.api('PUT', '/api/connectors/x', json('connector-aws-lab.json'), reader)).status, 403, 'reader may not write');
});

test('aws source: the control plane runs the aws CLI with argv from validated fields (no shell), output imported', async (t) => {
  const e = await start(t);
  const argvFile = fakeCli(e.binDir, 'aws', 'aws-describe-instances.json');
  const def = {
    ...json('connector-aws-lab.json'),
    pull: { schedule: '0 * * * *', sources: [{ cli: 'aws', kind: 'aws-ec2-instances', profile: 'lab-read', region: 'eu-west-1' }] },
  };
  assert.equal((await e.api('PUT', '/api/connectors/aws-lab', def)).status, 201);
  const r = await e.api('POST', '/api/connectors/aws-lab/pull');
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.body.snapshots.map((s: any) => [s.kind, s.resources]), [['aws-ec2-instances', 3]]);
  // https://docs.aws.amazon.com/cli/latest/reference/ec2/describe-instances.html + global options.
  assert.deepEqual(readFileSync(argvFile, 'utf8').trim().split('\n'),
    ['ec2', 'describe-instances', '--output', 'json', '--region', 'eu-west-1', '--profile', 'lab-read']);
  const reader = await apiKeyFor(e.env, 'reader');
  assert.equal((await e.api('GET', '/api/connectors/aws-lab', undefined, reader)).body.definition.pull.sources[0].profile, 'lab-read');
});

test('gcloud source: gcloud compute instances list --format json --project P', async (t) => {
  const e = await start(t);
  const argvFile = fakeCli(e.binDir, 'gcloud', 'gcp-instances.json');
  const def = { ...json('connector-gcp-lab.json'), pull: { schedule: '0 * * * *', sources: [{ cli: 'gcloud', kind: 'gcp-compute-instances' }] } };
  assert.equal((await e.api('PUT', '/api/connectors/gcp-lab', def)).status, 201);
  const r = await e.api('POST', '/api/connectors/gcp-lab/pull');
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(readFileSync(argvFile, 'utf8').trim().split('\n'), ['compute', 'instances', 'list', '--format', 'json', '--project', 'arcsim-lab-gcp']);
});

test('cli fields that could smuggle an option or a shell word are refused; a missing CLI is a typed failure', async (t) => {
  const e = await start(t);
  const base = json('connector-aws-lab.json');
  const bad: Array<[unknown, string]> = [
    [{ cli: 'aws', kind: 'aws-ec2-instances', profile: 'lab; id' }, 'body.pull.sources.0.profile'],
    [{ cli: 'aws', kind: 'aws-ec2-instances', profile: '--debug' }, 'body.pull.sources.0.profile'],
    [{ cli: 'aws', kind: 'aws-ec2-instances', region: 'us-east-1 --endpoint-url http://x' }, 'body.pull.sources.0.region'],
    [{ cli: 'gcloud', kind: 'aws-ec2-instances' }, 'body.pull.sources.0.kind'],
    [{ cli: 'sh', kind: 'aws-ec2-instances' }, 'body.pull.sources.0.cli'],
  ];
  for (const [source, path] of bad) {
    const r = await e.api('PUT', '/api/connectors/aws-lab', { ...base, pull: { schedule: '0 * * * *', sources: [source] } });
    assert.equal(r.body.code, 'ARCSIM_E_CONNECTOR_CONFIG', JSON.stringify(source));
    assert.ok(r.body.message.includes('sources.0'), `${JSON.stringify(source)}: ${r.body.message} (expected near ${path})`);
  }
  assert.equal((await e.api('PUT', '/api/connectors/aws-lab', { ...base, pull: { schedule: '0 * * * *', sources: [{ cli: 'aws', kind: 'aws-ec2-instances' }] } })).status, 201);
  const r = await e.api('POST', '/api/connectors/aws-lab/pull');
  assert.deepEqual([r.status, r.body.code], [502, 'ARCSIM_E_PULL_FAILED']);
  assert.match(r.body.message, /aws not found/);
});

test('file sources only inside the import directory: /etc/passwd, ../../etc/passwd and a symlink out are refused without echoing content', async (t) => {
  const e = await start(t);
  symlinkSync('/etc/passwd', join(e.importDir, 'link.json'));
  const base = json('connector-aws-lab.json');
  for (const file of ['/etc/passwd', '../../etc/passwd', 'link.json', 'sub/../../x.json']) {
    assert.equal((await e.api('PUT', '/api/connectors/aws-lab', { ...base, pull: { schedule: '0 * * * *', sources: [{ file }] } })).status < 300, true);
    const r = await e.api('POST', '/api/connectors/aws-lab/pull');
    assert.deepEqual([r.status, r.body.code, r.body.path], [400, 'ARCSIM_E_IMPORT_PATH', 'pull.sources.0.file'], `${file}: ${r.text}`);
    assert.ok(!r.text.includes('root:'), `${file}: no file content in the error`);
  }
});

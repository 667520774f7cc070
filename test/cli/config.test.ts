import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../control-plane/config-file.ts';
import { ControlPlaneConfigSchema } from '../../control-plane/control-plane.ts';
import { LIMITS } from '../../protocol/limits.ts';
import { ArcsimError } from '../../protocol/errors.ts';
import { cleanup, startControlPlane, tempDir } from '../helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'arcsim.js');

/** The environment of a spawned CLI: this process's, minus any arcsim variable the developer has exported. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ARCSIM_')));
  return { ...env, ...extra };
}

/** Runs the CLI to completion without blocking this process's event loop (servers run in it). */
function arcsim(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Starts `arcsim control-plane` on a new data dir and resolves once it prints its listening line and its new admin key. */
function startCli(args: string[]): Promise<{ child: ChildProcess; line: string; url: string; adminKey: string; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'control-plane', ...args], { env: cleanEnv({}) });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^arcsim control plane listening on (\S+) .*$/m.exec(out);
      const key = /^ {2}(arcsim_admin_\S+)$/m.exec(out);
      if (m && key) {
        resolve({
          child, line: m[0], url: m[1]!, adminKey: key[1]!,
          stop: () => new Promise((done) => { child.once('close', () => done()); child.kill('SIGTERM'); }),
        });
      }
    });
    child.once('close', (code) => reject(new Error(`control plane exited ${code}: ${err}`)));
  });
}

/** A loopback HTTP server that records what reaches it (to prove what the client sends, or that it sends nothing). */
async function recorder(t: { after(fn: () => Promise<void>): void }) {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.end('{"value":[]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function configError(fn: () => unknown): ArcsimError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ArcsimError, String(err));
    return err;
  }
  assert.fail('no error');
}

/** The defaults as docs/configuration.md states them (and, for limits, the units there), not read back from the code. */
const DOCUMENTED = {
  host: '127.0.0.1', port: 7070, insecureHttp: false, lateness: '5m', incidentWindow: '24h', sinks: [], metrics: { agentLabels: true },
  sync: { profile: 'mdc-classic', mdeStatusToMdc: false, sentinel: { enabled: false, bidirectional: true } },
  inventory: { missedHeartbeats: 3, expiredAfter: '45d', sweepInterval: '30s', commandTimeout: '60s', schedulePulls: true, maxPullBytes: 64 * 1024 * 1024, pullTimeoutMs: 120_000 },
  limits: {
    maxFrameBytes: 1024 * 1024, maxEventsPerBatch: 1000, maxEventsPerSecond: 5000, eventsBurst: 10_000,
    handshakeTimeoutMs: 10_000, pingIntervalMs: 30_000, heartbeatIntervalSec: 30, storeRetryAfterMs: 1000, rateLimitRetryAfterMs: 1000,
    maxRegistrationsInFlight: 16, maxRegistrationsPerCommit: 16, maxRegistrationsWaiting: 256, maxUpgradesPerTurn: 16, listenBacklog: 4096, busyRetryAfterMs: 2000, busyRetryMinMs: 250, admissionRateSamples: 64, heartbeatFlushMs: 1000, maxBatchesPerCommit: 32, maxEventsPerCommit: 2000, commitIntervalMs: 5, ingestWorkers: 0, maxBodyBytes: 1024 * 1024, maxImportBodyBytes: 64 * 1024 * 1024,
  },
};

test('examples/control-plane.yaml loads and states the documented defaults', () => {
  assert.deepEqual(loadConfigFile(join(ROOT, 'examples', 'control-plane.yaml')), { ...DOCUMENTED, logFormat: 'json' });
});

test('the defaults the control plane applies are the documented ones', () => {
  const applied = ControlPlaneConfigSchema.parse({});
  const { limits, ...rest } = DOCUMENTED;
  assert.deepEqual({ ...LIMITS }, limits);
  for (const [key, value] of Object.entries(rest)) assert.deepEqual(applied[key as keyof typeof applied], value, key);
});

test('a bad config file is refused with a typed error and the path of the key', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const unknown = configError(() => loadConfigFile(file('unknown.yaml', 'port: 7071\ninventory:\n  sweepInterval: 10s\n  sweepIntervall: 20s\n')));
  assert.equal(unknown.code, 'ARCSIM_E_CONFIG_SCHEMA');
  assert.equal(unknown.path, 'inventory.sweepIntervall');
  const duration = configError(() => loadConfigFile(file('duration.yaml', 'lateness: five minutes\n')));
  assert.equal(duration.code, 'ARCSIM_E_CONFIG_SCHEMA');
  assert.equal(duration.path, 'lateness');
  const type = configError(() => loadConfigFile(file('type.yaml', 'limits:\n  maxFrameBytes: lots\n')));
  assert.equal(type.path, 'limits.maxFrameBytes');
  const profile = configError(() => loadConfigFile(file('profile.yaml', 'sync: { profile: everything }\n')));
  assert.equal(profile.path, 'sync.profile');
  const both = configError(() => loadConfigFile(file('both.yaml', 'dataDir: d\nstoreUrl: postgres://a@b/c\n')));
  assert.equal(both.path, 'storeUrl');
  const yaml = configError(() => loadConfigFile(file('yaml.yaml', 'port: [7070\n')));
  assert.equal(yaml.code, 'ARCSIM_E_CONFIG_YAML');
  assert.equal(configError(() => loadConfigFile(join(dir, 'missing.yaml'))).code, 'ARCSIM_E_CONFIG_YAML');
  // Relative directories are relative to the file; an empty file sets nothing.
  assert.deepEqual(loadConfigFile(file('rel.yaml', 'dataDir: store\n')), { dataDir: join(dir, 'store') });
  assert.deepEqual(loadConfigFile(file('empty.yaml', '# nothing\n')), {});
});

test('sinks in the config file: defaults filled in, a bad sink refused with the path of its key', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const ok = loadConfigFile(file('ok.yaml', [
    'sinks:',
    '  - { name: siem, type: syslog, host: siem.lab }',
    '  - { name: soar, type: webhook, url: "https://soar.lab/hook", secret: "0123456789abcdef" }',
  ].join('\n')));
  // Defaults as docs/configuration.md states them.
  assert.deepEqual(ok.sinks, [
    { name: 'siem', type: 'syslog', host: 'siem.lab', transport: 'tcp', port: 514, format: 'cef', facility: 10, maxMessageBytes: 8096, appName: 'arcsim' },
    { name: 'soar', type: 'webhook', url: 'https://soar.lab/hook', secret: '0123456789abcdef', format: 'graph', timeoutMs: 10_000 },
  ]);
  const short = configError(() => loadConfigFile(file('short.yaml', 'sinks:\n  - { name: soar, type: webhook, url: "https://soar.lab/hook", secret: short }\n')));
  assert.equal(short.code, 'ARCSIM_E_CONFIG_SCHEMA');
  assert.equal(short.path, 'sinks.0.secret');
  const typo = configError(() => loadConfigFile(file('typo.yaml', 'sinks:\n  - { name: siem, type: syslog, host: h, transprot: udp }\n')));
  assert.equal(typo.path, 'sinks.0.transprot');
  const twice = configError(() => loadConfigFile(file('twice.yaml', 'sinks:\n  - { name: s, type: syslog, host: a }\n  - { name: s, type: syslog, host: b }\n')));
  assert.equal(twice.path, 'sinks');
  const kind = configError(() => loadConfigFile(file('kind.yaml', 'sinks:\n  - { name: s, type: kafka }\n')));
  assert.equal(kind.path, 'sinks.0.type');
});

test('arcsim control-plane --config: file values are used, a flag overrides the file, a bad file exits 1', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const config = join(dir, 'cp.yaml');
  writeFileSync(config, 'host: 127.0.0.1\nport: 0\ndataDir: from-file\npublicUrl: http://file.example:7443\nsync:\n  profile: xdr-unified\nlogFormat: pretty\n');

  const fromFile = await startCli(['--config', config]);
  try {
    assert.match(fromFile.line, new RegExp(`data: ${join(dir, 'from-file')}, public URL http://file.example:7443`));
    assert.ok(existsSync(join(dir, 'from-file', 'arcsim.db')));
    const sync = (await (await fetch(`${fromFile.url}/api/sync`, { headers: { authorization: `Bearer ${fromFile.adminKey}` } })).json()) as { config: { profile: string } };
    assert.equal(sync.config.profile, 'xdr-unified');
    assert.match(await (await fetch(`${fromFile.url}/install.sh`)).text(), /http:\/\/file\.example:7443/);
  } finally {
    await fromFile.stop();
  }

  const flagDir = join(dir, 'from-flag');
  const flags = await startCli(['--config', config, '--data-dir', flagDir, '--public-url', 'http://flag.example:8443']);
  try {
    assert.match(flags.line, new RegExp(`data: ${flagDir}, public URL http://flag.example:8443`));
    assert.ok(existsSync(join(flagDir, 'arcsim.db')));
    // Keys without a flag still come from the file.
    const sync = (await (await fetch(`${flags.url}/api/sync`, { headers: { authorization: `Bearer ${flags.adminKey}` } })).json()) as { config: { profile: string } };
    assert.equal(sync.config.profile, 'xdr-unified');
  } finally {
    await flags.stop();
  }

  writeFileSync(config, 'port: 0\nlistenPort: 7070\n');
  const bad = await arcsim(['control-plane', '--config', config]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^arcsim: ARCSIM_E_CONFIG_SCHEMA: .*listenPort: unknown key listenPort/m);
});

test('ARCSIM_CONTROL_PLANE and ARCSIM_ADMIN_KEY alone are enough for an admin command', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const key = (await env.cp.ensureAdminKey({ reset: true }))!;
  const vars = { ARCSIM_CONTROL_PLANE: env.url, ARCSIM_ADMIN_KEY: key };
  const created = await arcsim(['token', 'create', '--subscription', '00000000-0000-4000-8000-000000000001', '--resource-group', 'rg-env', '--json'], vars);
  assert.equal(created.status, 0, created.stderr);
  const token = JSON.parse(created.stdout) as { id: string; resourceGroup: string };
  assert.equal(token.resourceGroup, 'rg-env');
  assert.deepEqual((await env.store.agents.listTokens()).map((x) => x.id), [token.id]);
  // A reply's own code comes through as a typed error.
  const missing = await arcsim(['token', 'revoke', 'no-such-token'], vars);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^arcsim: ARCSIM_E_NOT_FOUND: /m);
  // The flag beats the variable: a wrong key given on the command line is refused by the control plane.
  const wrong = await arcsim(['token', 'list', '--admin-key', 'arcsim_admin_wrong'], vars);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /ARCSIM_E_UNAUTHORIZED/);
});

test('no key: every API command, reads too, fails before any request; --api-key / ARCSIM_API_KEY is sent, before ARCSIM_ADMIN_KEY', async (t) => {
  const cp = await recorder(t);
  for (const vars of [{ ARCSIM_CONTROL_PLANE: cp.url }, { ARCSIM_CONTROL_PLANE: cp.url, ARCSIM_ADMIN_KEY: '' }, { ARCSIM_CONTROL_PLANE: cp.url, ARCSIM_API_KEY: '' }] as Array<Record<string, string>>) {
    const r = await arcsim(['token', 'list'], vars);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^arcsim: ARCSIM_E_ADMIN_KEY_REQUIRED: .*pass --api-key or set ARCSIM_API_KEY/m);
  }
  const run = await arcsim(['run', 'export', 'some-run', '--out', join(tempDir(), 'b.json')], { ARCSIM_CONTROL_PLANE: cp.url });
  assert.match(run.stderr, /ARCSIM_E_ADMIN_KEY_REQUIRED/);
  // Reads need a key now (issue 12: everything was readable without one).
  for (const args of [['inventory', 'assets'], ['run', 'list'], ['cspm', 'connector', 'list'], ['plan', 'list']]) {
    const read = await arcsim(args, { ARCSIM_CONTROL_PLANE: cp.url });
    assert.equal(read.status, 1, args.join(' '));
    assert.match(read.stderr, /ARCSIM_E_ADMIN_KEY_REQUIRED/, args.join(' '));
  }
  assert.equal(cp.seen.length, 0, 'nothing reached the control plane');

  const assets = await arcsim(['inventory', 'assets', '--json'], { ARCSIM_CONTROL_PLANE: cp.url, ARCSIM_API_KEY: 'arcsim_reader_from_env', ARCSIM_ADMIN_KEY: 'arcsim_admin_older' });
  assert.equal(assets.status, 0, assets.stderr);
  assert.deepEqual(JSON.parse(assets.stdout), { value: [] }, '--json prints the API answer, {value: [...]}');
  const viaAdmin = await arcsim(['inventory', 'assets'], { ARCSIM_CONTROL_PLANE: cp.url, ARCSIM_ADMIN_KEY: 'arcsim_admin_older' });
  assert.equal(viaAdmin.status, 0, viaAdmin.stderr);
  const viaFlag = await arcsim(['inventory', 'assets', '--api-key', 'arcsim_reader_flag'], { ARCSIM_CONTROL_PLANE: cp.url, ARCSIM_API_KEY: 'arcsim_reader_from_env' });
  assert.equal(viaFlag.status, 0, viaFlag.stderr);
  assert.deepEqual(cp.seen.map((r) => `${r.method} ${r.url} ${r.headers.authorization}`), [
    'GET /api/assets Bearer arcsim_reader_from_env',
    'GET /api/assets Bearer arcsim_admin_older',
    'GET /api/assets Bearer arcsim_reader_flag',
  ]);
});

test('exit codes: usage errors 2, typed errors 1, help 0; --help names the environment variables', async () => {
  const usage = [
    ['token', 'list', '--no-such-option'],
    ['token', 'create', '--resource-group', 'rg'],
    ['control-plane', '--port', 'seventy'],
    ['token', 'list', '--control-plane', 'not a url'],
    ['plan', 'set', 'servers', 'maybe', '--subscription', 's'],
    ['no-such-command'],
    ['scenario', 'show'],
  ];
  for (const args of usage) {
    const r = await arcsim(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /error: /, args.join(' '));
  }
  // A typed error: nothing listens on the port of a server that has been closed.
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise<void>((r) => dead.close(() => r()));
  const unreachable = await arcsim(['inventory', 'score', '--control-plane', deadUrl, '--api-key', 'arcsim_reader_x']);
  assert.equal(unreachable.status, 1);
  assert.match(unreachable.stderr, /^arcsim: ARCSIM_E_UNREACHABLE: /m);

  const help = await arcsim(['token', 'create', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--control-plane <url>[\s\S]*env: ARCSIM_CONTROL_PLANE/);
  assert.match(help.stdout, /--api-key <key>[\s\S]*env: ARCSIM_API_KEY/);
  assert.match(help.stdout, /--admin-key <key>[\s\S]*env: ARCSIM_ADMIN_KEY/);
  const keyHelp = await arcsim(['key', 'create', '--help']);
  assert.match(keyHelp.stdout.replace(/\s+/g, " "), /--role <role> .*choices: "reader", "responder", "contributor", "admin"/);
  const agentHelp = await arcsim(['agent', 'run', '--help']);
  assert.match(agentHelp.stdout, /env: ARCSIM_CONTROL_PLANE/);
  assert.equal((await arcsim(['--version'])).status, 0);
});

test('config limits are whole numbers, and the frame and batch sizes can only be raised', () => {
  const dir = tempDir();
  const file = join(dir, 'control-plane.yaml');
  const refused = (yaml: string, path: string) => {
    writeFileSync(file, yaml);
    assert.throws(() => loadConfigFile(file), (err: ArcsimError) => err.code === 'ARCSIM_E_CONFIG_SCHEMA' && err.path === path, yaml);
  };
  refused('limits: { heartbeatIntervalSec: 0.5 }\n', 'limits.heartbeatIntervalSec');
  refused('limits: { maxEventsPerSecond: 0 }\n', 'limits.maxEventsPerSecond');
  // Agents cut batches of up to 1000 events (the protocol's limit): a lower limit would refuse them.
  refused('limits: { maxEventsPerBatch: 100 }\n', 'limits.maxEventsPerBatch');
  writeFileSync(file, 'limits: { maxEventsPerBatch: 2000, heartbeatIntervalSec: 5 }\n');
  assert.deepEqual(loadConfigFile(file).limits, { maxEventsPerBatch: 2000, heartbeatIntervalSec: 5 });
  cleanup(dir);
});

test('a SQLite store that cannot be migrated stops the control plane at start-up, naming the file and the migration', async () => {
  const dir = tempDir();
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dir, 'arcsim.db'));
  db.exec('CREATE TABLE agents (x INTEGER)'); // not arcsim's: the first migration cannot create its own
  db.close();
  const r = await arcsim(['control-plane', '--port', '0', '--data-dir', dir]);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /ARCSIM_E_STORE_UNAVAILABLE: .*arcsim\.db: migration 001_init\.sql failed/);
  assert.doesNotMatch(r.stdout, /listening/);
  cleanup(dir);
});

test('config file tls paths are relative to the file; insecureHttp is a boolean', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  writeFileSync(join(dir, 'tls.yaml'), 'tls: { cert: tls/server.pem, key: tls/server-key.pem }\ninsecureHttp: false\n');
  assert.deepEqual(loadConfigFile(join(dir, 'tls.yaml')), { tls: { cert: join(dir, 'tls', 'server.pem'), key: join(dir, 'tls', 'server-key.pem') }, insecureHttp: false });
  writeFileSync(join(dir, 'bad.yaml'), 'insecureHttp: yes please\n');
  assert.equal(configError(() => loadConfigFile(join(dir, 'bad.yaml'))).path, 'insecureHttp');
  writeFileSync(join(dir, 'nokey.yaml'), 'tls: { cert: a.pem }\n');
  assert.equal(configError(() => loadConfigFile(join(dir, 'nokey.yaml'))).path, 'tls.key');
});

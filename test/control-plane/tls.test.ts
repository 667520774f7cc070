import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { Agent } from '../../agent/index.ts';
import { enrollOnly } from '../../agent/enroll.ts';
import { loadPinnedCa } from '../../agent/pinned-ca.ts';
import { createControlPlane, openSqliteStore, type ControlPlaneConfig } from '../../control-plane/index.ts';
import { writeLabPki } from '../../control-plane/tls/lab-pki.ts';
import { ArcsimError } from '../../protocol/errors.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { cleanup, enableExtensions, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';
import { httpsGet, writeTestPki } from '../support/https.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** SHA-256 of a PEM certificate's DER bytes, computed here from the PEM text (not by the code under test). */
function derSha256(pem: string): string {
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return createHash('sha256').update(Buffer.from(body, 'base64')).digest('hex');
}

function firstCert(pem: string): X509Certificate {
  return new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args]);
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** createControlPlane's start-up error for `config` (the store is opened and closed around it). */
function startupError(dir: string, config: ControlPlaneConfig): ArcsimError {
  const store = openSqliteStore({ file: join(dir, `${randomUUID()}.db`) });
  try {
    createControlPlane({ store, config });
  } catch (err) {
    assert.ok(err instanceof ArcsimError, String(err));
    return err;
  } finally {
    void store.close();
  }
  assert.fail(`started with ${JSON.stringify(config)}`);
}

test('arcsim tls init writes a lab CA and a server certificate it signs, with every --host as a SAN, keys 0600 in a 0700 dir, and prints the CA fingerprint', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const tlsDir = join(dir, 'tls');
  const r = await run(['tls', 'init', '--dir', tlsDir, '--host', 'lab-cp.example', '--host', '10.0.0.5', '--host', '127.0.0.1']);
  assert.equal(r.code, 0, r.err);
  const read = (f: string) => readFileSync(join(tlsDir, f), 'utf8');
  const caPem = read('ca.pem');
  assert.match(r.out, new RegExp(`CA SHA-256 fingerprint: ${derSha256(caPem)}\\n`));

  assert.equal(statSync(tlsDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(tlsDir, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(join(tlsDir, 'server-key.pem')).mode & 0o777, 0o600);

  const ca = new X509Certificate(caPem);
  assert.equal(ca.ca, true, 'ca.pem is a CA certificate');
  assert.equal(ca.issuer, ca.subject, 'the CA is self-signed');
  assert.ok(ca.verify(ca.publicKey));
  assert.ok(ca.checkPrivateKey(createPrivateKey(read('ca-key.pem'))), 'ca-key.pem is the CA key');

  const server = firstCert(read('server.pem'));
  assert.equal(server.ca, false);
  assert.equal(server.issuer, ca.subject, 'issued by the lab CA');
  assert.ok(server.verify(ca.publicKey), 'signed by the lab CA');
  assert.equal(server.subjectAltName, 'DNS:lab-cp.example, IP Address:10.0.0.5, IP Address:127.0.0.1');
  assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: TLS server authentication');
  assert.ok(server.checkPrivateKey(createPrivateKey(read('server-key.pem'))), 'server-key.pem is the server key');
  assert.ok(read('server.pem').endsWith(caPem), 'server.pem carries the chain: server, then CA');

  // A second init refuses to replace the CA agents have pinned; --force replaces it.
  assert.throws(() => writeLabPki({ dir: tlsDir, hosts: ['other.example'] }), (err: ArcsimError) => err.code === 'ARCSIM_E_TLS_FILES_EXIST' && err.message.includes('ca.pem'));
  assert.equal(read('ca.pem'), caPem, 'nothing replaced');
  const forced = writeLabPki({ dir: tlsDir, hosts: ['other.example'], force: true });
  assert.notEqual(derSha256(read('ca.pem')), derSha256(caPem));
  assert.equal(forced.caSha256, derSha256(read('ca.pem')));
  assert.equal(statSync(join(tlsDir, 'server-key.pem')).mode & 0o777, 0o600);
});

test('over https and wss: an agent pinning the lab CA enrolls, registers and streams events; /api/health says https', async (t) => {
  const dir = tempDir();
  const pki = writeTestPki(join(dir, 'tls'));
  const env = await startControlPlane({ dir, config: { tls: { cert: pki.files.cert, key: pki.files.key } } });
  t.after(async () => { await env.close(); cleanup(dir); });
  assert.match(env.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(env.cp.caSha256, derSha256(pki.caPem));

  const health = await httpsGet(`${env.url}/api/health`, pki.caPem);
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).transport, 'https');
  // The same port speaks no plain http.
  await assert.rejects(fetch(env.url.replace('https:', 'http:') + '/api/health'));

  const token = await env.cp.createToken({ subscription: 'sub-tls', resourceGroup: 'rg-tls' });
  const agent = new Agent({
    controlPlane: env.url, ca: readFileSync(pki.files.ca, 'utf8'), token: token.token, stateDir: join(dir, 'agent'),
    facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }),
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  const reg = await registered;
  assert.equal(reg.machineId, '/subscriptions/sub-tls/resourceGroups/rg-tls/providers/Microsoft.HybridCompute/machines/lab-host-01');
  await enableExtensions(env.cp, agent.agentId!);
  const detonationId = randomUUID();
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  const r = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: ssh as never, variant: 'attack', detonationId });
  assert.ok(r.ok, r.message);
  assert.ok((r.events ?? 0) > 0);
  assert.equal(await env.store.events.countEvents({ detonationId }), r.events, 'every event streamed over wss is stored');
  // The alert it raised links back over https (its deep links are built on the control plane's URL).
  const alerts = (await env.cp.adminRequest('GET', '/api/alerts')).body.value as Array<{ properties: { alertType: string; alertUri: string; extendedLinks: Array<{ Href: string }> } }>;
  const bf = alerts.find((a) => a.properties.alertType === 'VM_SshBruteForceFailed')!;
  assert.ok(bf.properties.alertUri.startsWith(`${env.url}/api/alerts/`), bf.properties.alertUri);
  assert.ok(bf.properties.extendedLinks.every((l) => l.Href.startsWith('https://')), JSON.stringify(bf.properties.extendedLinks));
});

test('an agent pinning another CA is refused in the TLS handshake: no enrollment, no socket', async (t) => {
  const dir = tempDir();
  const pki = writeTestPki(join(dir, 'tls'));
  const rogue = writeTestPki(join(dir, 'other-ca'));
  const env = await startControlPlane({ dir, config: { tls: { cert: pki.files.cert, key: pki.files.key } } });
  t.after(async () => { await env.close(); cleanup(dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });

  // Enrollment: the token is never sent to a server the pinned CA did not sign.
  await assert.rejects(
    enrollOnly({ controlPlane: env.url, ca: rogue.caPem, token: token.token, stateDir: join(dir, 'refused') }),
    /cannot reach the control plane .*certificate/,
  );
  assert.deepEqual((await env.cp.adminRequest('GET', '/api/agents')).body.value, [], 'nothing enrolled');

  // The socket: an enrolled identity whose agent pins the other CA never connects.
  const stateDir = join(dir, 'agent');
  await enrollOnly({ controlPlane: env.url, ca: pki.caPem, token: token.token, stateDir });
  const lines: string[] = [];
  const logger = winston.createLogger({
    level: 'debug', format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => { lines.push(String(c)); cb(); } }) })],
  });
  const agent = new Agent({ controlPlane: env.url, ca: rogue.caPem, stateDir, logger, backoffMinMs: 50, backoffMaxMs: 100, facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }) });
  t.after(() => agent.stop());
  let registered = false;
  agent.on('registered', () => (registered = true));
  const refused = new Promise<void>((resolve) => agent.on('disconnected', () => resolve()));
  await agent.start();
  await refused;
  const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'connection error');
  assert.ok(errors.length > 0, lines.join(''));
  assert.match(errors[0].error, /certificate/);
  assert.equal(registered, false);
  assert.deepEqual(env.cp.connectedAgents(), []);
});

test('start-up refuses plain http off loopback, a wildcard address without a public URL, an http public URL with TLS and a key that is not the certificate\'s', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const pki = writeTestPki(join(dir, 'tls'));
  const other = writeTestPki(join(dir, 'other'));

  const plain = startupError(dir, { host: '10.0.0.5' });
  assert.equal(plain.code, 'ARCSIM_E_TLS_REQUIRED');
  assert.match(plain.message, /--tls-cert.*--tls-key.*--insecure-http/);

  const wildcard = startupError(dir, { host: '0.0.0.0', tls: { cert: pki.files.cert, key: pki.files.key } });
  assert.equal(wildcard.code, 'ARCSIM_E_PUBLIC_URL_REQUIRED');
  assert.match(wildcard.message, /--public-url/);
  assert.equal(startupError(dir, { host: '::', insecureHttp: true }).code, 'ARCSIM_E_PUBLIC_URL_REQUIRED');

  const httpUrl = startupError(dir, { host: '127.0.0.1', publicUrl: 'http://lab-cp.example:7070', tls: { cert: pki.files.cert, key: pki.files.key } });
  assert.equal(httpUrl.code, 'ARCSIM_E_TLS_CONFIG');
  assert.match(httpUrl.message, /must be https/);

  const wrongKey = startupError(dir, { tls: { cert: pki.files.cert, key: other.files.key } });
  assert.equal(wrongKey.code, 'ARCSIM_E_TLS_CONFIG');
  assert.match(wrongKey.message, /not the private key/);
  const leafOnly = join(dir, 'leaf.pem');
  writeFileSync(leafOnly, pki.serverPem.replace(pki.caPem, ''));
  assert.match(startupError(dir, { tls: { cert: leafOnly, key: pki.files.key } }).message, /--tls-ca/);
  assert.match(startupError(dir, { tls: { cert: pki.files.cert, key: pki.files.key, ca: other.files.ca } }).message, /not signed by the CA/);
  assert.equal(startupError(dir, { tls: { cert: pki.files.cert, key: pki.files.key }, insecureHttp: true }).code, 'ARCSIM_E_TLS_CONFIG');
});

test('/api/health names the transport: http-loopback by default, http-insecure when asked for off loopback', async (t) => {
  const dir = tempDir();
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  t.after(async () => { await store.close(); cleanup(dir); });
  const transport = async (config: ControlPlaneConfig) => {
    const cp = createControlPlane({ store, config });
    try {
      return { health: (await cp.adminRequest('GET', '/api/health')).body.transport, cp: cp.transport };
    } finally {
      await cp.close();
    }
  };
  assert.deepEqual(await transport({}), { health: 'http-loopback', cp: 'http-loopback' });
  assert.deepEqual(await transport({ host: '0.0.0.0', insecureHttp: true, publicUrl: 'http://lab-cp.example:7070' }), { health: 'http-insecure', cp: 'http-insecure' });
});

test('install.sh of a TLS control plane on a wildcard address: the public https URL (never 0.0.0.0), the CA and its fingerprint', async (t) => {
  const dir = tempDir();
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  t.after(async () => { await store.close(); cleanup(dir); });
  const pki = writeTestPki(join(dir, 'tls'), ['lab-cp.example']);
  const cp = createControlPlane({ store, config: { host: '0.0.0.0', port: 7443, publicUrl: 'https://lab-cp.example:7443', tls: { cert: pki.files.cert, key: pki.files.key } } });
  t.after(() => cp.close());
  const script = (await cp.app.inject({ method: 'GET', url: '/install.sh' })).body;
  assert.ok(script.includes('CONTROL_PLANE="${ARCSIM_CONTROL_PLANE:-https://lab-cp.example:7443}"'), script.slice(0, 800));
  assert.ok(script.includes('curl -fsSL --cacert ca.pem https://lab-cp.example:7443/install.sh'));
  assert.equal(script.includes('0.0.0.0'), false, 'the listen address is no URL for a VM');
  assert.ok(script.includes(`CA_SHA256="${derSha256(pki.caPem)}"`), 'carries the CA fingerprint');
  const ca = await cp.app.inject({ method: 'GET', url: '/install/ca.pem' });
  assert.equal(ca.statusCode, 200);
  assert.equal(derSha256(ca.body), derSha256(pki.caPem));
  assert.equal(ca.headers['x-checksum-sha256'], derSha256(pki.caPem));

  // Alert links and the portal use the public URL too.
  assert.equal(cp.url(), 'https://lab-cp.example:7443');
});

test('arcsim control-plane --host 0.0.0.0 as the old README had it: refused before listening, naming the options', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const plain = await run(['control-plane', '--host', '0.0.0.0', '--port', '0', '--data-dir', join(dir, 'data')]);
  assert.equal(plain.code, 1);
  assert.match(plain.err, /ARCSIM_E_TLS_REQUIRED: .*--tls-cert FILE --tls-key FILE.*--insecure-http/);
  assert.equal(plain.out, '', 'never listened, no admin key printed');
});

test('the agent\'s --ca-file must hold a CA certificate: a server certificate or a key is refused at start', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const pki = writeTestPki(join(dir, 'tls'));
  assert.equal(loadPinnedCa(pki.files.ca).trim(), pki.caPem.trim());
  assert.throws(() => loadPinnedCa(pki.files.key), /no PEM certificate/);
  const leaf = join(dir, 'leaf.pem');
  writeFileSync(leaf, pki.serverPem.replace(pki.caPem, ''));
  assert.throws(() => loadPinnedCa(leaf), /is not a CA certificate/);
  assert.throws(() => loadPinnedCa(join(dir, 'missing.pem')), /ENOENT/);
});

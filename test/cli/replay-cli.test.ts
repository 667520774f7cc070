import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { toNdjson } from '../../scenarios/recording.ts';
import { main } from '../../cli/main.ts';
import { cleanup, startControlPlane } from '../helpers.ts';

/** Runs `arcsim ARGS` in this process (the CLI's own entry, exit code included), capturing stdout and stderr. */
async function arcsim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const write = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((c: string | Uint8Array) => ((out.stdout += c), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((out.stderr += c), true)) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    await main(['node', 'arcsim', ...args]);
    return { code: Number(process.exitCode ?? 0), ...out };
  } finally {
    process.stdout.write = write.stdout;
    process.stderr.write = write.stderr;
    process.exitCode = before;
  }
}

/**
 * Issue 12, "Silent loss": a 7,000-event recording replayed through an agent whose spool holds
 * 5,000 exited 0 reporting 7,000 events while 5,000 were stored.
 */
test('scenario replay waits for acks: a 7,000-event recording through a 5,000-event spool stores 7,000 and exits 0; without back-pressure it exits 1 naming the loss', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  const recorded = planEvents(ssh, {
    detonationId: 'recorded', device: { id: 'old', name: 'old-host' }, startTime: Date.UTC(2026, 0, 1), seed: 7, inputs: { attempts: 7000, interval: '1h' },
  }).map((p) => p.event);
  assert.equal(recorded.length, 7000);
  const file = join(env.dir, 'big.ndjson');
  writeFileSync(file, toNdjson(recorded));
  const { token } = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const common = ['scenario', 'replay', file, '--control-plane', env.url, '--token', token, '--spool-max-events', '5000', '--eps', '5000', '--json'];

  const ok = await arcsim([...common, '--state-dir', join(env.dir, 'a'), '--host', 'replay-a']);
  assert.equal(ok.code, 0, ok.stderr);
  const r = JSON.parse(ok.stdout);
  assert.deepEqual([r.events, r.delivered, r.dropped], [7000, 7000, 0]);
  assert.equal(await env.store.events.countEvents({ detonationId: r.detonationId }), 7000);

  const lossy = await arcsim([...common, '--state-dir', join(env.dir, 'b'), '--host', 'replay-b', '--no-back-pressure']);
  assert.equal(lossy.code, 1);
  assert.match(lossy.stderr, /ARCSIM_E_EVENTS_DROPPED: .*2000 of 7000 events were dropped \(spool capacity 5000 events\)/);
  const l = JSON.parse(lossy.stdout);
  assert.deepEqual([l.events, l.delivered, l.dropped], [7000, 5000, 2000]);
  assert.equal(await env.store.events.countEvents({ detonationId: l.detonationId }), 5000);
  // The loss was reported by a heartbeat at once, so it shows on the machine.
  const machine = await env.cp.adminRequest('GET', '/api/machines/replay-b');
  assert.equal(machine.body.arcsim.droppedEvents, 2000);
});

/** Issue 13, item 7: recorded Windows telemetry through the real agent path. */
test('scenario replay --format evtx-json: a real Sysmon sample becomes an MDE row stored for the replaying agent, the unmapped record is reported', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const fixtures = join(import.meta.dirname, '..', 'fixtures', 'recorded');
  const file = join(env.dir, 'recorded.json');
  writeFileSync(file, ['sysmon-1-powershell-base64-invoke.json', 'security-4648-explicit-credential-logon.json']
    .map((n) => readFileSync(join(fixtures, n), 'utf8')).join('\n'));
  const { token } = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const r = await arcsim(['scenario', 'replay', file, '--format', 'evtx-json', '--control-plane', env.url, '--token', token, '--state-dir', join(env.dir, 'a'), '--host', 'replay-win', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual([out.events, out.delivered, out.dropped], [1, 1, 0]);
  assert.deepEqual(out.recorded.unmapped, { 'Security/4648': 1 });
  assert.match(r.stderr, /Security\/4648 ×1/);
  const [row] = await env.store.events.listEvents({ detonationId: out.detonationId });
  assert.equal(row!.Table, 'DeviceProcessEvents');
  assert.equal(row!.DeviceName, 'replay-win');
  assert.equal(row!.FileName, 'powershell.exe');
  assert.match(String(row!.ProcessCommandLine), /-exec bypass -e /);
});

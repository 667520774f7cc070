import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadLibrary, loadScenarioFile, parseScenario, planEvents } from '../../scenarios/index.ts';
import { ArcsimError, codesOf, EventSchema } from '../../protocol/index.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'scenarios');

test('the library validates, and every scenario has a benign twin and expected alerts', () => {
  const lib = loadLibrary();
  assert.ok(lib.size >= 2);
  for (const s of lib.values()) {
    assert.ok(s.benign, `${s.slug} has a benign twin`);
    assert.ok(s.expect.alerts.length > 0, `${s.slug} expects alerts`);
  }
});

test('one bad fixture per ARCSIM_E_SCENARIO_* code, each refused with that code and a path', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml'));
  const codes = new Set(files.map((f) => f.replace(/\.yaml$/, '')));
  assert.deepEqual([...codes].sort(), codesOf('scenario').sort(), 'every scenario error code has its fixture');
  for (const f of files) {
    assert.throws(() => loadScenarioFile(join(FIXTURES, f)), (err: unknown) => {
      assert.ok(err instanceof ArcsimError, f);
      assert.equal(err.code, f.replace(/\.yaml$/, ''), `${f}: ${err.message}`);
      if (err.code !== 'ARCSIM_E_SCENARIO_YAML') assert.ok(err.path, `${f} error has a path`);
      return true;
    });
  }
});

test('playback is deterministic: same seed and start, byte-identical stream; another seed differs', () => {
  const s = loadLibrary().get('ssh-brute-force-failed')!;
  const opts = { detonationId: 'd', device: { id: 'agent-1', name: 'h1' }, startTime: Date.UTC(2026, 0, 1) };
  const a = JSON.stringify(planEvents(s, { ...opts, seed: 42 }));
  const b = JSON.stringify(planEvents(s, { ...opts, seed: 42 }));
  const c = JSON.stringify(planEvents(s, { ...opts, seed: 43 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('played events are valid, carry the detonation id, keep their spacing and their order', () => {
  const s = loadLibrary().get('ssh-brute-force-failed')!;
  const start = Date.UTC(2026, 0, 1);
  const planned = planEvents(s, { detonationId: 'det-1', device: { id: 'agent-1', name: 'h1' }, startTime: start, inputs: { attempts: 25, attacker_ip: '198.51.100.77' } });
  assert.equal(planned.length, 25);
  for (const [i, p] of planned.entries()) {
    EventSchema.parse(p.event);
    assert.equal(p.event.DetonationId, 'det-1');
    assert.equal(Date.parse(p.event.Timestamp), start + p.offsetMs);
    if (i > 0) assert.ok(p.offsetMs > planned[i - 1]!.offsetMs);
    // every 3s with jitter < 0.8s
    assert.ok(p.offsetMs >= i * 3000 && p.offsetMs < i * 3000 + 800);
  }
  assert.equal((planned[0]!.event as any).RemoteIP, '198.51.100.77');
  assert.equal(new Set(planned.map((p) => p.event.ReportId)).size, 25);
  assert.throws(() => planEvents(s, { detonationId: 'd', device: { id: 'a', name: 'h' }, startTime: start, inputs: { attempts: 'many' } }), (e: any) => e.code === 'ARCSIM_E_SCENARIO_ARGUMENT_TYPE');
  assert.throws(() => planEvents(s, { detonationId: 'd', device: { id: 'a', name: 'h' }, startTime: start, inputs: { nope: 1 } }), (e: any) => e.code === 'ARCSIM_E_SCENARIO_MISSING_ARGUMENT');
});

test('a template cut off by a YAML comment (unquoted " #{x}") is refused with its path', () => {
  const text = `id: 0d4b2c1e-6f1a-4b7e-9c3d-2a1b0c9d8e7f
slug: fixture
name: Fixture
description: x
techniques: [T1059.004]
platforms: [linux]
inputs:
  user: {type: string, default: root}
expect: {alerts: []}
detonate:
  - name: one
    events:
      - Table: DeviceProcessEvents
        ActionType: ProcessCreated
        AccountName: "#{user}"
        ProcessCommandLine: su #{user} -c id
`;
  assert.throws(() => parseScenario(text, 'cut.yaml'), (e: any) => e.code === 'ARCSIM_E_SCENARIO_YAML' && e.path === 'detonate.0.events.0.ProcessCommandLine');
});

test('startTimeOfDay pins the event time to the latest such UTC time at or before the start', () => {
  const s = loadLibrary().get('admin-login-foreign-off-hours')!;
  const device = { id: 'a', name: 'h' };
  const at = (start: number, variant: 'attack' | 'benign' = 'attack') => planEvents(s, { variant, detonationId: 'd', device, startTime: start })[0]!.event.Timestamp;
  assert.equal(at(Date.UTC(2026, 2, 4, 10, 0)), '2026-03-04T02:47:00.000Z');
  assert.equal(at(Date.UTC(2026, 2, 4, 1, 0)), '2026-03-03T02:47:00.000Z');
  assert.equal(at(Date.UTC(2026, 2, 4, 10, 0), 'benign'), '2026-03-03T10:15:00.000Z');
});

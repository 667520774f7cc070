import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultInjector } from '../../agent/fault-injector.ts';
import { FaultsSchema } from '../../protocol/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';

const planned = planEvents(loadLibrary().get('ssh-brute-force-failed')!, { detonationId: 'd', device: { id: 'a', name: 'h' }, startTime: Date.UTC(2026, 0, 1), seed: 3 });

test('reorder shuffles delivery (seeded), never by more than the window of event time, keeping every event', () => {
  const f = new FaultInjector(FaultsSchema.parse({ reorder: { window: '10s' } }), 7);
  const out = f.arrange(planned);
  assert.deepEqual(out.map((p) => p.event.ReportId).sort(), planned.map((p) => p.event.ReportId).sort());
  assert.notDeepEqual(out.map((p) => p.event.ReportId), planned.map((p) => p.event.ReportId), 'order changed');
  assert.deepEqual(new FaultInjector(FaultsSchema.parse({ reorder: {} }), 7).arrange(planned).length, planned.length);
  assert.deepEqual(f.arrange(planned), out, 'same seed, same order');
  // An event delivered before another is at most the window later in event time.
  for (let i = 0; i < out.length; i++) for (let j = i + 1; j < out.length; j++) assert.ok(out[i]!.offsetMs - out[j]!.offsetMs < 10_000);
});

test('send: duplicates each batch, drops the link once after the Nth batch', () => {
  const sent: string[] = [];
  let drops = 0;
  const f = new FaultInjector(FaultsSchema.parse({ duplicateBatches: true, dropConnection: { afterBatches: 2 }, batchSize: 2 }));
  const link = { send: (x: string) => sent.push(x), drop: () => drops++ };
  for (const frame of ['b1', 'b2', 'b3', 'b2']) f.send(frame, link);
  assert.deepEqual(sent, ['b1', 'b1', 'b2', 'b2', 'b3', 'b3', 'b2', 'b2']);
  assert.equal(drops, 1);
  assert.equal(f.batchSize, 2);
  assert.throws(() => FaultsSchema.parse({ dropConnection: { after: 1 } }), /Unrecognized key/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeFrame, encodeFrame, PROTOCOL_VERSION, SERVER_TO_AGENT, type MachineFacts,
} from '../../protocol/messages.ts';
import { decodeIdleFrame, encodeHeartbeat, encodeKeyRotated, encodeRegister, machineFactsOk, SERVER_TYPES } from '../../agent/idle-decoder.ts';
import { InventorySchema } from '../../agent/inventory-schema.ts';
import { inventoryOk } from '../../agent/inventory-child.ts';
import { fcParams, jsonOps, mutateJson, mutateText, runsFor, textOps } from '../fuzz/fuzz-support.ts';

// Issue 11, item 3: the idle agent decodes its frames by hand (agent/idle-decoder.ts) instead of
// with the zod schemas of protocol/messages.ts. These properties hold it to the schemas: on valid
// frames generated from the schemas' shapes and on mutated ones, the hand decoder and the schema
// accept and refuse exactly the same, with the same decoded value. The one frame it leaves to zod
// by design is a `run-scenario` command (`undefined`: the agent then asks zod).

/** Strings around a limit (zod 4 counts code points, so astral characters and lone surrogates are in). */
const strAround = (min: number, max: number) => fc.oneof(
  fc.string({ minLength: min, maxLength: Math.min(max, min + 8) }),
  fc.string({ minLength: Math.max(min, max - 2), maxLength: max }),
  fc.constantFrom('x'.repeat(max), 'é'.repeat(max), '💥'.repeat(max), '💥'.repeat(max + 1), '\ud800'.repeat(max), 'x'.repeat(max + 1)),
  fc.string({ unit: 'binary', minLength: Math.max(min, max - 2), maxLength: max + 1 }),
  fc.string({ unit: 'binary', minLength: Math.max(0, min - 1), maxLength: min + 1 }),
  fc.constantFrom('💥'.repeat(Math.max(1, min - 1)), '💥'.repeat(Math.ceil(min / 2)), '💥'.repeat(min)),
);
const anyStr = fc.string({ maxLength: 20 });
const count = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));
const status = fc.constantFrom('Succeeded', 'Creating', 'Deleting', 'Failed', 'Disabled');
const extension = fc.record({ name: strAround(0, 128), publisher: strAround(0, 128), status }, { requiredKeys: ['name', 'status'] });
const code = fc.stringMatching(/^ARCSIM_E_[A-Z0-9_]{1,20}$/);
const id = strAround(1, 128);

const frames: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant('registered'), machineId: anyStr, sqlInstanceIds: fc.array(anyStr, { maxLength: 3 }), heartbeatIntervalSec: fc.integer({ min: 1, max: 2 ** 31 }), extensions: fc.array(extension, { maxLength: 4 }) }),
  fc.record({ type: fc.constant('ack'), seq: count, stored: count }),
  fc.record({
    type: fc.constant('error'), code, message: anyStr, path: anyStr, ref: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), anyStr),
    retryable: fc.boolean(), retryAfterMs: count,
  }, { requiredKeys: ['type', 'code', 'message'] }),
  fc.record({ type: fc.constant('rotate-key'), id, agentKey: strAround(16, 256) }),
  fc.record({ type: fc.constant('deregistered'), machineId: fc.option(anyStr, { nil: null }) }),
  fc.record({
    type: fc.constant('command'), id,
    command: fc.oneof(
      fc.record({ action: fc.constant('set-extension'), name: anyStr, enabled: fc.boolean() }),
      fc.record({ action: fc.constant('update-config'), heartbeatIntervalSec: fc.integer({ min: 1, max: 10_000 }) }, { requiredKeys: ['action'] }),
      fc.record({ action: fc.constant('cancel-scenario'), detonationId: id }),
      fc.record({ action: fc.constant('run-scenario'), scenario: fc.dictionary(anyStr, fc.jsonValue({ maxDepth: 1 })), detonationId: id }),
    ),
  }),
).map((f) => ({ v: PROTOCOL_VERSION, ...f }));

/** A frame's text: valid, or mutated as JSON (values, keys, nesting) or as text. */
const texts: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: frames.map((f) => JSON.stringify(f)) },
  { weight: 6, arbitrary: fc.tuple(frames, jsonOps).map(([f, ops]) => JSON.stringify(mutateJson(f, ops)) ?? 'null') },
  { weight: 1, arbitrary: fc.tuple(frames, textOps).map(([f, ops]) => mutateText(JSON.stringify(f), ops)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
);

test('the idle decoder knows the same server-to-agent types as the protocol', () => {
  assert.deepEqual([...SERVER_TYPES].sort(), [...SERVER_TO_AGENT].sort());
});

test('the idle decoder and the zod schemas accept and refuse the same frames, with the same value', () => {
  const seen = { accepted: 0, refused: 0, deferred: 0 };
  fc.assert(fc.property(texts, (text) => {
    const zod = decodeFrame(text, SERVER_TO_AGENT);
    const hand = decodeIdleFrame(text);
    const runScenario = zod.ok && zod.message.type === 'command' && zod.message.command.action === 'run-scenario';
    if (hand === undefined) {
      seen.deferred++;
      // Left to zod: only a run-scenario command, or a frame the schema refuses too.
      assert.ok(runScenario || (!zod.ok && zod.error.code === 'ARCSIM_E_FRAME_SCHEMA'), `the hand decoder refused what zod accepts: ${text}`);
    } else if (hand.ok) {
      seen.accepted++;
      assert.ok(zod.ok, `the hand decoder accepted what zod refuses (${!zod.ok && zod.error.message}): ${text}`);
      assert.deepStrictEqual(hand.message, zod.message);
    } else {
      seen.refused++;
      assert.ok(!zod.ok, `the hand decoder refused what zod accepts: ${text}`);
      assert.deepEqual([hand.error.code, hand.error.message, hand.error.path], [zod.error.code, zod.error.message, zod.error.path]);
    }
  }), fcParams(runsFor(3000), 71));
  // The generator reaches every outcome (a property that never accepts proves little).
  assert.ok(seen.accepted > 300 && seen.refused > 100 && seen.deferred > 300, JSON.stringify(seen));
});

// ---- What the idle agent sends: register (host facts) and heartbeat. ----

const nic = fc.record({ name: anyStr, macAddress: anyStr, ipAddresses: fc.array(anyStr, { maxLength: 3 }) }, { requiredKeys: ['name', 'ipAddresses'] });
const sqlInstance = fc.record({
  instanceName: strAround(1, 255), engine: fc.constantFrom('sqlserver', 'postgresql', 'mysql'), version: strAround(0, 64), edition: strAround(0, 64),
  tcpStaticPorts: anyStr, tcpDynamicPorts: anyStr, discoveredBy: fc.constantFrom('process', 'port', 'config', 'persona'),
}, { requiredKeys: ['instanceName', 'engine'] });
const machine: fc.Arbitrary<Record<string, unknown>> = fc.record({
  hostname: strAround(1, 255), machineFqdn: strAround(0, 255), domainName: anyStr, osName: anyStr, osType: strAround(0, 32), osVersion: anyStr,
  osSku: anyStr, osEdition: anyStr, vmUuid: strAround(0, 64), agentVersion: strAround(0, 64),
  detectedProperties: fc.dictionary(anyStr, anyStr, { maxKeys: 4 }),
  cloudMetadata: fc.record({ provider: strAround(0, 16), details: fc.dictionary(anyStr, anyStr, { maxKeys: 3 }) }, { requiredKeys: ['provider'] }),
  networkInterfaces: fc.array(nic, { maxLength: 3 }), persona: anyStr,
}, { requiredKeys: ['hostname', 'agentVersion', 'detectedProperties', 'cloudMetadata'] });
const registerBody = fc.record({
  machine, sqlInstances: fc.array(sqlInstance, { maxLength: 3 }), extensions: fc.array(extension, { maxLength: 3 }),
}, { requiredKeys: ['machine'] });
const bodies: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: registerBody },
  { weight: 3, arbitrary: fc.tuple(registerBody, jsonOps).map(([b, ops]) => mutateJson(b, ops)) },
);

/** A `__proto__` key in a string record: zod's record drops it, the hand encoder leaves such facts to zod. */
const hasProtoRecordKey = (b: unknown): boolean => JSON.stringify(b ?? null).includes('"__proto__"');

test('register: the hand encoder writes what the zod encoder writes, and refuses what it refuses', () => {
  const seen = { encoded: 0, refused: 0 };
  // Bodies as JSON gives them (plain objects): the agent's facts come from JSON or object literals.
  fc.assert(fc.property(bodies.map((b) => JSON.parse(JSON.stringify(b)) as unknown), (body) => {
    let zod: string | Error;
    try {
      zod = encodeFrame('register', body as never);
    } catch (err) {
      zod = err as Error;
    }
    const hand = encodeRegister(body as never);
    if (hand === undefined) {
      seen.refused++;
      assert.ok(zod instanceof Error || hasProtoRecordKey(body), `the hand encoder refused facts zod encodes: ${JSON.stringify(body)}`);
    } else {
      seen.encoded++;
      assert.ok(typeof zod === 'string', `the hand encoder wrote facts zod refuses (${zod}): ${JSON.stringify(body)}`);
      assert.deepStrictEqual(JSON.parse(hand), JSON.parse(zod));
    }
  }), fcParams(runsFor(2000), 72));
  assert.ok(seen.encoded > 150 && seen.refused > 500, JSON.stringify(seen));
});

test('the inventory child\'s output: the hand check accepts exactly what InventorySchema accepts, unchanged', () => {
  const inventory = fc.record({ machine, sqlInstances: fc.array(sqlInstance, { maxLength: 3 }), notes: fc.array(strAround(0, 4096), { maxLength: 3 }) });
  const seen = { accepted: 0, refused: 0 };
  fc.assert(fc.property(fc.oneof(inventory, fc.tuple(inventory, jsonOps).map(([b, ops]) => mutateJson(b, ops))).map((d) => JSON.parse(JSON.stringify(d)) as unknown), (doc) => {
    const parsed = InventorySchema.safeParse(doc);
    if (inventoryOk(doc)) {
      seen.accepted++;
      assert.ok(parsed.success, `the hand check accepted an inventory zod refuses: ${JSON.stringify(doc)}`);
      assert.deepStrictEqual(doc, parsed.data);
    } else {
      seen.refused++;
      assert.ok(!parsed.success || hasProtoRecordKey(doc), `the hand check refused an inventory zod accepts: ${JSON.stringify(doc)}`);
    }
  }), fcParams(runsFor(1500), 73));
  assert.ok(seen.accepted > 100 && seen.refused > 100, JSON.stringify(seen));
});

test('heartbeat and key-rotated: the hand encoders write what the zod encoder writes', () => {
  fc.assert(fc.property(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z') }), count, fc.string({ minLength: 1, maxLength: 128 }), count, (time, dropped, rid, spooled) => {
    assert.deepStrictEqual(JSON.parse(encodeHeartbeat(time, dropped)), JSON.parse(encodeFrame('heartbeat', { time: time.toISOString(), droppedEvents: dropped })));
    assert.deepStrictEqual(JSON.parse(encodeHeartbeat(time, dropped, spooled)), JSON.parse(encodeFrame('heartbeat', { time: time.toISOString(), droppedEvents: dropped, spooledEvents: spooled })));
    assert.deepStrictEqual(JSON.parse(encodeKeyRotated(rid)), JSON.parse(encodeFrame('key-rotated', { id: rid })));
  }), fcParams(runsFor(500), 74));
  assert.throws(() => encodeHeartbeat(new Date(0), -1), RangeError);
  assert.throws(() => encodeHeartbeat(new Date(0), 0, 1.5), RangeError);
  assert.throws(() => encodeKeyRotated(''), RangeError);
});

test('machine facts the agent really sends pass the hand check (a fixture shaped like an Arc machine)', () => {
  const facts: MachineFacts = {
    hostname: 'web-01', machineFqdn: 'web-01.corp.example', osName: 'Ubuntu', osType: 'linux', osVersion: '22.04', agentVersion: '1.0.0',
    detectedProperties: { cpu: 'x', totalPhysicalMemoryInGigabytes: '8' },
    cloudMetadata: { provider: 'AWS', details: { accountId: '123456789012', region: 'eu-west-1' } },
    networkInterfaces: [{ name: 'eth0', macAddress: '02:00:00:00:00:01', ipAddresses: ['10.0.0.5'] }],
  };
  assert.ok(machineFactsOk(facts));
  assert.equal(machineFactsOk({ ...facts, unknownKey: 1 }), false);
});

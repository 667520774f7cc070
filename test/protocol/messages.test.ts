import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_TO_SERVER, decodeFrame, encodeAck, encodeFrame, ERRORS, EventsSchema, protocolError, SERVER_TO_AGENT } from '../../protocol/index.ts';
import { buildWorkload } from '../../bench/workload.ts';

const ok = (text: string) => decodeFrame(text, AGENT_TO_SERVER, { maxEventsPerBatch: 2 });
const codeOf = (text: string) => {
  const r = ok(text);
  assert.equal(r.ok, false, `expected ${text} to be refused`);
  return r.ok ? undefined : r.error;
};

test('malformed JSON is ARCSIM_E_FRAME_JSON', () => {
  assert.equal(codeOf('{"v":1,')!.code, 'ARCSIM_E_FRAME_JSON');
});

test('an unknown or server-only message type is ARCSIM_E_FRAME_TYPE', () => {
  assert.equal(codeOf('{"v":1,"type":"explode"}')!.code, 'ARCSIM_E_FRAME_TYPE');
  assert.equal(codeOf('{"v":1,"type":"ack","seq":1,"stored":1}')!.code, 'ARCSIM_E_FRAME_TYPE');
  assert.equal(codeOf('[1,2]')!.code, 'ARCSIM_E_FRAME_SCHEMA');
});

test('another protocol version is ARCSIM_E_VERSION', () => {
  assert.equal(codeOf('{"v":2,"type":"heartbeat","time":"2026-01-01T00:00:00Z"}')!.code, 'ARCSIM_E_VERSION');
});

test('unknown keys are refused with their path', () => {
  const e = codeOf('{"v":1,"type":"heartbeat","time":"2026-01-01T00:00:00Z","extra":1}')!;
  assert.equal(e.code, 'ARCSIM_E_FRAME_SCHEMA');
  const ev = {
    Table: 'DeviceLogonEvents', Timestamp: '2026-01-01T00:00:00Z', DeviceId: 'a', DeviceName: 'h', ActionType: 'LogonFailed',
    ReportId: '019b76da-a9f5-7386-b7f9-d123673f277d', Bogus: 'x',
  };
  const e2 = codeOf(JSON.stringify({ v: 1, type: 'events', seq: 1, events: [ev] }))!;
  assert.equal(e2.code, 'ARCSIM_E_FRAME_SCHEMA');
  assert.equal(e2.path, 'events.0');
});

test('a wrong column type names the column', () => {
  const ev = {
    Table: 'DeviceNetworkEvents', Timestamp: '2026-01-01T00:00:00Z', DeviceId: 'a', DeviceName: 'h', ActionType: 'ConnectionSuccess',
    ReportId: '019b76da-a9f5-7386-b7f9-d123673f277d', RemotePort: 'eighty',
  };
  const e = codeOf(JSON.stringify({ v: 1, type: 'events', seq: 1, events: [ev] }))!;
  assert.equal(e.path, 'events.0.RemotePort');
});

test('a batch over the limit is ARCSIM_E_BATCH_TOO_LARGE', () => {
  assert.equal(codeOf('{"v":1,"type":"events","seq":1,"events":[{},{},{}]}')!.code, 'ARCSIM_E_BATCH_TOO_LARGE');
});

test('valid frames decode, and encodeFrame checks what it sends', () => {
  const r = ok('{"v":1,"type":"heartbeat","time":"2026-01-01T00:00:00Z"}');
  assert.ok(r.ok);
  assert.throws(() => encodeFrame('ack', { seq: -1, stored: 0 }));
  assert.match(encodeFrame('ack', { seq: 3, stored: 2 }), /"type":"ack"/);
});

test('encodeAck: the frame encodeFrame makes, decoded by the agent as an ack; bad counts refused like the schema does', () => {
  for (const [seq, stored] of [[0, 0], [3, 2], [2 ** 40, 1000]] as const) {
    assert.equal(encodeAck(seq, stored), encodeFrame('ack', { seq, stored }));
    const back = decodeFrame(encodeAck(seq, stored), SERVER_TO_AGENT);
    assert.deepEqual(back.ok && back.message, { v: 1, type: 'ack', seq, stored });
  }
  for (const [seq, stored] of [[-1, 0], [1, -1], [1.5, 0], [1, Number.NaN], [Number.MAX_SAFE_INTEGER + 2, 0]]) {
    assert.throws(() => encodeAck(seq!, stored!), `seq ${seq}, stored ${stored}`);
  }
});

test('error codes are unique, well-formed and carry an HTTP status', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^ARCSIM_E_[A-Z0-9_]+$/);
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    if (spec.closeCode !== null) assert.ok(spec.closeCode >= 1000 && spec.closeCode < 5000, code);
  }
});

test('key lifecycle frames: rotate-key and deregistered go to the agent only, key-rotated and deregister come from it', async () => {
  const { SERVER_TO_AGENT } = await import('../../protocol/index.ts');
  // An agent cannot send itself a key, nor a control plane's answer.
  assert.equal(codeOf('{"v":1,"type":"rotate-key","id":"r1","agentKey":"arcsim_agent_0123456789abcdef"}')!.code, 'ARCSIM_E_FRAME_TYPE');
  assert.equal(codeOf('{"v":1,"type":"deregistered","machineId":null}')!.code, 'ARCSIM_E_FRAME_TYPE');
  assert.deepEqual(ok('{"v":1,"type":"key-rotated","id":"r1"}'), { ok: true, message: { v: 1, type: 'key-rotated', id: 'r1' } });
  assert.deepEqual(ok('{"v":1,"type":"deregister"}'), { ok: true, message: { v: 1, type: 'deregister' } });
  assert.equal(codeOf('{"v":1,"type":"deregister","agentId":"someone-else"}')!.code, 'ARCSIM_E_FRAME_SCHEMA');
  const rotate = decodeFrame(encodeFrame('rotate-key', { id: 'r1', agentKey: 'arcsim_agent_0123456789abcdef' }), SERVER_TO_AGENT);
  assert.equal(rotate.ok && rotate.message.type, 'rotate-key');
  const short = decodeFrame('{"v":1,"type":"rotate-key","id":"r1","agentKey":"short"}', SERVER_TO_AGENT);
  assert.equal(!short.ok && short.error.path, 'agentKey', 'a key too short to be one is refused');
});

test('events frames: the hand check returns what EventsSchema returns, and leaves every refusal to it (real library events)', () => {
  // decodeFrame checks events frames without zod (isValidEventsFrame, isValidEventRow) and hands any
  // frame it declines to EventsSchema: the schema stays the reference for both outcomes.
  const frames = buildWorkload([{ agentId: 'agent-a', hostname: 'web-01' }, { agentId: 'agent-b', hostname: 'WIN-DC01' }], 3000, 50, 'run-1')
    .flatMap((w) => w.frames);
  const decode = (text: string) => decodeFrame(text, AGENT_TO_SERVER);
  const tables = new Set<string>();
  for (const text of frames) {
    const r = decode(text);
    assert.ok(r.ok, text.slice(0, 200));
    assert.deepEqual(r.message, EventsSchema.parse(JSON.parse(text)));
    for (const e of (r.message as { events: Array<{ Table: string }> }).events) tables.add(e.Table);
  }
  assert.ok(tables.size >= 3, `the library's events cover several tables (${[...tables].join(', ')})`);

  // Each refusal: the same code, message and path as the schema's first issue.
  const frame = JSON.parse(frames[0]!) as { v: number; type: string; seq: number; events: Array<Record<string, unknown>> };
  const one = frame.events[0]!;
  const variants: Array<[string, unknown]> = [
    ['seq -1', { ...frame, seq: -1 }], ['seq 1.5', { ...frame, seq: 1.5 }], ['seq as text', { ...frame, seq: '1' }],
    ['no seq', { v: frame.v, type: frame.type, events: frame.events }], ['an extra key', { ...frame, extra: true }],
    ['events not a list', { ...frame, events: {} }], ['a null event', { ...frame, events: [...frame.events, null] }],
    ['an unknown table', { ...frame, events: [{ ...one, Table: 'DeviceNope' }] }],
    ['no Timestamp', { ...frame, events: [{ ...one, Timestamp: undefined }] }],
    ['a date that does not exist', { ...frame, events: [{ ...one, Timestamp: '2025-02-29T00:00:00Z' }] }],
    ['a UUIDv4 ReportId', { ...frame, events: [{ ...one, ReportId: '0b9f0f5e-7b1a-4c1d-9e2f-3a4b5c6d7e8f' }] }],
    ['an unknown column', { ...frame, events: [{ ...one, Bogus: 1 }] }],
    ['an empty DeviceId', { ...frame, events: [{ ...one, DeviceId: '' }] }],
    ['a text where a number goes', { ...frame, events: [{ ...one, InitiatingProcessId: 'x' }] }],
    ['a bad row among good ones', { ...frame, events: [...frame.events.slice(0, 3), { ...one, DetonationId: '' }, ...frame.events.slice(3)] }],
  ];
  for (const [what, value] of variants) {
    const r = decode(JSON.stringify(value));
    const expected = EventsSchema.safeParse(JSON.parse(JSON.stringify(value)));
    assert.equal(expected.success, false, `${what}: the schema refuses it`);
    assert.equal(r.ok, false, `${what}: refused`);
    if (r.ok || expected.success) continue;
    const issue = expected.error.issues[0]!;
    const want = protocolError('ARCSIM_E_FRAME_SCHEMA', issue.message, issue.path.map(String).join('.'));
    assert.deepEqual({ code: r.error.code, message: r.error.message, path: r.error.path }, { code: want.code, message: want.message, path: want.path }, what);
  }
});

/**
 * Seeded fuzzer over agent WebSocket frames: a real control plane (SQLite file, loopback port), an
 * enrolled and registered agent on a real socket, and for each case one fuzzed frame (a mutation of
 * a valid frame of every type an agent sends, random JSON, random text or random bytes) followed by
 * a valid probe (an empty `events` batch). The property: the server answers the fuzzed frame with
 * nothing, a valid reply, or `error` frames with catalogued codes; when it closes the socket it uses
 * the close code its error names; it never answers ARCSIM_E_INTERNAL (1011), and the probe is still
 * answered afterwards (on a new connection when the old one was closed). Three quarters of the
 * cases run on a registered connection, a quarter on one that has not registered yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ERRORS } from '../../protocol/errors.ts';
import { cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS } from '../helpers.ts';
import { fcParams, isCatalogued, jsonOps, mutateJson, mutateText, printTally, runsFor, Tally, textOps } from './fuzz-support.ts';

const SAMPLE_EVENTS = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'rule-samples', 'ssh_brute_force_failed.attack.ndjson'), 'utf8')
  .split('\n').filter(Boolean).slice(0, 3).map((l) => JSON.parse(l) as Record<string, unknown>);

/** A valid frame of every type an agent sends (deregister left out: a valid one deletes the agent). */
function validFrames(agentId: string): Record<string, unknown>[] {
  return [
    { v: 1, type: 'register', machine: { ...TEST_FACTS, networkInterfaces: [{ name: 'eth0', ipAddresses: ['10.0.0.4'] }] }, sqlInstances: [{ instanceName: 'MSSQLSERVER', engine: 'sqlserver' }], extensions: [{ name: 'MDE.Linux', status: 'Succeeded' }] },
    { v: 1, type: 'heartbeat', time: '2026-03-02T10:00:00Z', droppedEvents: 0 },
    { v: 1, type: 'events', seq: 1, events: SAMPLE_EVENTS.map((e) => ({ ...e, DeviceId: agentId })) },
    { v: 1, type: 'command-result', id: 'cmd-1', ok: true, detonationId: 'd-1', events: 3, notCollected: { SqlEvents: 2 }, message: 'done' },
    { v: 1, type: 'key-rotated', id: 'rot-1' },
  ];
}

type Fuzzed = { kind: 'text'; data: string } | { kind: 'binary'; data: Uint8Array };

const PROBE_SEQ_BASE = 1_000_000_000;
const RUNS = runsFor(2000);
/** A quarter of the cases go to a connection that has not registered (the handshake state). */
const UNREGISTERED_RUNS = Math.max(1, Math.round(RUNS / 4));

test(`fuzz frames: ${RUNS} fuzzed agent frames over a real socket (registered and not yet registered); each answered with typed errors or typed close codes, and a valid frame is still served afterwards`, { timeout: 180_000 }, async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-fuzz', resourceGroup: 'rg-fuzz' });
  const creds = await enroll(env.url, token.token, 'fuzz-host');
  const frames = validFrames(creds.agentId);
  const maxFrameBytes = env.cp.limits.maxFrameBytes;

  const tally = new Tally();
  const closeCodes = new Map<number, number>();
  let probeSeq = PROBE_SEQ_BASE;

  const fuzzed: fc.Arbitrary<Fuzzed> = fc.oneof(
    { weight: 120, arbitrary: fc.tuple(fc.nat({ max: frames.length - 1 }), jsonOps).map(([i, ops]): Fuzzed => ({ kind: 'text', data: JSON.stringify(mutateJson(frames[i], ops)) ?? 'null' })) },
    { weight: 40, arbitrary: fc.tuple(fc.nat({ max: frames.length - 1 }), textOps).map(([i, ops]): Fuzzed => ({ kind: 'text', data: mutateText(JSON.stringify(frames[i]), ops) })) },
    { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v): Fuzzed => ({ kind: 'text', data: JSON.stringify(v) })) },
    { weight: 20, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }).map((s): Fuzzed => ({ kind: 'text', data: s })) },
    { weight: 20, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b): Fuzzed => ({ kind: 'binary', data: b })) },
    { weight: 1, arbitrary: fc.constant<Fuzzed>({ kind: 'text', data: JSON.stringify({ v: 1, type: 'heartbeat', time: 'x'.repeat(maxFrameBytes) }) }) },
  );

  /**
   * One phase: on a registered connection the probe is answered with its `ack`; on one that has not
   * registered, with ARCSIM_E_NOT_REGISTERED for its seq (or its `ack`, when the fuzzed frame was a
   * valid `register`; the next case then starts on a fresh unregistered connection).
   */
  async function phase(registered: boolean, runs: number, offset: number): Promise<void> {
    const open = async () => {
      const a = await RawAgent.connect(env.url, creds);
      if (registered) await a.register();
      return a;
    };
    let agent = await open();
    await fc.assert(fc.asyncProperty(fuzzed, async (f) => {
      const seq = ++probeSeq;
      if (f.kind === 'binary') agent.ws.send(f.data, { binary: true });
      else agent.send(f.data);
      agent.send({ v: 1, type: 'events', seq, events: [] });
      const replies: Array<Record<string, any>> = [];
      const current = agent;
      const isProbeAnswer = (fr: Record<string, any>) => (fr.type === 'ack' && fr.seq === seq)
        || (!registered && fr.type === 'error' && fr.code === 'ARCSIM_E_NOT_REGISTERED' && fr.ref === seq);
      // Read every frame up to the probe's answer, or until the socket closes.
      const answer = await new Promise<Record<string, any> | undefined>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to probe ${seq} after ${JSON.stringify(f).slice(0, 300)}`)), 5000);
        const take = () => {
          while (current.frames.length) {
            const fr = current.frames.shift()!;
            if (isProbeAnswer(fr)) { clearTimeout(timer); current.ws.off('message', onMessage); return resolve(fr); }
            replies.push(fr);
          }
        };
        const onMessage = () => setImmediate(take);
        current.ws.on('message', onMessage);
        current.closed.then(() => { clearTimeout(timer); setImmediate(() => { take(); resolve(undefined); }); });
        take();
      });
      for (const r of replies) {
        if (r.type === 'error') {
          assert.ok(isCatalogued(r.code), `uncatalogued error code ${r.code} for ${JSON.stringify(f).slice(0, 300)}`);
          assert.notEqual(r.code, 'ARCSIM_E_INTERNAL', `internal error for ${JSON.stringify(f).slice(0, 500)}`);
          tally.code(r.code);
        } else {
          assert.ok(['ack', 'registered'].includes(r.type), `unexpected reply ${JSON.stringify(r)} to ${JSON.stringify(f).slice(0, 300)}`);
        }
      }
      if (!replies.some((r) => r.type === 'error')) tally.ok();
      if (answer === undefined) {
        const { code } = await current.closed;
        const error = replies.find((r) => r.type === 'error');
        assert.ok(error, `socket closed (${code}) without an error frame after ${JSON.stringify(f).slice(0, 300)}`);
        assert.equal(code, (ERRORS as Record<string, { closeCode: number | null }>)[error.code]!.closeCode ?? 1008, `close code of ${error.code}`);
        closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
        // A valid frame is still served: a new connection registers and its probe is acknowledged.
        const check = await RawAgent.connect(env.url, creds);
        await check.register();
        check.send({ v: 1, type: 'events', seq, events: [] });
        assert.equal((await check.next('ack')).seq, seq);
        if (registered) agent = check;
        else { check.close(); await check.closed; agent = await open(); }
      } else if (!registered && answer.type === 'ack') {
        // The fuzzed frame was a valid register: go on from a fresh, unregistered connection.
        current.close();
        await current.closed;
        agent = await open();
      }
    }), fcParams(runs, offset));
    agent.close();
    await agent.closed;
  }

  await phase(true, RUNS - UNREGISTERED_RUNS, 100);
  await phase(false, UNREGISTERED_RUNS, 101);

  const line = printTally('frames', tally);
  process.stdout.write(`fuzz frames: close codes ${[...closeCodes.entries()].map(([c, n]) => `${c} x${n}`).join(', ') || 'none'}\n`);
  assert.equal(tally.cases, RUNS, line);
});

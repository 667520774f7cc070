import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createControlPlane, openSqliteStore } from '../../control-plane/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, tempDir, TEST_FACTS } from '../helpers.ts';
import { faultyStore } from '../support/faulty-store.ts';

/**
 * One sample line of the Prometheus text exposition format (0.0.4):
 * `name{label="value",…} value`, label values with \\ \" \n escapes. Parsed here on its own, so
 * the test reads the scrape as Prometheus would, not through prom-client.
 */
function parseExposition(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('# ') && !/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`not an exposition sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let l: RegExpExecArray | null;
      let at = 0;
      while ((l = re.exec(m[3])) !== null) {
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
        at = re.lastIndex;
      }
      if (at !== m[3].length) throw new Error(`bad labels: ${line}`);
    }
    // Values are Go ParseFloat numbers, which Prometheus reads case-insensitively for Inf and NaN.
    const v = m[4]!.toLowerCase();
    const value = v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Number(m[4]);
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`bad value: ${line}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `where`. */
function sum(samples: ReturnType<typeof parseExposition>, name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

function tables(events: SensorEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.Table, (m.get(e.Table) ?? 0) + 1);
  return m;
}

/** A loopback port with nothing listening (a sink that refuses every delivery). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('GET /metrics: a reader key scrapes Prometheus text; events received, stored, refused, acks, alerts, agents, spool, store errors and sink lag move', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const real = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const faults = faultyStore(real);
  const sinkPort = await closedPort();
  const cp = createControlPlane({
    store: faults.store,
    config: { port: 0, host: '127.0.0.1', sinks: [{ name: 'siem', type: 'syslog', transport: 'tcp', host: '127.0.0.1', port: sinkPort }] },
  });
  const url = await cp.listen();
  t.after(async () => { await cp.close(); await real.close(); });
  const reader = await apiKeyFor({ store: real }, 'reader');
  const scrape = async () => {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  };

  // Every read needs a key: none → 401 with the typed error.
  const anon = await fetch(`${url}/metrics`);
  assert.equal(anon.status, 401);
  assert.equal(((await anon.json()) as { code: string }).code, 'ARCSIM_E_UNAUTHORIZED');

  const before = await scrape();
  assert.equal(sum(before, 'arcsim_connected_agents'), 0);
  assert.ok(before.some((s) => s.name === 'arcsim_process_resident_memory_bytes'), 'process metrics are exported');

  const { token } = await cp.createToken({ subscription: 's', resourceGroup: 'rg', ttlMs: 3_600_000 });
  const creds = await enroll(url, token, TEST_FACTS.hostname);
  const agent = await RawAgent.connect(url, creds);
  t.after(() => agent.close());
  await agent.register();

  // A brute-force burst: the shipped SSH rule raises one alert on it.
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  const events = planEvents(ssh, { detonationId: 'm1', device: { id: creds.agentId, name: TEST_FACTS.hostname }, startTime: Date.now() }).map((p) => p.event);
  agent.send({ v: 1, type: 'events', seq: 1, events });
  assert.equal((await agent.next('ack')).stored, events.length);
  // Redelivered: received again, stored 0 times.
  agent.send({ v: 1, type: 'events', seq: 2, events });
  assert.equal((await agent.next('ack')).stored, 0);
  // Claiming another device: refused as a whole.
  const foreign = events.map((e) => ({ ...e, DeviceId: '00000000-0000-4000-8000-000000000000', ReportId: uuidv7() }));
  agent.send({ v: 1, type: 'events', seq: 3, events: foreign });
  const refusedFrame = await agent.next('error');
  assert.equal(refusedFrame.code, 'ARCSIM_E_EVENT_FOREIGN', JSON.stringify(refusedFrame));
  agent.send({ v: 1, type: 'heartbeat', time: new Date().toISOString(), droppedEvents: 3, spooledEvents: 42 });

  // The store refuses a batch (disk full): the events are counted as refused with the retryable code, and the fault as a store error.
  faults.fail('SQLITE_FULL');
  const later = events.map((e) => ({ ...e, ReportId: uuidv7() }));
  agent.send({ v: 1, type: 'events', seq: 4, events: later });
  assert.equal((await agent.next('error')).code, 'ARCSIM_E_STORE_WRITE');
  faults.heal();

  const after = await scrape();
  const agentId = creds.agentId;
  for (const [table, n] of tables(events)) {
    assert.equal(sum(after, 'arcsim_events_received_total', { table, agent: agentId }), 4 * n, `${table} received: 4 frames of it decoded`);
    assert.equal(sum(after, 'arcsim_events_stored_total', { table, agent: agentId }), n, `${table} stored once`);
    assert.equal(sum(after, 'arcsim_events_rejected_total', { table, agent: agentId, code: 'ARCSIM_E_EVENT_FOREIGN' }), n);
    assert.equal(sum(after, 'arcsim_events_rejected_total', { table, agent: agentId, code: 'ARCSIM_E_STORE_WRITE' }), n);
  }
  assert.equal(sum(after, 'arcsim_batch_ack_seconds_count'), 2, 'two batches acked');
  assert.equal(sum(after, 'arcsim_batch_ack_seconds_bucket', { le: '+Inf' }), 2);
  assert.ok(sum(after, 'arcsim_batch_ack_seconds_sum') > 0);
  const alerts = ((await cp.adminRequest('GET', '/api/alerts')).body as { value: Array<{ properties: { alertType: string } }> }).value;
  assert.ok(alerts.length >= 1, 'the burst raised an alert');
  assert.equal(sum(after, 'arcsim_alerts_raised_total'), alerts.length, 'one raised per alert stored');
  assert.ok(sum(after, 'arcsim_alerts_raised_total', { alert_type: alerts[0]!.properties.alertType }) >= 1);
  assert.equal(sum(after, 'arcsim_detection_latency_seconds_count'), sum(after, 'arcsim_alerts_raised_total') + sum(after, 'arcsim_alerts_folded_total'));
  assert.equal(sum(after, 'arcsim_connected_agents'), 1);
  assert.equal(sum(after, 'arcsim_agent_spool_events', { agent: agentId }), 42);
  assert.equal(sum(after, 'arcsim_agent_spool_dropped_events', { agent: agentId }), 3);
  assert.equal(sum(after, 'arcsim_store_errors_total', { cause: 'disk full (SQLITE_FULL)' }), 1);

  // The syslog sink cannot connect: its backlog holds the new alert and its lag is the change's age.
  await cp.sinks.deliver();
  const sinkView = await scrape();
  assert.ok(sum(sinkView, 'arcsim_sink_pending_changes', { sink: 'siem', type: 'syslog' }) >= 1);
  assert.equal(sum(sinkView, 'arcsim_sink_failing', { sink: 'siem' }), 1);
  assert.ok(sum(sinkView, 'arcsim_sink_lag_seconds', { sink: 'siem' }) >= 0);

  // The agent leaves: the connected gauge drops and its spool gauges go.
  agent.close();
  await agent.closed;
  for (let i = 0; i < 50 && cp.connectedAgents().length; i++) await new Promise((r) => setImmediate(r));
  const gone = await scrape();
  assert.equal(sum(gone, 'arcsim_connected_agents'), 0);
  assert.equal(gone.filter((s) => s.name === 'arcsim_agent_spool_events').length, 0);
});

test('GET /metrics with agentLabels off: the counters keep only the table label', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1', metrics: { agentLabels: false } } });
  const url = await cp.listen();
  t.after(async () => { await cp.close(); await store.close(); });
  const { token } = await cp.createToken({ subscription: 's', resourceGroup: 'rg', ttlMs: 3_600_000 });
  const creds = await enroll(url, token, TEST_FACTS.hostname);
  const agent = await RawAgent.connect(url, creds);
  t.after(() => agent.close());
  await agent.register();
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  const events = planEvents(ssh, { detonationId: 'm2', device: { id: creds.agentId, name: TEST_FACTS.hostname }, startTime: Date.now() }).map((p) => p.event);
  agent.send({ v: 1, type: 'events', seq: 1, events });
  await agent.next('ack');
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${await apiKeyFor({ store }, 'reader')}` } });
  const samples = parseExposition(await res.text());
  const stored = samples.filter((s) => s.name === 'arcsim_events_stored_total');
  assert.equal(stored.reduce((n, s) => n + s.value, 0), events.length);
  assert.ok(stored.every((s) => s.labels.agent === undefined && typeof s.labels.table === 'string'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { formatSyslog, octetCounted, sdEscape } from '../../control-plane/sinks/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS } from '../helpers.ts';
import { sdParams, startRsyslog } from '../support/rsyslog.ts';
import { parseCef } from '../support/cef-parse.ts';

const library = loadLibrary();

test('syslog framing: RFC 5424 header and SD escapes, RFC 6587 octet counting in bytes', () => {
  // RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' must be escaped.
  assert.equal(sdEscape('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  const m = formatSyslog({ facility: 10, severity: 2, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), hostname: 'lab host', appName: 'arcsim', procId: '42', msgId: 'alert-created', data: { alertId: 'x"y' }, msg: 'hello' });
  // PRI = facility * 8 + severity (RFC 5424 §6.2.1); a space in HOSTNAME is not allowed, so it is replaced.
  assert.equal(m, '<82>1 2026-01-02T03:04:05.006Z lab_host arcsim 42 alert-created [arcsim@32473 alertId="x\\"y"] hello');
  // Octet counting counts bytes, not characters: "é" is two bytes.
  assert.equal(octetCounted('é').toString('utf8'), '2 é');
});

test('syslog sinks: a real rsyslog receives every alert over TCP (octet counting, CEF) and UDP (JSON), fields parsed right', async (t) => {
  const started = await startRsyslog();
  if (started.skip !== undefined) return t.skip(started.skip);
  const rs = started.rsyslog;
  t.after(() => rs.stop());
  const env = await startControlPlane({
    config: {
      sync: { profile: 'xdr-unified' },
      sinks: [
        { name: 'siem-tcp', type: 'syslog', transport: 'tcp', host: '127.0.0.1', port: rs.tcpPort, format: 'cef', hostname: 'arcsim-lab' },
        { name: 'siem-udp', type: 'syslog', transport: 'udp', host: '127.0.0.1', port: rs.udpPort, format: 'json', hostname: 'arcsim-lab', facility: 4 },
      ],
    },
  });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1' });
  let seq = 0;
  for (const [name, slugs] of [['web-01', ['ssh-brute-force-failed', 'suspicious-powershell-encoded']], ['db-01', ['sql-injection', 'sql-brute-force']]] as const) {
    const creds = await enroll(env.url, token.token, name);
    const a = await RawAgent.connect(env.url, creds);
    t.after(() => a.close());
    await a.register({ ...TEST_FACTS, hostname: name });
    for (const slug of slugs) {
      const events = planEvents(library.get(slug)!, { detonationId: `${name}-${slug}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed: ++seq }).map((p) => p.event);
      a.send({ v: 1, type: 'events', seq, events });
      await a.next('ack');
    }
  }
  const alerts = await env.store.alerts.listAlerts();
  assert.ok(alerts.length >= 4, `alerts: ${alerts.length}`);
  // A status change travels too.
  const responder = await apiKeyFor(env, 'responder');
  const first = alerts[0]!;
  const owner = first.properties.detectingProduct === 'MDE' ? 'MDE' : 'MDC';
  const res = await fetch(`${env.url}/api/alerts/${first.systemAlertId}/inProgress?product=${owner}`, { method: 'POST', headers: { authorization: `Bearer ${responder}` } });
  assert.equal(res.status, 200, await res.text());
  await env.cp.sinks.deliver();

  const expected = 2 * (alerts.length + 1);
  const lines = await rs.waitForLines(expected);
  assert.equal(lines.length, expected, `rsyslog wrote ${lines.length} of ${expected} lines`);
  const byId = new Map(alerts.map((a) => [a.systemAlertId, a]));
  const severity: Record<string, number> = { High: 2, Medium: 4, Low: 5, Informational: 6 };
  for (const input of ['tcp', 'udp'] as const) {
    const mine = lines.filter((l) => l.input === input);
    const createdIds = mine.filter((l) => l.msgId === 'alert-created').map((l) => sdParams(l.structuredData, 'arcsim@32473').alertId).sort();
    assert.deepEqual(createdIds, [...byId.keys()].sort(), `${input}: every alert once`);
    const statusLines = mine.filter((l) => l.msgId === 'alert-status');
    assert.deepEqual(statusLines.map((l) => sdParams(l.structuredData, 'arcsim@32473')).map((p) => [p.alertId, p.status]), [[first.systemAlertId, 'InProgress']]);
    for (const l of mine) {
      const sd = sdParams(l.structuredData, 'arcsim@32473');
      const alert = byId.get(sd.alertId!)!;
      assert.equal(l.hostname, 'arcsim-lab');
      assert.equal(l.appName, 'arcsim');
      assert.equal(l.procId, String(process.pid));
      assert.equal(l.pri, (input === 'tcp' ? 10 : 4) * 8 + severity[alert.severity]!);
      assert.match(sd.idempotencyKey!, new RegExp(`^arcsim:${alert.systemAlertId}:`));
      assert.ok(Math.abs(Date.parse(l.timereported) - (l.msgId === 'alert-created' ? alert.timeGenerated : Date.now())) < 120_000);
      if (input === 'tcp') {
        const cef = parseCef(l.msg);
        assert.equal(cef.header[0], 'CEF:0');
        assert.equal(cef.ext.externalId, alert.systemAlertId);
        assert.equal(cef.header[4], alert.alertType);
        assert.equal(cef.header[5], alert.properties.alertDisplayName);
      } else {
        const graph = JSON.parse(l.msg);
        assert.equal(graph.providerAlertId, alert.systemAlertId);
        assert.equal(graph.title, alert.properties.alertDisplayName);
      }
    }
  }
  const health = (await (await fetch(`${env.url}/api/health`)).json()).sinks;
  assert.deepEqual(health.map((s: any) => [s.name, s.state, s.pending]), [['siem-tcp', 'ok', 0], ['siem-udp', 'ok', 0]]);
});

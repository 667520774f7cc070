import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLibrary, planEvents, type InputValue } from '../../scenarios/index.ts';
import type { MachineFacts } from '../../protocol/index.ts';
import type { ControlPlaneConfig } from '../../control-plane/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS } from '../helpers.ts';

// Seed: "A legitimate user accessing an SQL Server from a breached computer which communicated with
// a crypto-mining C&C server" — the SQL alert and the mining alert are tied: one incident, and the
// SQL alert's description names the related alert.
const library = loadLibrary();
const WEB: MachineFacts = { ...TEST_FACTS, hostname: 'web-01', networkInterfaces: [{ name: 'eth0', macAddress: '02:00:0a:00:02:0f', ipAddresses: ['10.0.2.15'] }] };
const SQL: MachineFacts = { ...TEST_FACTS, hostname: 'sql-01', osName: 'windows', osType: 'windows', osVersion: '10.0.20348', osSku: 'Windows Server 2022 Standard', vmUuid: '4C4C4544-0042-3510-8052-B4C04F4B4E99' };

async function lab(t: { after(fn: () => unknown): void }, config: ControlPlaneConfig) {
  const env = await startControlPlane({ config });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
  const reader = await apiKeyFor(env);
  const api = async (path: string) => (await (await fetch(`${env.url}${path}`, { headers: { authorization: `Bearer ${reader}` } })).json()) as any;
  let n = 0;
  const host = async (facts: MachineFacts) => {
    const creds = await enroll(env.url, token.token, facts.hostname);
    const a = await RawAgent.connect(env.url, creds);
    t.after(() => a.close());
    await a.register(facts);
    let seq = 0;
    return async (slug: string, inputs?: Record<string, InputValue>) => {
      const events = planEvents(library.get(slug)!, { detonationId: `dt-${facts.hostname}-${++n}`, device: { id: creds.agentId, name: facts.hostname }, startTime: Date.now() - 120_000 + n * 1000, seed: n, inputs }).map((p) => p.event);
      a.send({ v: 1, type: 'events', seq: ++seq, events });
      await a.next('ack');
    };
  };
  const one = async (alertType: string) => {
    const list = (await api(`/api/alerts?alertType=${alertType}`)).value;
    assert.equal(list.length, 1, `one ${alertType}`);
    return list[0];
  };
  return { api, host, one };
}

test('breached-host SQL correlation: a SQL alert from a computer with a recent mining alert names it and joins its incident', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified' } }); // MDC alerts reach M365D, where incidents are
  const web = await l.host(WEB);
  const sql = await l.host(SQL);
  await web('digital-currency-mining');
  await sql('sql-injection', { web_server_ip: '10.0.2.15' });

  const mining = await l.one('ARCSIM_DigitalCurrencyMiningBehavior');
  const injection = await l.one('SQL.VM_PotentialSqlInjection');
  const description = String(injection.properties.description);
  assert.match(description, /The client 10\.0\.2\.15 is web-01, a breached computer which communicated with a crypto-mining C&C server/);
  assert.ok(description.includes(mining.name), `the description names the related alert ${mining.name}: ${description}`);
  assert.match(description, /Digital currency mining related behavior detected/);
  assert.equal(injection.properties.extendedProperties.relatedAlertId, mining.name);
  assert.ok(injection.arcsim.incidentId, 'the SQL alert is in an incident');
  assert.equal(injection.arcsim.incidentId, mining.arcsim.incidentId, 'one incident for both');
  const incident = await l.api(`/api/incidents/${injection.arcsim.incidentId}`);
  assert.deepEqual(incident.alerts.map((a: any) => a.alertType).sort(), ['ARCSIM_DigitalCurrencyMiningBehavior', 'SQL.VM_PotentialSqlInjection']);
});

test('breached-host SQL correlation: a client with no mining or C&C alert is not tied to anything', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified' } });
  const web = await l.host(WEB);
  const sql = await l.host(SQL);
  await web('digital-currency-mining');
  await sql('sql-injection', { web_server_ip: '10.0.2.99' }); // another computer
  const mining = await l.one('ARCSIM_DigitalCurrencyMiningBehavior');
  const injection = await l.one('SQL.VM_PotentialSqlInjection');
  assert.doesNotMatch(String(injection.properties.description), /breached computer|crypto-mining/);
  assert.equal(injection.properties.extendedProperties?.relatedAlertId, undefined);
  assert.notEqual(injection.arcsim.incidentId, mining.arcsim.incidentId);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLibrary, planEvents, type InputValue } from '../../scenarios/index.ts';
import type { ControlPlaneConfig } from '../../control-plane/index.ts';
import { apiKeyFor, cleanup, enroll, keyedFetch, RawAgent, startControlPlane, TEST_FACTS, type TestControlPlane } from '../helpers.ts';

const library = loadLibrary();

interface Lab {
  env: TestControlPlane;
  adminKey: string;
  /** A reader key, for the reads. */
  reader: string;
  host(name: string): Promise<{ play(slug: string, inputs?: Record<string, InputValue>): Promise<void> }>;
  api(path: string, init?: RequestInit): Promise<any>;
  act(path: string): Promise<any>;
}

async function lab(t: { after(fn: () => unknown): void }, config: ControlPlaneConfig = {}): Promise<Lab> {
  const env = await startControlPlane({ config });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const adminKey = (await env.cp.ensureAdminKey({ reset: true }))!;
  const token = await env.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
  let seq = 0;
  let seed = 0;
  // Reads with a reader key; status actions (act) with the admin key.
  const reader = await apiKeyFor(env);
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${env.url}${path}`, { ...init, headers: { authorization: `Bearer ${reader}`, ...(init.headers as Record<string, string> | undefined) } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  return {
    env, adminKey, reader, api,
    act: (path) => api(path, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } }),
    async host(name) {
      const creds = await enroll(env.url, token.token, name);
      const a = await RawAgent.connect(env.url, creds);
      t.after(() => a.close());
      await a.register({ ...TEST_FACTS, hostname: name });
      return {
        async play(slug, inputs) {
          const events = planEvents(library.get(slug)!, { detonationId: `${name}-${slug}-${++seed}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed, inputs }).map((p) => p.event);
          a.send({ v: 1, type: 'events', seq: ++seq, events });
          await a.next('ack');
        },
      };
    },
  };
}

const alertOf = async (l: Lab, alertType: string) => (await l.api(`/api/alerts?alertType=${alertType}`)).value;

test('incidents: the alerts of one attack on one host form one incident; an unrelated host gets its own', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified' } });
  const a = await l.host('host-a');
  const b = await l.host('host-b');
  await a.play('ssh-brute-force-failed');
  await a.play('suspicious-powershell-encoded');
  await b.play('ssh-brute-force-failed', { attacker_ip: '198.51.100.200' });

  const incidents = (await l.api('/api/incidents')).value;
  assert.equal(incidents.length, 2);
  const onA = incidents.find((i: any) => i.alerts.length === 2);
  assert.ok(onA, 'both alerts on host-a are one incident');
  assert.deepEqual(onA.alerts.map((x: any) => x.alertType).sort(), ['MDE_SuspiciousPowerShellCommandLine', 'VM_SshBruteForceFailed']);
  assert.equal(onA.severity, 'Medium');
  const onB = incidents.find((i: any) => i !== onA);
  assert.equal(onB.alerts.length, 1);
  assert.match(onB.alerts[0].resourceId, /machines\/host-b$/);
  // The alert links to its incident page, and both pages resolve.
  const alert = (await alertOf(l, 'MDE_SuspiciousPowerShellCommandLine'))[0];
  const incidentLink = alert.properties.extendedLinks.find((x: any) => x.Category === 'Incident');
  assert.equal(incidentLink.Href, `${l.env.url}/portal/incidents/${onA.incidentId}`);
  const page = await keyedFetch(l.reader)(incidentLink.Href);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Suspicious PowerShell CommandLine/);
  assert.equal((await keyedFetch(l.reader)(alert.properties.extendedLinks[0].Href)).status, 200);
  // Without a key the links lead a browser to the sign-in form.
  const anonymous = await fetch(incidentLink.Href, { redirect: 'manual' });
  assert.deepEqual([anonymous.status, anonymous.headers.get('location')], [303, '/portal/login']);
});

test('incidents merge when a new alert links two of them; the emptied one is closed and redirected', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified' } });
  const a = await l.host('host-a');
  const b = await l.host('host-b');
  await a.play('suspicious-powershell-encoded'); // incident 1: host-a
  await b.play('ssh-brute-force-failed', { attacker_ip: '203.0.113.99' }); // incident 2: host-b, 203.0.113.99
  assert.equal((await l.api('/api/incidents')).value.length, 2);
  await a.play('ssh-brute-force-failed', { attacker_ip: '203.0.113.99' }); // host-a AND 203.0.113.99: links both
  const incidents = (await l.api('/api/incidents')).value;
  const open = incidents.filter((i: any) => !i.redirectIncidentId);
  const redirected = incidents.filter((i: any) => i.redirectIncidentId);
  assert.equal(open.length, 1);
  assert.equal(open[0].alerts.length, 3);
  assert.equal(redirected.length, 1);
  assert.equal(redirected[0].status, 'Resolved');
  assert.equal(redirected[0].redirectIncidentId, open[0].incidentId);
  assert.deepEqual(redirected[0].tags, ['Redirected']);
  assert.equal(redirected[0].alerts.length, 0);
});

test('blog-2022: dismissing an MDE alert in M365D reaches MDE, not MDC; every change is audited', async (t) => {
  const l = await lab(t, { sync: { profile: 'blog-2022' } });
  const a = await l.host('host-a');
  await a.play('suspicious-powershell-encoded');
  await a.play('ssh-brute-force-failed');
  const ps = (await alertOf(l, 'MDE_SuspiciousPowerShellCommandLine'))[0];
  const copies = Object.fromEntries(ps.arcsim.copies.map((c: any) => [c.product, c]));
  assert.deepEqual(Object.keys(copies).sort(), ['M365D', 'MDC', 'MDE']);
  assert.equal(copies.MDE.id, ps.name, 'MDE owns the detection');
  assert.notEqual(copies.MDC.id, ps.name, 'the MDC copy is a separate alert');
  // The MDC copy resolves by its own id and links back to its source.
  const mdcCopy = await l.api(`/api/alerts/${copies.MDC.id}?product=MDC`);
  assert.equal(mdcCopy.properties.extendedProperties.sourceSystemAlertId, ps.name);
  assert.equal(mdcCopy.properties.productName, 'Microsoft Defender for Cloud');
  // MDC-detected alerts are not in M365D under blog-2022.
  const bf = (await alertOf(l, 'VM_SshBruteForceFailed'))[0];
  assert.deepEqual(bf.arcsim.copies.map((c: any) => c.product), ['MDC']);

  const r = await l.act(`/api/alerts/${copies.M365D.id}/dismiss?product=M365D`);
  assert.deepEqual(r.changes.map((c: any) => [c.product, c.to, c.via]), [['M365D', 'Dismissed', null], ['MDE', 'Dismissed', 'M365D']]);
  const after = Object.fromEntries((await l.api(`/api/alerts/${ps.name}`)).arcsim.copies.map((c: any) => [c.product, c.status]));
  assert.deepEqual(after, { M365D: 'Dismissed', MDC: 'Active', MDE: 'Dismissed' });
  assert.equal((await l.api(`/api/alerts/${ps.name}`)).properties.status, 'Dismissed', 'the detection takes its owner\'s status');
  const audit = (await l.api(`/api/alerts/${ps.name}/audit`)).value;
  assert.deepEqual(audit.map((x: any) => [x.product, x.fromStatus, x.toStatus, x.originProduct, x.viaProduct]), [
    ['M365D', 'Active', 'Dismissed', 'M365D', null],
    ['MDE', 'Active', 'Dismissed', 'M365D', 'M365D'],
  ]);
  // MDC status does not reach M365D/MDE either.
  await l.act(`/api/alerts/${copies.MDC.id}/resolve?product=MDC`);
  const final = Object.fromEntries((await l.api(`/api/alerts/${ps.name}`)).arcsim.copies.map((c: any) => [c.product, c.status]));
  assert.deepEqual(final, { M365D: 'Dismissed', MDC: 'Resolved', MDE: 'Dismissed' });
  // Status actions need the admin key and a product that shows the alert.
  const anon = await fetch(`${l.env.url}/api/alerts/${ps.name}/resolve?product=MDE`, { method: 'POST' });
  assert.equal(anon.status, 401);
  const wrong = await fetch(`${l.env.url}/api/alerts/${bf.name}/resolve?product=M365D`, { method: 'POST', headers: { authorization: `Bearer ${l.adminKey}` } });
  assert.equal(wrong.status, 404);
});

test('blog-2022 with mdeStatusToMdc: the other reading, where MDE status reaches MDC', async (t) => {
  const l = await lab(t, { sync: { profile: 'blog-2022', mdeStatusToMdc: true } });
  await (await l.host('host-a')).play('suspicious-powershell-encoded');
  const ps = (await alertOf(l, 'MDE_SuspiciousPowerShellCommandLine'))[0];
  const m365 = ps.arcsim.copies.find((c: any) => c.product === 'M365D');
  const r = await l.act(`/api/alerts/${m365.id}/dismiss?product=M365D`);
  assert.deepEqual(r.changes.map((c: any) => [c.product, c.via]), [['M365D', null], ['MDE', 'M365D'], ['MDC', 'MDE']]);
});

test('xdr-unified: status flows everywhere, MDC alerts appear in M365D, and resolving an incident resolves its alerts', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified' } });
  const a = await l.host('host-a');
  await a.play('suspicious-powershell-encoded');
  await a.play('ssh-brute-force-failed');
  const bf = (await alertOf(l, 'VM_SshBruteForceFailed'))[0];
  assert.deepEqual(bf.arcsim.copies.map((c: any) => c.product).sort(), ['M365D', 'MDC']);
  assert.ok(bf.arcsim.copies.find((c: any) => c.product === 'M365D').id.startsWith('dc'));
  const r = await l.act(`/api/alerts/${bf.name}/inProgress?product=MDC`);
  assert.deepEqual(r.changes.map((c: any) => c.product), ['MDC', 'M365D']);

  const incident = (await l.api('/api/incidents')).value[0];
  const res = await l.act(`/api/incidents/${incident.incidentId}/resolve?product=M365D`);
  assert.equal(res.incident.status, 'Resolved');
  for (const alert of (await l.api('/api/alerts')).value) {
    for (const c of alert.arcsim.copies) assert.equal(c.status, 'Resolved', `${alert.properties.alertType} in ${c.product}`);
  }
});

test('Sentinel as a hub: incident and alert status sync two-way through it', async (t) => {
  const l = await lab(t, { sync: { profile: 'blog-2022', sentinel: { enabled: true } } });
  await (await l.host('host-a')).play('suspicious-powershell-encoded');
  const ps = (await alertOf(l, 'MDE_SuspiciousPowerShellCommandLine'))[0];
  assert.deepEqual(ps.arcsim.copies.map((c: any) => c.product).sort(), ['M365D', 'MDC', 'MDE', 'Sentinel']);
  // M365D -> Sentinel (XDR connector) -> MDC (bi-directional MDC connector): the hub bridges the gap.
  const m365 = ps.arcsim.copies.find((c: any) => c.product === 'M365D');
  const r = await l.act(`/api/alerts/${m365.id}/dismiss?product=M365D`);
  assert.deepEqual(r.changes.map((c: any) => [c.product, c.via]), [['M365D', null], ['MDE', 'M365D'], ['Sentinel', 'M365D'], ['MDC', 'Sentinel']]);
  // Closing the incident in Sentinel closes it in M365D too.
  const incident = (await l.api('/api/incidents')).value[0];
  const res = await l.act(`/api/incidents/${incident.incidentId}/resolve?product=Sentinel`);
  assert.deepEqual(res.incident.status, 'Resolved');
  assert.deepEqual(res.incident.sentinelStatus, 'Resolved');
  const audit = await l.api('/api/sync');
  assert.ok(audit.edges.some((e: any) => e.from === 'Sentinel' && e.to === 'MDC'));
});

// Issue 15, found case: "an incident stays Active when all its alerts are dismissed". In M365D an
// incident is resolved when none of its alerts is open, and is Active again when one reopens.
test('incident status follows its alerts: resolved when every alert is closed, Active again when one reopens', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified' } });
  const a = await l.host('host-a');
  await a.play('suspicious-powershell-encoded');
  await a.play('ssh-brute-force-failed');
  const [incident] = (await l.api('/api/incidents')).value;
  assert.equal(incident.alerts.length, 2);
  const ps = (await alertOf(l, 'MDE_SuspiciousPowerShellCommandLine'))[0];
  const bf = (await alertOf(l, 'VM_SshBruteForceFailed'))[0];
  const m365 = ps.arcsim.copies.find((c: any) => c.product === 'M365D');
  const status = async () => (await l.api(`/api/incidents/${incident.incidentId}`)).status;

  await l.act(`/api/alerts/${m365.id}/dismiss?product=M365D`);
  assert.equal(await status(), 'Active', 'one alert is still open');
  // Resolved in MDC, carried to M365D by the matrix: the last open alert closes.
  const r = await l.act(`/api/alerts/${bf.name}/resolve?product=MDC`);
  assert.deepEqual(r.incident, { incidentId: incident.incidentId, from: 'Active', to: 'Resolved' });
  assert.equal(await status(), 'Resolved', 'every alert is dismissed or resolved');
  // Reopening one alert reopens the incident.
  await l.act(`/api/alerts/${m365.id}/activate?product=M365D`);
  assert.equal(await status(), 'Active');
  // An in-progress alert keeps the incident open.
  await l.act(`/api/alerts/${m365.id}/inProgress?product=M365D`);
  assert.equal(await status(), 'Active');
});

test('incident status follows the M365D copies: under blog-2022 an MDC-side dismissal does not close it, an MDE one does', async (t) => {
  const l = await lab(t, { sync: { profile: 'blog-2022' } });
  await (await l.host('host-a')).play('suspicious-powershell-encoded');
  const [incident] = (await l.api('/api/incidents')).value;
  const ps = (await alertOf(l, 'MDE_SuspiciousPowerShellCommandLine'))[0];
  const mdc = ps.arcsim.copies.find((c: any) => c.product === 'MDC');
  await l.act(`/api/alerts/${mdc.id}/dismiss?product=MDC`);
  assert.equal((await l.api(`/api/incidents/${incident.incidentId}`)).status, 'Active', 'MDC status does not reach M365D in blog-2022');
  await l.act(`/api/alerts/${ps.name}/dismiss?product=MDE`);
  assert.equal((await l.api(`/api/incidents/${incident.incidentId}`)).status, 'Resolved', 'MDE and M365D share status');
});

test('incident status follows its alerts with Sentinel on: both incident statuses close', async (t) => {
  const l = await lab(t, { sync: { profile: 'xdr-unified', sentinel: { enabled: true } } });
  await (await l.host('host-a')).play('ssh-brute-force-failed');
  const [incident] = (await l.api('/api/incidents')).value;
  const bf = (await alertOf(l, 'VM_SshBruteForceFailed'))[0];
  await l.act(`/api/alerts/${bf.name}/dismiss?product=MDC`);
  const after = await l.api(`/api/incidents/${incident.incidentId}`);
  assert.equal(after.status, 'Resolved');
  assert.equal(after.sentinelStatus, 'Resolved');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { cefExtensionEscape, cefHeaderEscape } from '../../control-plane/exports/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS, type TestControlPlane } from '../helpers.ts';
import { ocsfClassSchema } from '../support/ocsf-schema.ts';
import { parseCef } from '../support/cef-parse.ts';

const library = loadLibrary();
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** A control plane with alerts from two hosts (MDC and MDE detections), one alert resolved, incidents open. */
async function labWithAlerts(t: { after(fn: () => unknown): void }): Promise<{ env: TestControlPlane; reader: string; admin: string; get(path: string): Promise<any> }> {
  const env = await startControlPlane({ config: { sync: { profile: 'xdr-unified', sentinel: { enabled: true, bidirectional: true } } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const admin = (await env.cp.ensureAdminKey({ reset: true }))!;
  const reader = await apiKeyFor(env);
  const token = await env.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1' });
  let seed = 0;
  for (const [name, slugs] of [['web-01', ['ssh-brute-force-failed', 'suspicious-powershell-encoded']], ['db-01', ['sql-injection']]] as const) {
    const creds = await enroll(env.url, token.token, name);
    const a = await RawAgent.connect(env.url, creds);
    t.after(() => a.close());
    await a.register({ ...TEST_FACTS, hostname: name });
    let seq = 0;
    for (const slug of slugs) {
      const scenario = library.get(slug);
      assert.ok(scenario, `scenario ${slug}`);
      const events = planEvents(scenario, { detonationId: `${name}-${slug}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed: ++seed }).map((p) => p.event);
      a.send({ v: 1, type: 'events', seq: ++seq, events });
      await a.next('ack');
    }
  }
  const get = async (path: string) => {
    const res = await fetch(`${env.url}${path}`, { headers: { authorization: `Bearer ${reader}` } });
    const body = await res.json();
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
    return body;
  };
  const alerts = (await get('/api/alerts')).value;
  assert.ok(alerts.length >= 3, `alerts raised: ${alerts.length}`);
  const res = await fetch(`${env.url}/api/alerts/${alerts[0].name}/resolve?product=MDC`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
  assert.equal(res.status, 200, await res.text());
  return { env, reader, admin, get };
}

test('ocsf export: every alert is a valid OCSF 1.8.0 Detection Finding (2004), every incident an Incident Finding (2005)', async (t) => {
  const lab = await labWithAlerts(t);
  const out = await lab.get('/api/export?format=ocsf');
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  const detection = ajv.compile(ocsfClassSchema('events/findings/detection_finding.json').schema);
  const incident = ajv.compile(ocsfClassSchema('events/findings/incident_finding.json', ['incident']).schema);
  assert.equal(out.alerts.length, (await lab.get('/api/alerts')).value.length);
  assert.ok(out.incidents.length >= 1);
  for (const f of out.alerts) assert.ok(detection(f), `${f.finding_info?.uid}: ${ajv.errorsText(detection.errors)}`);
  for (const f of out.incidents) assert.ok(incident(f), `${f.metadata?.uid}: ${ajv.errorsText(incident.errors)}`);
  assert.ok(out.alerts.every((f: any) => f.class_uid === 2004 && f.category_uid === 2 && f.type_uid === 200400 + f.activity_id));
  // The resolved alert is a Close activity with status Resolved (OCSF status_id 4).
  const closed = out.alerts.filter((f: any) => f.activity_id === 3);
  assert.equal(closed.length, 1);
  assert.equal(closed[0].status_id, 4);
});

test('ocsf schema check fails on a finding that breaks the schema (the check can fail)', async () => {
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  const detection = ajv.compile(ocsfClassSchema('events/findings/detection_finding.json').schema);
  const minimal = {
    activity_id: 1, category_uid: 2, class_uid: 2004, type_uid: 200401, severity_id: 3, time: 1,
    metadata: { version: '1.8.0', product: { name: 'x' } }, finding_info: { uid: 'a' },
  };
  assert.ok(detection(minimal), ajv.errorsText(detection.errors));
  assert.equal(detection({ ...minimal, type_uid: 200501 }), false, 'type_uid of another class');
  assert.equal(detection({ ...minimal, severity_id: 7 }), false, 'severity_id outside the enum');
  assert.equal(detection({ ...minimal, finding_info: { title: 'no uid' } }), false, 'finding_info.uid is required');
  assert.equal(detection({ ...minimal, findng_info: {} }), false, 'an attribute OCSF does not define');
  assert.equal(detection({ ...minimal, time: '2026-01-01' }), false, 'time is a timestamp_t (epoch ms)');
  assert.equal(detection({ ...minimal, device: { type_id: 1, hostname: 'h', os: { name: 'Linux', type_id: 200 }, bogus: 1 } }), false, 'an object attribute OCSF does not define');
  assert.ok(detection({ ...minimal, device: { type_id: 1, hostname: 'h', os: { name: 'Linux', type_id: 200 } } }), ajv.errorsText(detection.errors));
  assert.equal(detection({ ...minimal, device: { hostname: 'h' } }), false, 'device.type_id is required');
});

test('graph export: alerts_v2 and incidents with the enums of the Graph reference, evidence typed by @odata.type', async (t) => {
  const lab = await labWithAlerts(t);
  const out = await lab.get('/api/export?format=graph');
  // Members of the Graph enums (security-alert / security-incident reference).
  const severity = ['unknown', 'informational', 'low', 'medium', 'high'];
  const status = ['unknown', 'new', 'inProgress', 'resolved'];
  const classification = ['unknown', 'falsePositive', 'truePositive', 'informationalExpectedActivity'];
  const serviceSource = ['unknown', 'microsoftDefenderForEndpoint', 'microsoftDefenderForIdentity', 'microsoftDefenderForCloudApps', 'microsoftDefenderForOffice365', 'microsoft365Defender', 'azureAdIdentityProtection', 'microsoftAppGovernance', 'dataLossPrevention', 'microsoftDefenderForCloud', 'microsoftSentinel'];
  const detectionSource = ['unknown', 'microsoftDefenderForEndpoint', 'antivirus', 'smartScreen', 'customTi', 'microsoftDefenderForOffice365', 'automatedInvestigation', 'microsoftThreatExperts', 'customDetection', 'microsoftDefenderForIdentity', 'cloudAppSecurity', 'microsoft365Defender', 'azureAdIdentityProtection', 'manual', 'microsoftDataLossPrevention', 'appGovernancePolicy', 'appGovernanceDetection', 'microsoftDefenderForCloud', 'microsoftDefenderForIoT', 'microsoftDefenderForServers', 'microsoftDefenderForStorage', 'microsoftDefenderForDNS', 'microsoftDefenderForDatabases', 'microsoftDefenderForContainers', 'microsoftDefenderForNetwork', 'microsoftDefenderForAppService', 'microsoftDefenderForKeyVault', 'microsoftDefenderForResourceManager', 'microsoftDefenderForApiManagement', 'nrtAlerts', 'scheduledAlerts', 'microsoftDefenderThreatIntelligenceAnalytics', 'builtInMl'];
  const evidenceTypes = new Set(['deviceEvidence', 'userEvidence', 'ipEvidence', 'processEvidence', 'fileEvidence', 'urlEvidence'].map((e) => `#microsoft.graph.security.${e}`));
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
  for (const a of out.alerts) {
    assert.equal(a['@odata.type'], '#microsoft.graph.security.alert');
    assert.ok(severity.includes(a.severity), a.severity);
    assert.ok(status.includes(a.status), a.status);
    assert.ok(classification.includes(a.classification), a.classification);
    assert.ok(serviceSource.includes(a.serviceSource), a.serviceSource);
    assert.ok(detectionSource.includes(a.detectionSource), a.detectionSource);
    for (const k of ['createdDateTime', 'lastUpdateDateTime', 'firstActivityDateTime', 'lastActivityDateTime']) assert.match(a[k], iso, k);
    assert.ok(a.evidence.length >= 1);
    for (const e of a.evidence) assert.ok(evidenceTypes.has(e['@odata.type']), e['@odata.type']);
    assert.ok(a.mitreTechniques.every((m: string) => /^T\d{4}(\.\d{3})?$/.test(m)), a.mitreTechniques.join());
  }
  assert.deepEqual(out.alerts.filter((a: any) => a.status === 'resolved').length, 1);
  assert.ok(out.alerts.some((a: any) => a.serviceSource === 'microsoftDefenderForEndpoint'));
  assert.ok(out.alerts.some((a: any) => a.serviceSource === 'microsoftDefenderForCloud'));
  // XDR ids: endpoint alerts `da…`, cloud alerts `dc…`; the provider keeps the detection's id.
  for (const a of out.alerts) assert.match(a.id, a.serviceSource === 'microsoftDefenderForEndpoint' ? /^da/ : /^dc/);
  for (const i of out.incidents) {
    assert.equal(i['@odata.type'], '#microsoft.graph.security.incident');
    assert.ok(['active', 'resolved', 'inProgress', 'redirected', 'awaitingAction'].includes(i.status), i.status);
  }
});

test('sentinel export: SecurityAlert and SecurityIncident rows carry only the columns of the Log Analytics tables', async (t) => {
  const lab = await labWithAlerts(t);
  const out = await lab.get('/api/export?format=sentinel');
  // Azure Monitor Logs table reference: SecurityAlert, SecurityIncident.
  const alertColumns = new Set(['AlertLink', 'AlertName', 'AlertSeverity', 'AlertType', 'CompromisedEntity', 'ConfidenceLevel', 'ConfidenceScore', 'Description', 'DisplayName', 'EndTime', 'Entities', 'ExtendedLinks', 'ExtendedProperties', 'IsIncident', 'ProcessingEndTime', 'ProductComponentName', 'ProductName', 'ProviderName', 'RemediationSteps', 'ResourceId', 'SourceComputerId', 'SourceSystem', 'StartTime', 'Status', 'SubTechniques', 'SystemAlertId', 'Tactics', 'Techniques', 'TenantId', 'TimeGenerated', 'Type', 'VendorName', 'VendorOriginalId', 'WorkspaceResourceGroup', 'WorkspaceSubscriptionId']);
  const incidentColumns = new Set(['AdditionalData', 'AlertIds', 'BookmarkIds', 'Classification', 'ClassificationComment', 'ClassificationReason', 'ClosedTime', 'Comments', 'CreatedTime', 'Description', 'FirstActivityTime', 'FirstModifiedTime', 'IncidentName', 'IncidentNumber', 'IncidentUrl', 'Labels', 'LastActivityTime', 'LastModifiedTime', 'ModifiedBy', 'Owner', 'ProviderIncidentId', 'ProviderName', 'RelatedAnalyticRuleIds', 'Severity', 'SourceSystem', 'Status', 'TenantId', 'TimeGenerated', 'Title', 'Type']);
  for (const r of out.alerts) {
    for (const k of Object.keys(r)) assert.ok(alertColumns.has(k), `SecurityAlert has no column ${k}`);
    assert.equal(r.Type, 'SecurityAlert');
    assert.ok(['New', 'InProgress', 'Resolved', 'Dismissed'].includes(r.Status), r.Status);
    assert.ok(['High', 'Medium', 'Low', 'Informational'].includes(r.AlertSeverity));
    assert.ok(Array.isArray(JSON.parse(r.Entities)), 'Entities is JSON text');
  }
  for (const r of out.incidents) {
    for (const k of Object.keys(r)) assert.ok(incidentColumns.has(k), `SecurityIncident has no column ${k}`);
    assert.ok(['New', 'Active', 'Closed'].includes(r.Status), r.Status);
    assert.ok(JSON.parse(r.AlertIds).length >= 1);
  }
  assert.deepEqual(out.incidents.map((r: any) => r.IncidentNumber), out.incidents.map((_: unknown, i: number) => i + 1));
});

test('cef: header escapes | and \\, extension escapes = and \\ and line breaks (ArcSight CEF examples)', () => {
  // The CEF guide's examples: a pipe in a header field, a backslash, an equals sign in an extension value.
  assert.equal(cefHeaderEscape('detected a | in message'), 'detected a \\| in message');
  assert.equal(cefHeaderEscape('detected a \\ in packet'), 'detected a \\\\ in packet');
  assert.equal(cefHeaderEscape('detected an = in message'), 'detected an = in message');
  assert.equal(cefExtensionEscape('blocked a = dst'), 'blocked a \\= dst');
  assert.equal(cefExtensionEscape('a | b'), 'a | b');
  assert.equal(cefExtensionEscape('c:\\windows'), 'c:\\\\windows');
  assert.equal(cefExtensionEscape('line1\nline2\r\nline3\r'), 'line1\\nline2\\nline3\\r');
});

test('cef export: one line per alert whose fields parse back to the alert', async (t) => {
  const lab = await labWithAlerts(t);
  const out = await lab.get('/api/export?format=cef');
  const alerts = (await lab.get('/api/alerts')).value;
  assert.equal(out.alerts.length, alerts.length);
  assert.equal(out.incidents.length, 0);
  for (const line of out.alerts as string[]) {
    assert.doesNotMatch(line, /[\r\n]/);
    const { header, ext } = parseCef(line);
    assert.equal(header[0], 'CEF:0');
    const alert = alerts.find((a: any) => a.name === ext.externalId);
    assert.ok(alert, `externalId ${ext.externalId}`);
    assert.equal(header[4], alert.properties.alertType);
    assert.equal(header[5], alert.properties.alertDisplayName);
    assert.equal(Number(header[6]), { Informational: 1, Low: 3, Medium: 5, High: 8 }[alert.properties.severity as string]);
    assert.equal(ext.msg, alert.properties.description);
    assert.equal(ext.cs3, alert.properties.resourceIdentifiers[0].azureResourceId);
    assert.equal(Number(ext.rt), Date.parse(alert.properties.timeGeneratedUtc));
  }
});

function arcsim(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('arcsim export: NDJSON / CEF lines through the API with a reader key; --since in the future exports nothing; a bad --since is refused', async (t) => {
  const lab = await labWithAlerts(t);
  const cli = { ARCSIM_CONTROL_PLANE: lab.env.url, ARCSIM_API_KEY: lab.reader, ARCSIM_ADMIN_KEY: '' };
  const alerts = (await lab.get('/api/alerts')).value.length;
  const incidents = (await lab.get('/api/incidents')).value.length;
  const ocsf = await arcsim(['export', '--format', 'ocsf'], cli);
  assert.equal(ocsf.code, 0, ocsf.stderr);
  const records = ocsf.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.filter((r) => r.class_uid === 2004).length, alerts);
  assert.equal(records.filter((r) => r.class_uid === 2005).length, incidents);
  const out = join(lab.env.dir, 'alerts.cef');
  const cef = await arcsim(['export', '--format', 'cef', '--since', '1h', '--out', out], cli);
  assert.equal(cef.code, 0, cef.stderr);
  assert.match(cef.stderr, new RegExp(`${alerts} alert\\(s\\)`));
  const future = await arcsim(['export', '--format', 'graph', '--since', '2999-01-01T00:00:00Z'], cli);
  assert.equal(future.code, 0, future.stderr);
  assert.equal(future.stdout, '');
  const bad = await arcsim(['export', '--format', 'graph', '--since', 'yesterday'], cli);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ARCSIM_E_VALIDATION/);
  const res = await fetch(`${lab.env.url}/api/export?format=cef`);
  assert.equal(res.status, 401, 'no key, no export');
});

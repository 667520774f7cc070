import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../../control-plane/index.ts';
import { queryStore } from '../../control-plane/query/index.ts';
import { runOfflineDetection } from '../../control-plane/detection/offline-detect.ts';
import { toMdcAlert } from '../../control-plane/alerts/mdc-alert.ts';
import { readRecordedEvents } from '../../scenarios/recorded/index.ts';
import { ALERT_REFERENCE } from '../support/alert-reference.ts';

/**
 * Kubernetes audit logs (audit.k8s.io/v1 Events) as KubernetesAudit rows, and the Defender for
 * Containers alerts over them. Expected values come from the fixture (test/fixtures/k8s-audit/,
 * written from the Event type's documented fields), the AKSAudit column reference and Microsoft's
 * container alert reference (test/support/alert-reference.ts), never from the code under test.
 */
const DIR = join(import.meta.dirname, '..', 'fixtures', 'k8s-audit');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

test('an audit log becomes KubernetesAudit rows with the AKSAudit columns, one per Event; an EventList reads the same', () => {
  const lines = read('attack.jsonl').trim().split('\n').map((l) => JSON.parse(l));
  const r = readRecordedEvents(read('attack.jsonl'), 'k8s-audit', 'attack.jsonl', { cluster: 'Arc-K8s-01' });
  assert.equal(r.records, 7);
  assert.equal(r.mapped, 7);
  assert.equal(r.skipped, 0);
  const rows = r.events as Array<Record<string, unknown>>;
  assert.ok(rows.every((e) => e.Table === 'KubernetesAudit' && e.DeviceName === 'arc-k8s-01'));
  // The privileged pod's ResponseComplete record, column by column from the Event's fields.
  const src = lines[1];
  const row = rows.find((e) => e.AuditId === src.auditID && e.Stage === 'ResponseComplete')!;
  assert.equal(row.Verb, 'create');
  assert.equal(row.Level, 'RequestResponse');
  assert.equal(row.RequestUri, src.requestURI);
  assert.equal(row.Timestamp, src.stageTimestamp);
  assert.equal(row.StageReceivedTime, src.stageTimestamp);
  assert.equal(row.RequestReceivedTime, src.requestReceivedTimestamp);
  assert.deepEqual(row.User, src.user);
  assert.deepEqual(row.SourceIps, ['198.51.100.23']);
  assert.deepEqual(row.ObjectRef, { resource: 'pods', namespace: 'default', name: 'debug-tools', apiVersion: 'v1' });
  assert.deepEqual(row.ResponseStatus, { metadata: {}, code: 201 });
  assert.deepEqual(row.RequestObject, src.requestObject);
  assert.equal(new Set(rows.map((e) => e.ReportId)).size, 7, 'the two stages of one request are two rows with their own ReportIds');

  const list = readRecordedEvents(read('attack-eventlist.json'), 'k8s-audit', 'attack-eventlist.json', { cluster: 'arc-k8s-01' });
  const strip = (e: Record<string, unknown>) => ({ ...e, ReportId: '' });
  assert.deepEqual(list.events.map((e) => strip(e as Record<string, unknown>)), rows.map(strip));
});

test('records that are not audit.k8s.io/v1 Events are counted with the reason, never dropped silently', () => {
  const good = read('attack.jsonl').trim().split('\n')[1]!;
  const wrongVersion = good.replace('"audit.k8s.io/v1"', '"audit.k8s.io/v1beta1"');
  const badStage = good.replace('"stage":"ResponseComplete"', '"stage":"Done"');
  const r = readRecordedEvents([good, wrongVersion, badStage, '{"kind":"Pod"}'].join('\n'), 'k8s-audit', 'mixed.jsonl');
  assert.equal(r.records, 4);
  assert.equal(r.mapped, 1);
  assert.equal(r.skipped, 3);
  assert.match(r.invalid[0]!.reason, /apiVersion/);
  assert.match(r.invalid[1]!.reason, /stage/);
  assert.match(r.invalid[2]!.reason, /kind/);
});

test('the Defender for Containers rules raise the five K8S_* alerts on the attack log as Microsoft publishes them, and nothing on the near misses', async () => {
  const attack = readRecordedEvents(read('attack.jsonl'), 'k8s-audit', 'attack.jsonl', { cluster: 'arc-k8s-01' });
  const run = await runOfflineDetection(attack.events);
  const types = run.alerts.map((a) => a.alertType).sort();
  assert.deepEqual(types, ['K8S_ClusterAdminBinding', 'K8S_ExposedDashboard', 'K8S_MaliciousContainerImage', 'K8S_PrivilegedContainer', 'K8S_SensitiveMount']);
  for (const a of run.alerts) {
    const mdc = toMdcAlert(a, 'http://127.0.0.1').properties as Record<string, unknown>;
    const ref = ALERT_REFERENCE[a.alertType]!;
    assert.equal(mdc.alertDisplayName, ref.alertDisplayName);
    assert.equal(mdc.severity, ref.severity);
    assert.equal(mdc.productComponentName, 'Containers', 'Defender for Containers alerts are of the Containers component');
    assert.equal(mdc.compromisedEntity, 'arc-k8s-01');
  }
  // Two stages of the privileged pod's request: one alert.
  assert.equal(run.alerts.find((a) => a.alertType === 'K8S_PrivilegedContainer')!.count, 1);
  const benign = readRecordedEvents(read('benign.jsonl'), 'k8s-audit', 'benign.jsonl');
  assert.deepEqual((await runOfflineDetection(benign.events)).alerts.map((a) => a.alertType), []);
});

test('SigmaHQ Kubernetes audit rules run over KubernetesAudit rows (the audit Event field names map to the AKSAudit columns)', async () => {
  const { loadRulesDir } = await import('../../control-plane/detection/index.ts');
  const dir = '/tmp/sigma-lead/rules/application/kubernetes/audit';
  let rules;
  try {
    rules = loadRulesDir(dir);
  } catch {
    return; // the pinned SigmaHQ extract is absent on this machine
  }
  assert.equal(rules.detections.length, 16, 'all 16 SigmaHQ kubernetes/audit rules load');
  const attack = readRecordedEvents(read('attack.jsonl'), 'k8s-audit', 'attack.jsonl');
  const run = await runOfflineDetection(attack.events, { rules });
  const names = run.alerts.map((a) => a.properties.alertDisplayName).sort();
  // SigmaHQ's own titles: the hostPath pod, and the ClusterRoleBinding as a role binding change. Its
  // "Privileged Container Deployed" asks for added capabilities, which no pod of the fixture has.
  assert.deepEqual(names, ['Container With A hostPath Mount Created', 'Kubernetes Rolebinding Modification']);
});

test('KubernetesAudit is a KQL table: the audit columns and the request object are queryable', async (t) => {
  const store = openSqliteStore({ file: ':memory:' });
  t.after(() => store.close());
  const r = readRecordedEvents(read('attack.jsonl'), 'k8s-audit', 'attack.jsonl', { cluster: 'arc-k8s-01' });
  await store.events.insertEvents(r.events[0]!.DeviceId, r.events, Date.parse('2026-03-02T11:00:00Z'));
  const q = (kql: string) => queryStore(kql, { store, baseUrl: () => 'http://lab', now: () => new Date('2026-03-02T11:00:00Z'), limits: { timeoutMs: 30_000 } });
  const res = await q(`KubernetesAudit
| where Stage == 'ResponseComplete' and Verb == 'create'
| extend resource = tostring(ObjectRef.resource), name = tostring(ObjectRef.name)
| summarize n = count() by resource
| order by resource asc`);
  assert.deepEqual(res.rows.map((row) => [row.resource, row.n]), [['clusterrolebindings', 1], ['pods', 3]]);
  const admins = await q(`KubernetesAudit | where tostring(RequestObject.roleRef.name) == 'cluster-admin' | project DeviceName, AuditId`);
  assert.deepEqual(admins.rows.map((row) => [row.DeviceName, row.AuditId]), [['arc-k8s-01', '5f3c8e2a-1b7d-4c9e-a0f1-000000000004']]);
});

test('arcsim detect --format k8s-audit --cluster: the audit log in, the K8S_* alerts on that cluster out', () => {
  const p = spawnSync(process.execPath, [BIN, 'detect', '--format', 'k8s-audit', '--cluster', 'eks-prod', '--events', join(DIR, 'attack.jsonl'), '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(p.status, 0, p.stderr);
  const out = JSON.parse(p.stdout);
  assert.equal(out.events, 7);
  assert.equal(out.recorded.format, 'k8s-audit');
  assert.equal(out.alerts.length, 5);
  assert.ok(out.alerts.every((a: { properties: { compromisedEntity: string } }) => a.properties.compromisedEntity === 'eks-prod'));
  assert.match(p.stderr, /7 k8s-audit record\(s\), 7 mapped to 7 KubernetesAudit rows/);
});

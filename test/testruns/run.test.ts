import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ControlPlaneApi, controlPlaneApi, inProcessTransport, loadSuiteFile, parseBundle, parseSuite, renderMatrix, replayBundle, runSuite, toJUnit, toMarkdown, toNavigatorLayer,
} from '../../testruns/index.ts';
import { RunResultSchema, type RunResult } from '../../protocol/index.ts';
import { apiKeyFor, cleanup, keyedFetch, startControlPlane } from '../helpers.ts';
import { brokenRulesDir, EXAMPLES, runLab } from './helpers.ts';
import { parseXml } from './mini-xml.ts';

const ONPREM = join(EXAMPLES, 'onprem.yaml');
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const cell = (r: RunResult, row: string) => r.cells.find((c) => c.rowId === row)!;

/** Runs the CLI in a child process without blocking this one (it serves the control plane the CLI talks to). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('examples/onprem.yaml over real loopback: every cell passes, faults change no count, reports and stored run agree', async (t) => {
  const lab = await runLab(t);
  const agent = await lab.addAgent('lab-host-01');
  let reconnects = 0;
  agent.on('registered', () => reconnects++);
  const suite = loadSuiteFile(ONPREM);
  const r = await runSuite(suite, { api: controlPlaneApi(lab.env.url, lab.adminKey) }); // over HTTP, as the CLI does
  assert.equal(r.ok, true, renderMatrix(r));
  // The lab host is Linux (TEST_FACTS): the Windows rows and the incident check built on them are N/A, never played.
  assert.deepEqual(r.summary, { cells: 10, pass: 6, fail: 0, notRun: 0, notChecked: 0, notApplicable: 4 });
  assert.equal(r.syncProfile, 'mdc-classic');
  const ps = cell(r, 'powershell-encoded');
  assert.equal(ps.status, 'not-applicable');
  assert.deepEqual(ps.detonationIds, [], 'a Windows scenario is never played on a Linux host');
  assert.match(ps.checks[0]!.detail, /suspicious-powershell-encoded is written for windows; the host runs linux \(Debian GNU\/Linux 12\)/);
  assert.equal(cell(r, 'incident:brute-force-apart-from-powershell').status, 'not-applicable');

  // Dedup: two plays, one alert with two occurrences, matched by detonation id.
  const ssh = cell(r, 'ssh-brute-force');
  assert.equal(ssh.detonationIds.length, 2);
  assert.deepEqual(ssh.alerts.map((a) => [a.alertType, a.count]), [['VM_SshBruteForceFailed', 2]]);
  assert.deepEqual(ssh.events, { played: 20, stored: 20 });
  // Sync: dismissed in M365D, reached MDE, not MDC (mdc-classic).
  const fileless = cell(r, 'fileless-linux');
  assert.deepEqual(fileless.alerts[0]!.products, { M365D: 'Dismissed', MDC: 'Active', MDE: 'Dismissed' });
  assert.ok(fileless.alerts[0]!.incidentId);
  assert.deepEqual(cell(r, 'ssh-brute-force-benign').alerts, []);
  // Faults: the socket was dropped mid-run (the agent registered again), batches went twice,
  // events went out of order — and nothing was lost or counted twice.
  const faulted = cell(r, 'ssh-brute-force-faults');
  assert.ok(reconnects >= 1, 'the connection was dropped and re-established during the faulted play');
  assert.deepEqual(faulted.events, { played: 10, stored: 10 });
  assert.deepEqual(faulted.alerts.map((a) => [a.alertType, a.count]), [['VM_SshBruteForceFailed', 1]]);
  assert.notEqual(faulted.alerts[0]!.systemAlertId, ssh.alerts[0]!.systemAlertId);

  // Stored in the control plane: GET /api/runs and /api/runs/{id}.
  const reader = keyedFetch(await apiKeyFor(lab.env));
  const runs = await (await reader(`${lab.env.url}/api/runs`)).json();
  assert.equal(runs.value[0].runId, r.runId);
  const stored = RunResultSchema.parse(await (await reader(`${lab.env.url}/api/runs/${r.runId}`)).json());
  assert.deepEqual(stored, r);

  // JUnit: well-formed, one testcase per cell, counts consistent.
  const x = parseXml(toJUnit(r));
  assert.equal(x.name, 'testsuites');
  const cases = x.children.flatMap((s) => { assert.equal(s.name, 'testsuite'); return s.children.filter((c) => c.name === 'testcase'); });
  assert.equal(cases.length, r.cells.length);
  assert.equal(Number(x.attrs.tests), r.cells.length);
  assert.equal(Number(x.attrs.failures), 0);
  // Markdown renders the matrix; the Navigator layer is v4.5 with exercised and detected techniques.
  const md = toMarkdown(r);
  assert.match(md, /\| scenario run \| lab-host-01 \(onprem\) \|\n\|---\|---\|\n\| ssh-brute-force \| PASS \|/);
  assert.match(md, /## ATT&CK coverage/);
  const layer = toNavigatorLayer(r) as any;
  assert.equal(layer.versions.layer, '4.5');
  const t1110 = layer.techniques.find((x: any) => x.techniqueID === 'T1110.001');
  assert.equal(t1110.score, 1);
  const t1105 = layer.techniques.find((x: any) => x.techniqueID === 'T1105');
  assert.equal(t1105.score, 0, 'exercised by the Linux fileless scenario, detected by no rule');
  assert.equal(layer.techniques.find((x: any) => x.techniqueID === 'T1204.002'), undefined, 'the PowerShell scenario was not played (N/A on Linux)');

  // Bundle: export, then replay offline with the same rules (nothing changes) and with a broken rule.
  const bundle = parseBundle(await controlPlaneApi(lab.env.cp).bundle(r.runId));
  assert.equal(bundle.events.length, r.cells.reduce((n, c) => n + c.events.stored, 0));
  const same = await replayBundle(bundle);
  assert.ok(same.length > 0 && same.every((c) => !c.changed), JSON.stringify(same, null, 1));
  const rules = brokenRulesDir();
  t.after(() => cleanup(rules));
  const broken = await replayBundle(bundle, { rulesDir: rules });
  const changed = broken.filter((c) => c.changed).map((c) => [c.rowId, c.after.status, c.after.reasons]);
  assert.deepEqual(changed, [['ssh-brute-force', 'fail', ['alert missing']], ['ssh-brute-force-faults', 'fail', ['alert missing']]]);

  // Live: the same bundle through the real agent path to another control plane, running the broken rules.
  const other = await startControlPlane({ config: { rulesDirs: [rules] } });
  t.after(async () => { await other.close(); cleanup(other.dir); });
  const token = await other.cp.createToken({ subscription: 'replay', resourceGroup: 'replay' });
  const live = await replayBundle(bundle, { target: { url: other.url, token: token.token, apiKey: await apiKeyFor(other), stateDir: join(other.dir, 'replay-agents') } });
  assert.deepEqual(live.filter((c) => c.changed).map((c) => [c.rowId, c.after.status, c.after.reasons]), changed);
  assert.ok(await other.store.events.countEvents() >= bundle.events.length, 'every bundled event went through the other control plane');
});

test('a rule that no longer fires: its cells fail with "alert missing" and arcsim run exits non-zero', async (t) => {
  const rules = brokenRulesDir();
  t.after(() => cleanup(rules));
  const lab = await runLab(t, { rulesDirs: [rules] });
  await lab.addAgent('lab-host-01');
  const dir = lab.env.dir;
  // The CLI runs in a child process; this process keeps serving the control plane and the agent.
  const { code, stdout, stderr } = await cli(['run', ONPREM, '--control-plane', lab.env.url, '--admin-key', lab.adminKey,
    '--junit', join(dir, 'junit.xml'), '--report', join(dir, 'report.md'), '--navigator', join(dir, 'layer.json'), '--json', join(dir, 'result.json')]);
  assert.equal(code, 1, stdout + stderr);
  assert.match(stdout, /ssh-brute-force\s+FAIL: alert missing/);
  assert.match(stdout, /ssh-brute-force-faults\s+FAIL: alert missing/);
  assert.match(stdout, /fileless-linux\s+PASS/);
  assert.match(stdout, /powershell-encoded\s+N\/A/);
  assert.match(stderr, /\[\d+\/6\] ssh-brute-force/, 'plain progress lines when stderr is not a TTY');
  const result = RunResultSchema.parse(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')));
  assert.equal(result.ok, false);
  // The incident check that names the missing alert fails too, for the same reason.
  assert.deepEqual(result.cells.filter((c) => c.status === 'fail').map((c) => [c.rowId, c.reasons]), [
    ['ssh-brute-force', ['alert missing']], ['ssh-brute-force-faults', ['alert missing']], ['incident:brute-force-apart-from-fileless', ['alert missing']],
  ]);
  const junit = parseXml(readFileSync(join(dir, 'junit.xml'), 'utf8'));
  const failures = junit.children.flatMap((s) => s.children).filter((c) => c.children.some((f) => f.name === 'failure'));
  assert.equal(failures.length, 3);
  assert.equal(failures[0]!.children[0]!.attrs.type, 'alert missing');
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /\| ssh-brute-force \| FAIL: alert missing \|/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'layer.json'), 'utf8')).techniques.find((x: any) => x.techniqueID === 'T1110.001').score, 0);
  // arcsim run show ID returns it later (a reader key is enough).
  const show = await cli(['run', 'show', result.runId, '--control-plane', lab.env.url, '--api-key', await apiKeyFor(lab.env)]);
  assert.equal(show.code, 1);
  assert.match(show.stdout, new RegExp(`Test run ${result.runId}`));
  assert.match(show.stdout, /FAIL: 3\/10 cells passed, 3 failed/);
});

test('hosts that are not connected are "not run", selectors that match nothing too; selection by cloud, SQL and persona', async (t) => {
  const lab = await runLab(t);
  await lab.addAgent('onprem-01');
  await lab.addAgent('ec2-web', { cloudMetadata: { provider: 'AWS', details: { AccountId: '123456789012', InstanceId: 'i-0abc' } }, persona: 'ec2-web' });
  await lab.addAgent('gcp-sql', { cloudMetadata: { provider: 'GCP' }, persona: 'gcp-sql' }, true);
  const gone = await lab.addAgent('gcp-gone', { cloudMetadata: { provider: 'GCP' }, persona: 'gcp-gone' });
  await gone.stop();
  while (lab.env.cp.connectedAgents().length > 3) await new Promise((r) => setTimeout(r, 10));
  const suite = parseSuite(`
name: selection
hosts:
  real: { persona: false }
  aws: { cloud: aws, tags: { AccountId: "123456789012" } }
  gcp-sql: { cloud: gcp, sql: true }
  gcp-any: { cloud: gcp }
  azure: { cloud: azure }
scenarios:
  - { id: ssh, scenario: ssh-brute-force-failed, hosts: [real, aws, gcp-any, azure] }
  - { id: sql-only, scenario: ssh-brute-force-failed, variant: benign, hosts: [gcp-sql] }
`, { file: 'selection.yaml' });
  const r = await runSuite(suite, { api: controlPlaneApi(lab.env.cp) }); // in process
  const byHost = Object.fromEntries(r.cells.filter((c) => c.rowId === 'ssh').map((c) => [c.host, c.status]));
  assert.deepEqual(byHost, {
    'onprem-01 (onprem)': 'pass', 'ec2-web (aws)': 'pass', 'gcp-sql (gcp)': 'pass', 'gcp-gone (gcp)': 'not-run', 'azure (no host)': 'not-run',
  });
  assert.deepEqual(r.cells.filter((c) => c.rowId === 'sql-only').map((c) => [c.host, c.status]), [['gcp-sql (gcp)', 'pass']]);
  const notRun = r.cells.find((c) => c.host === 'gcp-gone (gcp)')!;
  assert.deepEqual(notRun.reasons, ['not run']);
  assert.match(notRun.checks[0]!.detail, /not connected/);
  assert.equal(r.ok, false, 'not run is not a pass');
  assert.match(renderMatrix(r), /gcp-gone \(gcp\)[\s\S]*NOT RUN/);
  // The asset expectation is checked against GET /api/assets. No AWS connector has imported this
  // instance, so the EC2 machine is an asset with one source (its Arc record): the merge fails.
  const withAsset = parseSuite(`
name: assets
hosts: { aws: { cloud: aws } }
scenarios:
  - id: merge
    scenario: ssh-brute-force-failed
    variant: benign
    hosts: [aws]
    expect: { alerts: [], asset: { count: 1, sources: 2 } }
`);
  const a = await runSuite(withAsset, { api: controlPlaneApi(lab.env.cp), save: false });
  assert.equal(a.cells[0]!.status, 'fail');
  assert.deepEqual(a.cells[0]!.reasons, ['asset merge wrong']);
  assert.match(a.cells[0]!.checks.find((c) => c.name === 'asset merge')!.detail, /^1 asset\(s\) with 1 source\(s\); expected 1 with 2: ec2-web \[single\] arc:ec2-web \(conflicts: duplicate-vm-uuid\)$/,
    "the test agents share TEST_FACTS' SMBIOS UUID, which the merge flags");
  assert.equal(a.ok, false);
  // The same expectation written for what is there (one asset, one source) passes.
  const single = await runSuite(parseSuite(`
name: assets
hosts: { aws: { cloud: aws } }
scenarios:
  - { id: merge, scenario: ssh-brute-force-failed, variant: benign, hosts: [aws], expect: { alerts: [], asset: { count: 1, sources: 1 } } }
`), { api: controlPlaneApi(lab.env.cp), save: false });
  assert.equal(single.cells[0]!.status, 'pass', renderMatrix(single));
  // A control plane without the inventory API: "not checked", never a pass.
  const base = inProcessTransport(lab.env.cp);
  const noInventory = new ControlPlaneApi((method, path, body) => (path.startsWith('/api/assets') ? Promise.resolve({ status: 404, body: {} }) : base(method, path, body)), 'old', { keyed: true });
  const old = await runSuite(withAsset, { api: noInventory, save: false });
  assert.equal(old.cells[0]!.status, 'not-checked');
  assert.deepEqual(old.cells[0]!.reasons, ['not checked: inventory API missing']);
  assert.equal(old.ok, false);
});

test('admin endpoints: agents with facts, a command dispatched and awaited, typed errors', async (t) => {
  const lab = await runLab(t);
  const agent = await lab.addAgent('lab-host-01');
  const call = (method: string, path: string, body?: unknown, key: string | null = lab.adminKey) => fetch(`${lab.env.url}${path}`, {
    method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal((await call('GET', '/api/agents', undefined, null)).status, 401);
  const agents = (await (await call('GET', '/api/agents')).json()).value;
  assert.deepEqual(agents.map((a: any) => [a.agentId, a.connected, a.facts.hostname]), [[agent.agentId, true, 'lab-host-01']]);
  const scenario = loadSuiteFile(ONPREM).scenarios[0]!.scenario;
  const ok = await call('POST', `/api/agents/${agent.agentId}/commands`, { command: { action: 'run-scenario', scenario, detonationId: 'dt-api' }, timeout: '20s' });
  assert.equal(ok.status, 200);
  const body = await ok.json();
  assert.match(body.id, /^cmd-/);
  assert.deepEqual({ ...body, id: undefined }, { id: undefined, ok: true, detonationId: 'dt-api', events: 10, notCollected: {} }, 'every event collected (MDE installed)');
  const events = await (await call('GET', '/api/events?detonationId=dt-api')).json();
  assert.equal(events.count, 10);
  assert.ok(events.value.every((e: any) => e.DetonationId === 'dt-api'));
  const bad = await call('POST', `/api/agents/${agent.agentId}/commands`, { command: { action: 'run-scenario', scenario, detonationId: 'x', faults: { explode: true } } });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).code, 'ARCSIM_E_VALIDATION');
  assert.equal((await call('POST', '/api/agents/nobody/commands', { command: { action: 'run-scenario', scenario, detonationId: 'x' } })).status, 404);
  await agent.stop();
  while (lab.env.cp.connectedAgents().length) await new Promise((r) => setTimeout(r, 10));
  const offline = await call('POST', `/api/agents/${agent.agentId}/commands`, { command: { action: 'run-scenario', scenario, detonationId: 'x' } });
  assert.equal(offline.status, 409);
  assert.equal((await offline.json()).code, 'ARCSIM_E_AGENT_OFFLINE');
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, seriousViolations, signIn, startPortalLab, type PortalLab } from './browser.ts';

/**
 * The portal in a real browser against a real lab (issue 15 items 1–4 and 8): sign-in, the
 * inventory's lab assets, a machine's device timeline and its filters, recommendations, test
 * runs, and axe-core on each page. Expected values come from the lab's story (cli/lab-suite.ts,
 * examples/multi-cloud.yaml: four agents, an AWS and a GCP connector; test/cli/lab.test.ts).
 */
describe('portal in chromium against a running lab', { timeout: 600_000 }, () => {
  let lab: PortalLab;
  let browser: Browser;
  let page: Page;
  before(async () => {
    [lab, browser] = await Promise.all([startPortalLab(), launchBrowser()]);
    page = await signIn(browser, lab, 'reader');
  });
  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('without a session every page of this package answers 303 to /portal/login, and the browser lands on the sign-in form', async () => {
    for (const path of ['/portal', '/portal/inventory', '/portal/machines/EC2AMAZ-SQL01', '/portal/recommendations', '/portal/runs', '/portal/runs/x']) {
      const r = await fetch(`${lab.url}${path}`, { redirect: 'manual' });
      assert.deepEqual([r.status, r.headers.get('location')], [303, '/portal/login'], path);
    }
    const context = await browser.newContext({ baseURL: lab.url });
    const anon = await context.newPage();
    await anon.goto('/portal/machines/EC2AMAZ-SQL01');
    assert.equal(new URL(anon.url()).pathname, '/portal/login');
    assert.deepEqual(await seriousViolations(anon), [], 'sign-in page');
    await context.close();
  });

  it('pages are sent with a same-origin CSP, no framing, no caching; a value from the request is shown as text, never markup', async () => {
    const r = await fetch(`${lab.url}/portal/inventory`, { headers: { authorization: `Bearer ${lab.keys.reader}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self'/);
    assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    // The portal's scripts come from the control plane itself (no CDN).
    const scripts = [...(await r.text()).matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(scripts, ['/portal/assets/htmx.min.js', '/portal/assets/uPlot.iife.min.js', '/portal/assets/portal.js']);
    for (const s of scripts) assert.equal((await fetch(`${lab.url}${s}`)).status, 200, s);
    const probe = '"><img id="injected" src="x">';
    await page.goto(`/portal/inventory?q=${encodeURIComponent(probe)}`);
    assert.equal(await page.locator('#injected').count(), 0);
    assert.equal(await page.getByLabel('Search').inputValue(), probe);
  });

  it('sign-in: HttpOnly SameSite=Strict cookie with an expiry; the header names the key and its role; sign-out needs the form (CSRF) and ends the session', async () => {
    const p = await signIn(browser, lab, 'responder');
    assert.match(await p.locator('#signed-in').innerText(), /Signed in as responder-key \(responder\)/);
    const cookie = (await p.context().cookies()).find((c) => c.name === 'arcsim_portal')!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/portal');
    assert.ok(cookie.expires > Date.now() / 1000 + 3600, 'the cookie lives hours, not the browser session');
    const forged = await p.request.post('/portal/logout', { form: { csrf: 'forged' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    await Promise.all([p.waitForURL(`${lab.url}/portal/login`), p.getByRole('button', { name: 'Sign out' }).click()]);
    await p.goto('/portal');
    assert.equal(new URL(p.url()).pathname, '/portal/login', 'signed out');
    await p.context().close();
  });

  it('overview: machines by Arc status, assets by cloud, plans on, recommendations, secure score, the alerts chart drawn, recent incidents; no serious a11y violation', async () => {
    await page.goto('/portal');
    // Four Arc-connected agents (this host and the three personas, one a Kubernetes node: test/cli/lab.test.ts), all Connected.
    assert.equal(await page.locator('#tile-machines .tile-value').innerText(), '4');
    assert.match(await page.locator('#by-arc-status').innerText(), /Connected\s+4/);
    assert.match(await page.locator('#by-cloud').innerText(), /AWS/);
    assert.match(await page.locator('#by-cloud').innerText(), /GCP/);
    assert.match(await page.locator('#plans').innerText(), /Defender for Servers/);
    assert.match(await page.locator('[id^="score-"] .tile-value').first().innerText(), /^\d+(\.\d+)?%$/);
    await page.locator('#alerts-chart .uplot canvas').waitFor({ timeout: 10_000 });
    assert.ok(await page.locator('#recent-incidents tbody tr').count() >= 1, 'the lab raised incidents');
    assert.deepEqual(await seriousViolations(page), []);
  });

  it('inventory: the lab assets (7 in the issue; 8 since the lab gained its EKS node persona) with their sources; filter by source, search, sort and a row links to its machine', async () => {
    await page.goto('/portal/inventory');
    const rows = page.locator('#inventory-table tbody tr');
    assert.equal(await rows.count(), 8);
    assert.match(await page.locator('#inventory-table caption').innerText(), /^8 of 8 assets/);
    // The EC2 persona is one asset with two sources (Arc and AWS), merged with strong confidence.
    const ec2 = page.locator('#inventory-table tbody tr', { hasText: 'lab-ec2-sql' });
    assert.equal(await ec2.count(), 1);
    assert.match(await ec2.innerText(), /Arc\s+EC2AMAZ-SQL01/);
    assert.match(await ec2.innerText(), /AWS\s+lab-ec2-sql/);
    assert.match(await ec2.innerText(), /strong/);
    assert.match(await ec2.innerText(), /MSSQLSERVER/);
    assert.deepEqual(await seriousViolations(page), []);

    await page.getByLabel('Source').selectOption('GCP');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/source=GCP/);
    const gcp = await page.locator('#inventory-table tbody tr').allInnerTexts();
    assert.ok(gcp.length >= 1 && gcp.length < 8, `GCP assets: ${gcp.length}`);
    for (const r of gcp) assert.match(r, /GCP/);

    await page.goto('/portal/inventory?q=ec2-sql');
    assert.equal(await page.locator('#inventory-table tbody tr').count(), 1);

    await page.goto('/portal/inventory');
    await page.locator('#inventory-table th a', { hasText: 'Asset' }).click(); // name is sorted ascending: this flips it
    await page.waitForURL(/dir=desc/);
    const names = await page.locator('#inventory-table tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(names, [...names].sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase())));

    await page.goto('/portal/inventory');
    await page.locator('#inventory-table a', { hasText: 'lab-ec2-sql' }).click();
    await page.waitForURL(/\/portal\/machines\/EC2AMAZ-SQL01$/);
  });

  it('machine: facts, extensions, SQL instance, open alerts; the timeline newest first, filtered by table and action type, a detail pane and a process tree', async () => {
    await page.goto('/portal/machines/EC2AMAZ-SQL01');
    assert.match(await page.locator('#machine-facts').innerText(), /Microsoft\.HybridCompute\/machines\/EC2AMAZ-SQL01/);
    assert.match(await page.locator('#extensions').innerText(), /MDE\.Windows/);
    assert.match(await page.locator('#sql-instances').innerText(), /MSSQLSERVER/);
    // The lab's alerts on this persona (test/cli/lab.test.ts): SSH brute force, PowerShell, fileless, SQL injection.
    assert.match(await page.locator('#open-alerts').innerText(), /SSH|PowerShell|SQL/i);
    assert.deepEqual(await seriousViolations(page), []);

    const times = async () => (await page.locator('#timeline-table tbody tr td:first-child').allInnerTexts()).map((t) => Date.parse(t));
    const all = await times();
    assert.ok(all.length > 5, `events on the timeline: ${all.length}`);
    assert.deepEqual(all, [...all].sort((a, b) => b - a), 'newest first');

    await page.getByLabel('Table').selectOption('DeviceProcessEvents');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/table=DeviceProcessEvents/);
    await page.locator('#timeline-table tbody tr').first().waitFor();
    const tables = await page.locator('#timeline-table tbody tr td:nth-child(2)').allInnerTexts();
    assert.ok(tables.length > 0);
    assert.deepEqual([...new Set(tables)], ['DeviceProcessEvents']);

    // The detail pane of a process event shows its fields and its process tree, the event selected.
    await page.locator('#timeline-table tbody a').first().click();
    await page.locator('#process-tree').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#event-fields').innerText(), /ReportId/);
    assert.equal(await page.locator('#process-tree li[aria-current="true"]').count(), 1);
    assert.ok(await page.locator('#process-tree li').count() >= 2, 'at least the initiating process and this one');
    assert.deepEqual(await seriousViolations(page), []);

    // Action type and a time range narrow it further; a range before any event leaves nothing.
    const action = (await page.locator('#timeline-table tbody tr td:nth-child(3)').first().innerText()).trim();
    await page.goto(`/portal/machines/EC2AMAZ-SQL01?table=DeviceProcessEvents&action=${encodeURIComponent(action)}`);
    assert.deepEqual([...new Set(await page.locator('#timeline-table tbody tr td:nth-child(3)').allInnerTexts())], [action]);
    await page.goto('/portal/machines/EC2AMAZ-SQL01?to=2001-01-01T00:00:00');
    assert.match(await page.locator('#timeline-table tbody').innerText(), /No event matches/);
  });

  it('recommendations: secure score and affected resources', async () => {
    await page.goto('/portal/recommendations');
    assert.match(await page.locator('#secure-score').innerText(), /\d+(\.\d+)?%/);
    const rows = page.locator('#recommendations tbody tr');
    assert.ok(await rows.count() >= 1, 'the lab has unhealthy resources');
    await rows.first().locator('summary').click();
    assert.match(await rows.first().locator('details').innerText(), /\/subscriptions\/|securityconnectors/i);
    assert.deepEqual(await seriousViolations(page), []);
  });

  it('test runs: the lab run listed; its matrix all PASS, latencies, ATT&CK coverage, downloads that parse', async () => {
    await page.goto('/portal/runs');
    assert.ok(await page.locator('#runs-table tbody tr').count() >= 1);
    // The list shows the newest run's matrix too (the lab's run: see below).
    assert.match(await page.locator('#latest-matrix caption').innerText(), /27\/51 cells passed/);
    assert.deepEqual(await seriousViolations(page), []);
    await page.locator('#runs-table tbody a').first().click();
    await page.waitForURL(/\/portal\/runs\/.+/);
    // The lab's multi-cloud suite: 51 cells, 27 pass and the other 24 do not apply (test/cli/lab.test.ts); none fails.
    assert.match(await page.locator('#run-matrix caption').innerText(), /27\/51 cells passed/);
    assert.equal(await page.locator('#run-matrix .tone-bad').count(), 0);
    assert.ok(await page.locator('#latencies tbody tr').count() >= 1);
    assert.match(await page.locator('#coverage-summary').innerText(), /of \d+ exercised techniques detected/);
    assert.deepEqual(await seriousViolations(page), []);
    const href = (name: string) => page.locator('#downloads a', { hasText: name }).getAttribute('href');
    const junit = await page.request.get((await href('JUnit'))!);
    assert.match(junit.headers()['content-disposition'] ?? '', /attachment; filename=".+\.junit\.xml"/);
    assert.match(await junit.text(), /<testsuites name="[^"]+" tests="\d+" failures="0"/);
    const layer = await (await page.request.get((await href('Navigator'))!)).json() as { domain: string; techniques: unknown[] };
    assert.equal(layer.domain, 'enterprise-attack');
    assert.ok(layer.techniques.length > 0);
    assert.match(await (await page.request.get((await href('Markdown'))!)).text(), /^# /m);
  });

  it('test run comparison: a second run of the same suite where one cell failed and lost its alert shows that cell, and only it, as different', async () => {
    const api = (path: string, init: RequestInit = {}) => fetch(`${lab.url}${path}`, { ...init, headers: { authorization: `Bearer ${lab.keys.contributor}`, 'content-type': 'application/json' } });
    const [first] = ((await (await api('/api/runs')).json()) as { value: Array<{ runId: string }> }).value;
    const bundle = (await (await api(`/api/runs/${first!.runId}/bundle`)).json()) as { suite: Record<string, unknown>; result: { runId: string; cells: Array<{ rowId: string; host: string; status: string; reasons: string[]; alerts: Array<{ alertType: string }> }> } };
    const result = structuredClone(bundle.result);
    result.runId = `${first!.runId}-again`;
    const cell = result.cells.find((c) => c.rowId === 'ssh-brute-force' && c.alerts.length > 0)!;
    const lostType = cell.alerts[0]!.alertType;
    Object.assign(cell, { status: 'fail', reasons: ['alert missing'], alerts: [] });
    assert.equal((await api('/api/runs', { method: 'POST', body: JSON.stringify({ result, suite: bundle.suite }) })).status, 201);
    await page.goto(`/portal/runs/${first!.runId}`);
    await page.getByLabel('Run of the same suite').selectOption(result.runId);
    await Promise.all([page.waitForURL(/compare=/), page.getByRole('button', { name: 'Compare' }).click()]);
    assert.match(await page.locator('#comparison-summary').innerText(), /^1 of 51 cells differ/);
    const changed = page.locator('#comparison tbody tr.selected');
    assert.equal(await changed.count(), 1);
    const text = await changed.innerText();
    assert.match(text, new RegExp(`ssh-brute-force\\s+${cell.host.replace(/[()]/g, '\\$&')}\\s+pass\\s+fail`));
    assert.match(text, new RegExp(lostType));
    assert.deepEqual(await seriousViolations(page), []);
  });
});

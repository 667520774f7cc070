import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, seriousViolations, signIn, startPortalLab, type PortalLab } from './browser.ts';

/**
 * The alert, incident, hunting and live parts of the portal (issue 15 items 5, 6, 7, 9) in a real
 * browser against a real lab: open an alert, follow Open query and see that alert's row, open its
 * incident, dismiss an alert as a responder and watch the status change live on another page, a
 * reader refused the dismiss, and axe-core on each page.
 */
describe('portal alerts, incidents, hunting and live in chromium', { timeout: 600_000 }, () => {
  let lab: PortalLab;
  let browser: Browser;
  let alert: any;
  before(async () => {
    [lab, browser] = await Promise.all([startPortalLab(), launchBrowser()]);
    const list = (await (await fetch(`${lab.url}/api/alerts`, { headers: { authorization: `Bearer ${lab.keys.reader}` } })).json()).value;
    // An alert in an incident with an MDC copy: the walk of the issue (alert -> Open query -> incident).
    alert = list.find((a: any) => a.arcsim.incidentId && a.arcsim.copies.some((c: any) => c.product === 'MDC'));
    assert.ok(alert, 'the lab raised an alert that is in an incident and shown in MDC');
  });
  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('alert page: description, entities, status per product; Open query shows the alert\'s row; its incident opens', async () => {
    const page = await signIn(browser, lab, 'reader');
    await page.goto(`/portal/alerts/${alert.name}`);
    assert.equal(await page.locator('h1').innerText(), alert.properties.alertDisplayName);
    assert.ok((await page.locator('#status-table tbody tr').count()) >= 1);
    assert.deepEqual(await seriousViolations(page), [], 'alert page');
    await Promise.all([page.waitForURL(/\/portal\/hunting\?/), page.locator('#open-query').click()]);
    assert.match(await page.locator('#query').inputValue(), /^securityresources/);
    const cells = await page.locator('#results tbody tr td').allInnerTexts();
    assert.ok(cells.includes(alert.name), `the result holds the alert ${alert.name}: ${cells.slice(0, 12).join(' | ')}`);
    assert.deepEqual(await seriousViolations(page), [], 'hunting page');
    await page.goBack();
    await Promise.all([page.waitForURL(/\/portal\/incidents\//), page.locator('#incident-link').click()]);
    assert.match(page.url(), new RegExp(`/portal/incidents/${alert.arcsim.incidentId}$`));
    assert.ok(await page.locator('#incident-graph').isVisible());
    assert.ok((await page.locator('#incident-alerts tbody tr').allInnerTexts()).some((t) => t.includes(alert.properties.alertDisplayName)));
    assert.deepEqual(await seriousViolations(page), [], 'incident page');
    await page.context().close();
  });

  it('lists: alerts and incidents pages filter and pass axe', async () => {
    const page = await signIn(browser, lab, 'reader');
    await page.goto('/portal/alerts?product=MDC&sort=severity');
    assert.match(await page.locator('#alerts-table caption').innerText(), /^\d+ alerts$/);
    assert.deepEqual(await seriousViolations(page), [], 'alerts page');
    await page.goto('/portal/incidents');
    assert.ok((await page.locator('#incidents-table tbody tr').count()) >= 1);
    assert.deepEqual(await seriousViolations(page), [], 'incidents page');
    await page.context().close();
  });

  it('a responder dismisses an alert in MDC; a reader\'s open alert page shows it live; a reader is refused', async () => {
    const watcher = await signIn(browser, lab, 'reader');
    await watcher.goto(`/portal/alerts/${alert.name}`);
    await watcher.locator('html[data-live="ready"]').waitFor();
    const cell = watcher.locator(`[data-live-status="alert:${alert.name}:MDC"]`);
    assert.notEqual((await cell.innerText()).trim(), 'Dismissed');

    const reader = watcher;
    const csrf = await reader.locator('form[action="/portal/logout"] input[name="csrf"]').inputValue();
    const refused = await reader.request.post('/portal/alerts/status', { form: { csrf, id: alert.name, product: 'MDC', action: 'dismiss' }, maxRedirects: 0 });
    assert.equal(refused.status(), 403);
    assert.equal((await refused.json()).code, 'ARCSIM_E_FORBIDDEN');

    const responder = await signIn(browser, lab, 'responder');
    await responder.goto(`/portal/alerts/${alert.name}`);
    const row = responder.locator('#status-table tr[data-product="MDC"]');
    await row.locator('select[name="action"]').selectOption('dismiss');
    await Promise.all([responder.waitForURL(new RegExp(`/portal/alerts/${alert.name}$`)), row.getByRole('button', { name: 'Set in MDC' }).click()]);
    assert.equal((await responder.locator(`[data-live-status="alert:${alert.name}:MDC"]`).innerText()).trim(), 'Dismissed');
    // The reader's page, never reloaded, follows.
    await watcher.waitForFunction((sel) => document.querySelector(sel)?.textContent?.trim() === 'Dismissed', `[data-live-status="alert:${alert.name}:MDC"]`, { timeout: 30_000 });
    await responder.context().close();
    await watcher.context().close();
  });
  it('hunting editor: Kusto highlighting, completion at the caret, errors with their line and column', async () => {
    const page = await signIn(browser, lab, 'reader');
    await page.goto('/portal/hunting');
    const editor = page.locator('#query');
    await editor.click();
    await editor.fill('DeviceProcessEvents\n| where ');
    await editor.press('End');
    await editor.pressSequentially('FileNa');
    // Completion from Kusto.Language: the column of the table before the pipe, offered while typing.
    const option = page.locator('#completions li', { hasText: /^FileName$/ });
    await option.waitFor({ timeout: 15_000 });
    assert.equal(await editor.getAttribute('aria-expanded'), 'true');
    while ((await page.locator('#completions li[aria-selected="true"]').innerText()) !== 'FileName') await editor.press('ArrowDown');
    await editor.press('Enter');
    // Kusto.Language's insert text for a column ends with a space, ready for the operator.
    assert.match(await editor.inputValue(), /^DeviceProcessEvents\n\| where FileName ?$/);
    assert.ok(await page.locator('#completions').isHidden(), 'the list closes on Enter');
    // Highlighting: the table and the column get their classification's class.
    await page.locator('#query-highlight .k-Column', { hasText: 'FileName' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#query-highlight .k-Table').first().innerText(), 'DeviceProcessEvents');
    assert.deepEqual(await seriousViolations(page), [], 'hunting page with the editor enhanced');

    // An unknown column: the run answers with its position (line 2, column 9: after "| where "), the editor underlines it.
    await page.goto(`/portal/hunting?run=1&query=${encodeURIComponent('DeviceProcessEvents\n| where NoSuchColumn == 1')}`);
    const link = page.locator('#query-errors a[data-line]').first();
    assert.match(await page.locator('#query-errors li').first().innerText(), /^Line 2, column 9: /);
    await page.locator('#query-highlight .k-error', { hasText: 'NoSuchColumn' }).waitFor({ timeout: 15_000 });
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    await link.click();
    assert.equal(await editor.evaluate((ta: HTMLTextAreaElement) => ta.selectionStart), 'DeviceProcessEvents\n| where '.length, 'the error link puts the caret on the error');
    await page.context().close();
  });

  it('incident triage: a responder classifies and takes the incident, a reader\'s queue follows live, a reader is refused; bulk on the queue', async () => {
    const id = alert.arcsim.incidentId as string;
    const watcher = await signIn(browser, lab, 'reader');
    await watcher.goto('/portal/incidents');
    await watcher.locator('html[data-live="ready"]').waitFor();
    assert.equal(await watcher.locator('#bulk-incidents').count(), 0, 'no bulk form for a reader');
    const owner = watcher.locator(`#incidents-table [data-live-status="incident:${id}:M365D:assignedTo"]`);
    assert.equal((await owner.innerText()).trim(), 'Unassigned');
    const csrf = await watcher.locator('form[action="/portal/logout"] input[name="csrf"]').inputValue();
    const refused = await watcher.request.post(`/portal/incidents/${id}/triage`, { form: { csrf, classification: 'falsePositive', determination: 'notMalicious', assignedTo: 'eve' }, maxRedirects: 0 });
    assert.equal(refused.status(), 403);
    assert.equal((await refused.json()).code, 'ARCSIM_E_FORBIDDEN');

    const responder = await signIn(browser, lab, 'responder');
    await responder.goto(`/portal/incidents/${id}`);
    assert.deepEqual(await seriousViolations(responder), [], 'incident page with the responder\'s forms');
    // A responder's session without its CSRF token (a forged cross-site form) is refused.
    const forged = await responder.request.post(`/portal/incidents/${id}/triage`, { form: { csrf: 'forged', classification: 'falsePositive', determination: 'notMalicious' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    assert.equal((await forged.json()).code, 'ARCSIM_E_CSRF');
    const form = responder.locator('#triage-incident');
    await form.locator('select[name="classification"]').selectOption('truePositive');
    await form.locator('select[name="determination"]').selectOption('multiStagedAttack');
    await Promise.all([responder.waitForURL(new RegExp(`/portal/incidents/${id}$`)), form.getByRole('button', { name: 'Save' }).click()]);
    const facts = responder.locator('#incident-facts');
    assert.equal((await facts.locator('[data-live-status$=":classification"]').innerText()).trim(), 'True positive');
    assert.equal((await facts.locator('[data-live-status$=":determination"]').innerText()).trim(), 'Multistage attack');
    await Promise.all([responder.waitForURL(new RegExp(`/portal/incidents/${id}$`)), responder.locator('#triage-incident').getByRole('button', { name: 'Assign to me' }).click()]);
    assert.equal((await facts.locator('[data-live-status$=":assignedTo"]').innerText()).trim(), 'responder-key');
    const activity = await responder.locator('#incident-activity tbody tr').allInnerTexts();
    for (const change of [/Classification\s+Not set\s+True positive/, /Determination\s+Not set\s+Multistage attack/, /Assigned to\s+—\s+responder-key/]) {
      assert.ok(activity.some((r) => change.test(r)), `activity log has ${change}: ${activity.join(' | ')}`);
    }
    // The reader's queue, never reloaded, shows the new owner.
    await watcher.waitForFunction((sel) => document.querySelector(sel)?.textContent?.trim() === 'responder-key', `#incidents-table [data-live-status="incident:${id}:M365D:assignedTo"]`, { timeout: 30_000 });
    // The classification came first on the feed, with the portal's label rather than the enum member.
    assert.equal((await watcher.locator(`#incidents-table [data-live-status="incident:${id}:M365D:classification"]`).innerText()).trim(), 'True positive');

    // Bulk: tick the incident in the queue, classify it as expected activity; then filter by owner and classification.
    await responder.goto('/portal/incidents');
    assert.deepEqual(await seriousViolations(responder), [], 'incidents queue with the bulk form');
    await responder.locator(`#incidents-table input[name="id"][value="${id}"]`).check();
    const bulk = responder.locator('#bulk-incidents');
    await bulk.locator('select[name="classification"]').selectOption('informationalExpectedActivity');
    await bulk.locator('select[name="determination"]').selectOption('securityTesting');
    await Promise.all([responder.waitForURL(/\/portal\/incidents$/), bulk.getByRole('button', { name: 'Apply to selected' }).click()]);
    const row = responder.locator(`#incidents-table [data-live-status="incident:${id}:M365D:classification"]`);
    assert.equal((await row.innerText()).trim(), 'Informational, expected activity');
    await responder.goto('/portal/incidents?assigned=me&classification=informationalExpectedActivity');
    assert.deepEqual(await responder.locator('#incidents-table tbody a[href^="/portal/incidents/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), [`/portal/incidents/${id}`]);
    await responder.goto('/portal/incidents?assigned=none');
    assert.equal(await responder.locator(`#incidents-table a[href="/portal/incidents/${id}"]`).count(), 0);
    await responder.context().close();
    await watcher.context().close();
  });
});

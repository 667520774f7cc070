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
});

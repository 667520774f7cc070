import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, seriousViolations, signIn, startPortalLab, type PortalLab } from './browser.ts';

/**
 * The portal in a real browser against a real lab (issue 15): sign-in, the pages of items 2, 3, 4
 * and 8, and axe-core on each.
 */
describe('portal in chromium against a running lab', { timeout: 600_000 }, () => {
  let lab: PortalLab;
  let browser: Browser;
  before(async () => {
    [lab, browser] = await Promise.all([startPortalLab(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('without a session a page answers 303 to /portal/login; the browser lands on the sign-in form', async () => {
    const r = await fetch(`${lab.url}/portal/inventory`, { redirect: 'manual' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/portal/login');
    const context = await browser.newContext({ baseURL: lab.url });
    const page = await context.newPage();
    await page.goto('/portal/machines/EC2AMAZ-SQL01');
    assert.equal(new URL(page.url()).pathname, '/portal/login');
    assert.deepEqual(await seriousViolations(page), [], 'sign-in page');
    await context.close();
  });

  it('signs in with a reader key: the header names the key and its role; sign-out ends the session', async () => {
    const page = await signIn(browser, lab, 'reader');
    assert.match(await page.locator('#signed-in').innerText(), /Signed in as reader-key \(reader\)/);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'arcsim_portal')!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/portal');
    assert.ok(cookie.expires > Date.now() / 1000, 'the cookie has an expiry');
    await Promise.all([page.waitForURL(`${lab.url}/portal/login`), page.getByRole('button', { name: 'Sign out' }).click()]);
    await page.goto('/portal');
    assert.equal(new URL(page.url()).pathname, '/portal/login', 'signed out');
    await page.context().close();
  });
});

/**
 * Writes a PNG of every portal page into docs/portal/ (docs/portal.md shows them): starts a real
 * lab on loopback, signs in with a reader key in Debian's chromium (a responder's for the pages
 * whose responder forms are the point: the incident queue and page), opens each page.
 *
 *   node --import tsx scripts/portal-screenshots.ts [--out docs/portal]
 *
 * A page module elsewhere adds its entry to PAGES below (name → path, after the lab is up).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, signIn, startPortalLab, type PortalLab } from './portal-lab.ts';

interface Shot {
  /** The PNG's name (without .png). */
  name: string;
  /** The path to open; a function when it depends on the lab's data. */
  path: string | ((lab: PortalLab, page: Page) => Promise<string>);
  /** Something to do on the page before the picture (click a row, wait for the chart). */
  prepare?: (page: Page) => Promise<void>;
  /** Signed in as a responder (default: a reader). */
  responder?: boolean;
}

const firstLink = (from: string, selector: string) => async (_lab: PortalLab, page: Page) => {
  await page.goto(from);
  return (await page.locator(selector).first().getAttribute('href'))!;
};

export const PAGES: Shot[] = [
  { name: 'login', path: '/portal/login' },
  { name: 'overview', path: '/portal', prepare: async (p) => { await p.locator('#alerts-chart .uplot').waitFor({ timeout: 10_000 }); } },
  { name: 'inventory', path: '/portal/inventory' },
  {
    name: 'machine', path: '/portal/machines/EC2AMAZ-SQL01?table=DeviceProcessEvents',
    prepare: async (p) => { await p.locator('#timeline-table tbody a').first().click(); await p.locator('#process-tree').waitFor({ timeout: 10_000 }); },
  },
  { name: 'recommendations', path: '/portal/recommendations' },
  { name: 'runs', path: '/portal/runs' },
  { name: 'run', path: firstLink('/portal/runs', '#runs-table tbody a') },
  { name: 'alerts', path: '/portal/alerts' },
  { name: 'alert', path: firstLink('/portal/alerts', '#alerts-table tbody a') },
  {
    // A responder triages the lab's open incident through the page's own form, so the picture shows
    // classification, owner and the activity log; the queue is taken after it.
    name: 'incident', path: firstLink('/portal/incidents?status=Active', '#incidents-table tbody a[href^="/portal/incidents/"]'), responder: true,
    prepare: async (p) => {
      const form = p.locator('#triage-incident');
      await form.locator('select[name="classification"]').selectOption('truePositive');
      await form.locator('select[name="determination"]').selectOption('multiStagedAttack');
      await Promise.all([p.waitForURL(/\/portal\/incidents\/[^/?]+$/), form.getByRole('button', { name: 'Save' }).click()]);
      await Promise.all([p.waitForURL(/\/portal\/incidents\/[^/?]+$/), p.locator('#triage-incident').getByRole('button', { name: 'Assign to me' }).click()]);
    },
  },
  { name: 'incidents', path: '/portal/incidents', responder: true },
  { name: 'hunting', path: `/portal/hunting?run=1&query=${encodeURIComponent('DeviceProcessEvents\n| where ActionType == "ProcessCreated"\n| project Timestamp, DeviceName, FileName, ProcessCommandLine\n| take 20')}` },
];

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = resolve(outIndex > 0 ? process.argv[outIndex + 1]! : join(import.meta.dirname, '..', 'docs', 'portal'));
  mkdirSync(out, { recursive: true });
  const lab = await startPortalLab();
  const browser = await launchBrowser();
  try {
    const login = await (await browser.newContext({ baseURL: lab.url, viewport: { width: 1400, height: 900 } })).newPage();
    const page = await signIn(browser, lab, 'reader');
    const responder = await signIn(browser, lab, 'responder');
    for (const shot of PAGES) {
      const p = shot.name === 'login' ? login : shot.responder ? responder : page;
      const path = typeof shot.path === 'string' ? shot.path : await shot.path(lab, p);
      await p.goto(path);
      await shot.prepare?.(p);
      await p.screenshot({ path: join(out, `${shot.name}.png`), fullPage: true });
      process.stdout.write(`${shot.name}.png  ${path}\n`);
    }
  } finally {
    await browser.close();
    await lab.stop();
  }
}

await main();

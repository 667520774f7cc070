/**
 * Writes a PNG of every portal page into docs/portal/ (docs/portal.md shows them): starts a real
 * lab on loopback, signs in with a reader key in Debian's chromium, opens each page.
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
  { name: 'incidents', path: '/portal/incidents' },
  { name: 'incident', path: firstLink('/portal/incidents', 'main tbody a') },
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
    for (const shot of PAGES) {
      const p = shot.name === 'login' ? login : page;
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

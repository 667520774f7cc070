/**
 * The portal's browser-test harness: a real lab on loopback, Debian's chromium through
 * playwright-core, sign-in with a key of a given role (scripts/portal-lab.ts), and axe-core's
 * accessibility check. Nothing is mocked: the pages come from the control plane the lab started.
 */
import type { Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export { CHROMIUM, launchBrowser, signIn, startPortalLab, type PortalLab } from '../../scripts/portal-lab.ts';

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A/AA rules). */
export async function seriousViolations(page: Page): Promise<AxeFinding[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact!, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

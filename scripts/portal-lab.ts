/**
 * A real lab for the portal's browser use (test/portal/browser.ts, scripts/portal-screenshots.ts):
 * `arcsim lab` (three agents, CSPM connectors, a multi-cloud test run) serving on loopback in a
 * child process, an API key of every role made through the API, and Debian's chromium driven by
 * playwright-core, signed in through the sign-in form.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Role } from '../control-plane/auth/roles.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'arcsim.js');
/** Debian's chromium (the CI installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

export interface PortalLab {
  url: string;
  /** An API key of each role, named `<role>-key`. */
  keys: Record<Role, string>;
  /** Everything the lab printed so far (its report). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `arcsim lab` on a free loopback port (the full multi-cloud suite runs first, ~30–60 s on
 * a loaded machine) and waits until it serves; then creates one API key per role.
 */
export async function startPortalLab(options: { timeoutMs?: number } = {}): Promise<PortalLab> {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-portal-'));
  const child: ChildProcess = spawn(process.execPath, [BIN, 'lab', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, 'lab')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the lab did not serve within ${options.timeoutMs ?? 180_000} ms:\n${out}`)), options.timeoutMs ?? 180_000);
      const look = () => {
        const m = /Serving the API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]!); }
      };
      child.stdout!.on('data', look);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the lab exited (${code}) before serving:\n${out}`)); });
    });
    const admin = /admin API key \(shown once\): (\S+)/.exec(out)?.[1];
    if (!admin) throw new Error(`the lab printed no admin key:\n${out}`);
    const keys = {} as Record<Role, string>;
    for (const role of ['reader', 'responder', 'contributor', 'admin'] as const) {
      const r = await fetch(`${url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ role, name: `${role}-key` }) });
      if (r.status !== 201) throw new Error(`creating a ${role} key: ${r.status} ${await r.text()}`);
      keys[role] = ((await r.json()) as { key: string }).key;
    }
    return { url, keys, output: () => out, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Launches Debian's chromium headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A new browser context (its own cookies) signed in through the sign-in form with `role`'s key; lands on /portal. */
export async function signIn(browser: Browser, lab: PortalLab, role: Role = 'reader'): Promise<Page> {
  const context = await browser.newContext({ baseURL: lab.url, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto('/portal/login');
  await page.getByLabel('API key').fill(lab.keys[role]);
  await Promise.all([page.waitForURL(`${lab.url}/portal`), page.getByRole('button', { name: 'Sign in' }).click()]);
  return page;
}


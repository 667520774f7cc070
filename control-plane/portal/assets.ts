import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

const require = createRequire(import.meta.url);
const OWN = join(import.meta.dirname, 'assets');

/**
 * The static files the portal serves under /portal/assets/: its own (assets/) and the front-end
 * packages vendored from node_modules at run time (htmx, uPlot), so nothing comes from a CDN and
 * the portal works offline. Each name maps to one file; nothing else on disk can be asked for.
 */
const FILES: Record<string, { path: () => string; type: string }> = {
  'portal.css': { path: () => join(OWN, 'portal.css'), type: 'text/css; charset=utf-8' },
  'portal.js': { path: () => join(OWN, 'portal.js'), type: 'text/javascript; charset=utf-8' },
  'htmx.min.js': { path: () => require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export const ASSET_URLS = {
  css: '/portal/assets/portal.css',
  js: '/portal/assets/portal.js',
  htmx: '/portal/assets/htmx.min.js',
  uplot: '/portal/assets/uPlot.iife.min.js',
  uplotCss: '/portal/assets/uPlot.min.css',
} as const;

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Reads every asset once (a missing package fails at start-up, not on the first page). */
export function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const [name, f] of Object.entries(FILES)) {
    const body = readFileSync(f.path());
    out.set(name, { body, type: f.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return out;
}

import { html, type Html } from '../html.ts';
import type { NavId, Viewer } from '../page.ts';
import { ASSET_URLS } from '../assets.ts';

const NAV: Array<{ id: NavId; href: string; label: string }> = [
  { id: 'overview', href: '/portal', label: 'Overview' },
  { id: 'inventory', href: '/portal/inventory', label: 'Inventory' },
  { id: 'alerts', href: '/portal/alerts', label: 'Alerts' },
  { id: 'incidents', href: '/portal/incidents', label: 'Incidents' },
  { id: 'hunting', href: '/portal/hunting', label: 'Hunting' },
  { id: 'recommendations', href: '/portal/recommendations', label: 'Recommendations' },
  { id: 'runs', href: '/portal/runs', label: 'Test runs' },
];

/** Who is signed in and the sign-out form (with the session's CSRF token). */
function signedIn(v: Viewer | undefined): Html {
  if (!v) return html``;
  const out = v.csrf
    ? html`<form method="post" action="/portal/logout" class="inline"><input type="hidden" name="csrf" value="${v.csrf}"><button>Sign out</button></form>`
    : html``;
  return html`<div id="signed-in">Signed in as <b>${v.name}</b> (${v.role}) ${out}</div>`;
}

/**
 * The page around every portal page: skip link, header with the signed-in user, the nav (the
 * current entry marked), `<main id="main">` with the title. Scripts are the served htmx and the
 * portal's own (no inline script: the CSP allows only 'self').
 */
export function layout(o: { title: string; body: Html; viewer?: Viewer; nav?: NavId }): Html {
  const nav = o.viewer
    ? html`<nav aria-label="Portal"><ul>${NAV.map((n) => html`<li><a href="${n.href}"${n.id === o.nav ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}</ul></nav>`
    : html``;
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · arcsim</title>
<link rel="stylesheet" href="${ASSET_URLS.css}"><link rel="stylesheet" href="${ASSET_URLS.uplotCss}">
<script src="${ASSET_URLS.htmx}" defer></script><script src="${ASSET_URLS.uplot}" defer></script><script src="${ASSET_URLS.js}" defer></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/portal">arcsim portal</a>${signedIn(o.viewer)}</header>
${nav}
<main id="main"><h1>${o.title}</h1>
${o.body}
</main></body></html>`;
}

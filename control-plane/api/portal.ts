import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import { z } from 'zod';
import { ERRORS, protocolError, type ErrorCode } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertRow, Store } from '../store/index.ts';
import { callerOfKey } from '../auth/api-keys.ts';
import { SESSION_COOKIE, type PortalSessions } from '../auth/portal-sessions.ts';
import { hashSecret } from '../auth/secrets.ts';
import { ROLE } from './http.ts';

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Who is signed in, for the page header; `csrf` only when signed in through a session (a form can sign out). */
interface Viewer {
  name: string;
  role: string;
  csrf?: string;
}

function signedIn(v: Viewer | undefined): string {
  if (!v) return '';
  const out = v.csrf
    ? ` <form method="post" action="/portal/logout" style="display:inline"><input type="hidden" name="csrf" value="${esc(v.csrf)}"><button>Sign out</button></form>`
    : '';
  return `<span id="signed-in" style="float:right">Signed in as <b>${esc(v.name)}</b> (${esc(v.role)})${out}</span>`;
}

function page(title: string, body: string, viewer?: Viewer): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · arcsim</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.sev-High{color:#b00}.sev-Medium{color:#c60}.sev-Low{color:#06c}</style></head>
<body>${signedIn(viewer)}<nav><a href="/portal">arcsim portal</a> · <a href="/portal/incidents">incidents</a> · <a href="/portal/alerts">alerts</a></nav><h1>${esc(title)}</h1>${body}</body></html>`;
}

function table(rows: string[][], head: string[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const LoginBody = z.object({ key: z.string().max(512).default('') });
const LogoutBody = z.object({ csrf: z.string().max(128).default('') });

const loginForm = (message = '') => `${message ? `<p id="login-error" class="sev-High">${esc(message)}</p>` : ''}
<form method="post" action="/portal/login"><label>API key <input type="password" name="key" autocomplete="off" size="60" required></label>
<button>Sign in</button></form><p>Any API key (reader or stronger) signs in; <code>arcsim key create --role reader</code> makes one.</p>`;

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A small read-only web portal: the M365D-style alert and incident pages the alerts'
 * `extendedLinks` point to. Server-rendered HTML, no scripts. Every page needs a reader key: a
 * browser signs in at /portal/login with any API key and gets a session cookie (HttpOnly,
 * SameSite=Strict, Path=/portal, Secure over https); `Authorization: Bearer` works too. The guard
 * (auth/api-guard.ts) sends a browser without either to the sign-in form.
 */
export const portal: FastifyPluginAsyncZod<{ store: Store; clock: Clock; sessions: PortalSessions }> = async (app, deps) => {
  const { store, clock, sessions } = deps;
  // Form bodies and cookies only in the portal's scope: /api keeps taking JSON only.
  await app.register(fastifyFormbody);
  await app.register(fastifyCookie);
  const doc = (summary: string) => ({ tags: ['portal'], summary, produces: ['text/html'], security: ROLE.reader });
  const IdParams = z.object({ id: z.string() });
  const viewer = (req: FastifyRequest): Viewer | undefined => req.caller && { name: req.caller.name, role: req.caller.role, csrf: req.portalSession?.csrf };
  const html = (reply: FastifyReply, title: string, body: string, status = 200) =>
    reply.status(status).type('text/html; charset=utf-8').send(page(title, body, viewer(reply.request)));
  /** A 4xx page for a person; like every API error it names its catalogued code (docs/errors.md). */
  const errorPage = (reply: FastifyReply, title: string, body: string, code: ErrorCode) =>
    reply.status(ERRORS[code].status).header('x-arcsim-error', code).type('text/html; charset=utf-8')
      .send(page(title, `${body}<p id="error-code">Error code <code>${code}</code></p>`, viewer(reply.request)));

  app.get('/portal/login', { config: { public: true }, schema: { tags: ['portal'], summary: 'Sign-in form', produces: ['text/html'] } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(page('Sign in', loginForm())));

  app.post('/portal/login', {
    config: { public: true },
    bodyLimit: 4096,
    schema: { tags: ['portal'], summary: 'Sign in with an API key (form field `key`); 303 to /portal with a session cookie', consumes: ['application/x-www-form-urlencoded'], body: LoginBody },
  }, async (req, reply) => {
    const key = req.body.key.trim();
    const caller = key ? await callerOfKey(store, key, clock) : undefined;
    if (!caller) return errorPage(reply, 'Sign in', loginForm('That key is not a valid API key (or it was revoked).'), 'ARCSIM_E_UNAUTHORIZED');
    req.caller = caller; // for the audit log
    const session = sessions.open(hashSecret(key));
    reply.setCookie(SESSION_COOKIE, session.id, {
      path: '/portal', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https', maxAge: sessions.maxAgeSec,
    });
    return reply.status(303).header('location', '/portal').send();
  });

  app.post('/portal/logout', {
    schema: { tags: ['portal'], summary: 'Sign out (form field `csrf`: the session\'s token)', security: ROLE.reader, consumes: ['application/x-www-form-urlencoded'], body: LogoutBody },
  }, async (req, reply) => {
    const session = req.portalSession;
    if (session) {
      if (!sameText(req.body.csrf, session.csrf)) throw protocolError('ARCSIM_E_CSRF');
      sessions.close(session.id);
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/portal' });
    return reply.status(303).header('location', '/portal/login').send();
  });
  const alertRow = (a: AlertRow) => [
    `<a href="/portal/alerts/${esc(a.systemAlertId)}">${esc(a.properties.alertDisplayName)}</a>`,
    `<span class="sev-${esc(a.severity)}">${esc(a.severity)}</span>`, esc(a.status), esc(a.count), esc(a.properties.compromisedEntity),
    esc(new Date(a.endTime).toISOString()),
  ];

  app.get('/portal', { schema: doc('Portal overview') }, async (_req, reply) => {
    const [alerts, incidents, machines] = await Promise.all([store.alerts.listAlerts(), store.incidents.listIncidents(), store.machines.listMachines()]);
    return html(reply, 'Overview', `<p>${machines.length} machines, ${alerts.length} alerts, ${incidents.filter((i) => !i.redirectedTo).length} incidents.</p>`);
  });

  app.get('/portal/alerts', { schema: doc('Alerts page') }, async (_req, reply) => {
    const alerts = await store.alerts.listAlerts();
    return html(reply, 'Alerts', table(alerts.map(alertRow), ['Alert', 'Severity', 'Status', 'Count', 'Entity', 'Last activity']));
  });

  app.get('/portal/alerts/:id', { schema: { ...doc('One alert, its status per product'), params: IdParams } }, async (req, reply) => {
    const { id } = req.params;
    const alert = (await store.alerts.getAlert(id)) ?? (await store.alerts.findAlertCopies(id).then((c) => (c[0] ? store.alerts.getAlert(c[0].systemAlertId) : undefined)));
    if (!alert) return errorPage(reply, 'Alert not found', `<p>No alert ${esc(id)}.</p>`, 'ARCSIM_E_NOT_FOUND');
    const [copies, incident] = await Promise.all([store.alerts.alertCopies(alert.systemAlertId), store.incidents.incidentOfAlert(alert.systemAlertId)]);
    const p = alert.properties as Record<string, any>;
    return html(reply, String(p.alertDisplayName), `
<p id="alert-type">${esc(alert.alertType)} · <span class="sev-${esc(alert.severity)}">${esc(alert.severity)}</span> · ${esc(p.intent)} · detected by ${esc(p.detectingProduct)}</p>
<p>${esc(p.description)}</p>
<p>Machine: ${esc(alert.resourceId)}<br>Occurrences: <span id="count">${esc(alert.count)}</span>, ${esc(new Date(alert.startTime).toISOString())} – ${esc(new Date(alert.endTime).toISOString())}</p>
${incident ? `<p>Incident: <a id="incident-link" href="/portal/incidents/${esc(incident)}">${esc(incident)}</a></p>` : ''}
<h2>Status per product</h2>
${table(copies.map((c) => [esc(c.product), `<code>${esc(c.copyId)}</code>`, `<span class="status">${esc(c.status)}</span>`]), ['Product', 'Alert id', 'Status'])}
<p><a href="/api/alerts/${esc(alert.systemAlertId)}">JSON</a> · <a href="/api/alerts/${esc(alert.systemAlertId)}/audit">status audit trail</a></p>`);
  });

  app.get('/portal/incidents', { schema: doc('Incidents page') }, async (_req, reply) => {
    const incidents = await store.incidents.listIncidents();
    return html(reply, 'Incidents', table(incidents.map((i) => [
      `<a href="/portal/incidents/${esc(i.incidentId)}">${esc(i.title)}</a>`, `<span class="sev-${esc(i.severity)}">${esc(i.severity)}</span>`,
      esc(i.status), i.redirectedTo ? `redirected to ${esc(i.redirectedTo)}` : '',
    ]), ['Incident', 'Severity', 'Status', '']));
  });

  app.get('/portal/incidents/:id', { schema: { ...doc('One incident and its alerts'), params: IdParams } }, async (req, reply) => {
    const { id } = req.params;
    const inc = await store.incidents.getIncident(id);
    if (!inc) return errorPage(reply, 'Incident not found', `<p>No incident ${esc(id)}.</p>`, 'ARCSIM_E_NOT_FOUND');
    const alerts = (await Promise.all((await store.incidents.incidentAlertIds(id)).map((a) => store.alerts.getAlert(a)))).filter((a): a is AlertRow => !!a);
    return html(reply, inc.title, `
<p><span class="sev-${esc(inc.severity)}">${esc(inc.severity)}</span> · <span id="status">${esc(inc.status)}</span>${inc.redirectedTo ? ` · redirected to <a href="/portal/incidents/${esc(inc.redirectedTo)}">${esc(inc.redirectedTo)}</a>` : ''}</p>
${table(alerts.map(alertRow), ['Alert', 'Severity', 'Status', 'Count', 'Entity', 'Last activity'])}`);
  });
};

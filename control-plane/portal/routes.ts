import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import { z } from 'zod';
import { ERRORS, protocolError, type ErrorCode } from '../../protocol/index.ts';
import { ROLE } from '../api/http.ts';
import { callerOfKey } from '../auth/api-keys.ts';
import { SESSION_COOKIE } from '../auth/portal-sessions.ts';
import { hashSecret } from '../auth/secrets.ts';
import { layout } from './components/layout.ts';
import { html, type Html } from './html.ts';
import { loadAssets } from './assets.ts';
import type { NavId, PageOutcome, PortalAction, PortalDeps, PortalPage, Viewer } from './page.ts';
import { loginForm } from './pages/login.ts';
import { PAGES, ACTIONS } from './pages/index.ts';

/**
 * Headers on every portal answer: scripts, styles and everything else only from this server (the
 * portal has no inline script), no framing, no MIME sniffing, no referrer to other sites, and no
 * caching of pages that show lab data to a signed-in user.
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const viewerOf = (req: FastifyRequest): Viewer | undefined => req.caller && { name: req.caller.name, role: req.caller.role, csrf: req.portalSession?.csrf };

function sendPage(reply: FastifyReply, title: string, body: Html, opts: { nav?: NavId; status?: number; code?: ErrorCode } = {}) {
  const viewer = viewerOf(reply.request);
  const full = opts.code ? html`${body}<p id="error-code" class="error-code">Error code <code>${opts.code}</code></p>` : body;
  if (opts.code) reply.header('x-arcsim-error', opts.code);
  return reply.status(opts.status ?? 200).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(layout({ title, body: full, viewer, nav: opts.nav }).text);
}

function sendOutcome(reply: FastifyReply, o: PageOutcome) {
  if (o.kind === 'file') {
    return reply.headers({ ...PAGE_HEADERS, 'content-disposition': `attachment; filename="${o.filename.replace(/[^\w.-]/g, '_')}"` }).type(o.contentType).send(o.body);
  }
  if (o.kind === 'not-found') return sendPage(reply, o.title, html`<p>${o.message}</p>`, { nav: o.nav, status: ERRORS.ARCSIM_E_NOT_FOUND.status, code: 'ARCSIM_E_NOT_FOUND' });
  return sendPage(reply, o.title, o.body, { nav: o.nav });
}

const LoginBody = z.object({ key: z.string().max(512).default('') });
const CsrfField = { csrf: z.string().max(128).default('') };

/**
 * The portal (issue 15): server-rendered pages under /portal, one module per page (pages/), built
 * from components/ over the page queries of data/, enhanced by htmx and uPlot served from
 * assets/. Every page needs a reader key: a browser signs in at /portal/login with any API key and
 * gets a session cookie (HttpOnly, SameSite=Strict, Path=/portal, Max-Age, Secure over https);
 * `Authorization: Bearer` works too. The guard (auth/api-guard.ts) sends a browser without either
 * to the sign-in form. Every write is a form POST that names its role and carries the session's
 * CSRF token.
 */
export const portal: FastifyPluginAsyncZod<PortalDeps> = async (app, deps) => {
  const { store, clock, sessions } = deps;
  // Form bodies and cookies only in the portal's scope: /api keeps taking JSON only.
  await app.register(fastifyFormbody);
  await app.register(fastifyCookie);
  const assets = loadAssets();

  app.get('/portal/assets/:file', {
    config: { public: true },
    schema: { tags: ['portal'], summary: 'The portal\'s static files (its CSS and script, htmx, uPlot); public: the sign-in page uses them', params: z.object({ file: z.string().max(64) }) },
  }, async (req, reply) => {
    const a = assets.get(req.params.file);
    if (!a) throw protocolError('ARCSIM_E_NOT_FOUND', `no portal asset ${req.params.file}`);
    reply.headers({ 'x-content-type-options': 'nosniff', 'cache-control': 'public, max-age=3600', etag: a.etag }).type(a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    return reply.send(a.body);
  });

  app.get('/portal/login', { config: { public: true }, schema: { tags: ['portal'], summary: 'Sign-in form', produces: ['text/html'] } }, async (_req, reply) =>
    sendPage(reply, 'Sign in', loginForm(), { nav: 'none' }));

  app.post('/portal/login', {
    config: { public: true },
    bodyLimit: 4096,
    schema: { tags: ['portal'], summary: 'Sign in with an API key (form field `key`); 303 to /portal with a session cookie', consumes: ['application/x-www-form-urlencoded'], body: LoginBody },
  }, async (req, reply) => {
    const key = req.body.key.trim();
    const caller = key ? await callerOfKey(store, key, clock) : undefined;
    if (!caller) {
      return sendPage(reply, 'Sign in', loginForm('That key is not a valid API key (or it was revoked).'), { nav: 'none', status: ERRORS.ARCSIM_E_UNAUTHORIZED.status, code: 'ARCSIM_E_UNAUTHORIZED' });
    }
    req.caller = caller; // for the audit log
    const session = sessions.open(hashSecret(key));
    reply.setCookie(SESSION_COOKIE, session.id, {
      path: '/portal', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https', maxAge: sessions.maxAgeSec,
    });
    return reply.status(303).header('location', '/portal').send();
  });

  app.post('/portal/logout', {
    schema: { tags: ['portal'], summary: 'Sign out (form field `csrf`: the session\'s token)', security: ROLE.reader, consumes: ['application/x-www-form-urlencoded'], body: z.object(CsrfField) },
  }, async (req, reply) => {
    const session = req.portalSession;
    if (session) {
      if (!sameText(req.body.csrf, session.csrf)) throw protocolError('ARCSIM_E_CSRF');
      sessions.close(session.id);
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/portal' });
    return reply.status(303).header('location', '/portal/login').send();
  });

  for (const page of PAGES) registerPage(page);
  for (const action of ACTIONS) registerAction(action);

  function registerPage(page: PortalPage) {
    app.get(page.path.replace(/\{(\w+)\}/g, ':$1'), {
      schema: {
        tags: ['portal'], summary: page.summary, produces: ['text/html'], security: ROLE[page.role ?? 'reader'],
        ...(page.params ? { params: page.params } : {}), ...(page.query ? { querystring: page.query } : {}),
      },
    }, async (req, reply) => sendOutcome(reply, await page.handle(deps, {
      params: req.params, query: req.query, viewer: viewerOf(req)!, url: req.url,
    })));
  }

  function registerAction(action: PortalAction) {
    app.post(action.path.replace(/\{(\w+)\}/g, ':$1'), {
      bodyLimit: 16_384,
      schema: {
        tags: ['portal'], summary: action.summary, security: ROLE[action.role], consumes: ['application/x-www-form-urlencoded'],
        ...(action.params ? { params: action.params } : {}), body: action.body.extend(CsrfField),
      },
    }, async (req, reply) => {
      const body = req.body as { csrf: string };
      // A browser session must show its CSRF token; a Bearer caller (a script) has no cookie to abuse.
      if (req.portalSession && !sameText(body.csrf, req.portalSession.csrf)) throw protocolError('ARCSIM_E_CSRF');
      const out = await action.handle(deps, { params: req.params, body: req.body as never, viewer: viewerOf(req)! });
      if (out.kind === 'redirect') return reply.status(303).header('location', out.location).send();
      return sendOutcome(reply, out);
    });
  }
};

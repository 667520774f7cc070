import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import fastifyFormbody from '@fastify/formbody';
import { z } from 'zod';
import { protocolError } from '../../../protocol/index.ts';
import { huntingServices, type HuntingServiceDeps } from './hunting.ts';
import { liveService, type LiveServiceDeps } from './live.ts';

export { PORTAL_LIMITS } from '../limits.ts';
export { csvCell } from './hunting.ts';

/** The browser scripts of the hunting editor and the live feed (portal/scripts/), served as they are. */
const SCRIPTS = ['hunting.js', 'live.js', 'portal-b.css'] as const;

/**
 * The portal's services beside its pages: the hunting editor's endpoints, the live feed, and their
 * browser scripts under /portal/scripts/ (public, like the portal's other static files: the
 * scripts hold no data).
 */
export const portalServices: FastifyPluginAsyncZod<HuntingServiceDeps & LiveServiceDeps> = async (app, deps) => {
  // Form posts (saved queries) in this scope only: /api keeps taking JSON only.
  await app.register(fastifyFormbody);
  const dir = join(import.meta.dirname, '..', 'scripts');
  const files = new Map(SCRIPTS.map((f) => [f, readFileSync(join(dir, f))]));
  app.get('/portal/scripts/:file', {
    config: { public: true },
    schema: { tags: ['portal'], summary: 'The hunting editor\'s and the live feed\'s browser scripts', params: z.object({ file: z.string().max(64) }) },
  }, async (req, reply) => {
    const body = files.get(req.params.file as (typeof SCRIPTS)[number]);
    if (!body) throw protocolError('ARCSIM_E_NOT_FOUND', `no portal script ${req.params.file}`);
    return reply.headers({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' }).type(req.params.file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8').send(body);
  });
  await app.register(huntingServices, deps);
  await app.register(liveService, deps);
};

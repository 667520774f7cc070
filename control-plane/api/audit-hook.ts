import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Store } from '../store/index.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * An onResponse hook writing one audit row per request that may change state (any method but
 * GET, HEAD, OPTIONS; not a POST marked `config.readOnly`, such as a KQL query) under /api,
 * /portal, and the Graph (/v1.0) and ARM (/subscriptions) routes: who (the guard's caller, `unknown` when no valid key
 * was shown), role, method, route, path, the status answered, the client address. Refused
 * requests (401, 403, 413, 400) are recorded too. A failed audit write is logged, never turned
 * into an error for a request that has already been answered.
 */
export function auditHook(store: Pick<Store, 'keys'>, clock: Clock, logger: Logger): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (req, reply) => {
    // A POST that only reads (a KQL query) says so with `config.readOnly`: not a write to audit.
    if (READS.has(req.method) || (req.routeOptions.config as { readOnly?: boolean } | undefined)?.readOnly) return;
    const path = req.url.split('?')[0]!;
    // The Graph (/v1.0) and ARM (/subscriptions) shapes change alerts too.
    if (!/^\/(api|v1\.0|subscriptions)\//.test(path) && path !== '/portal' && !path.startsWith('/portal/')) return;
    try {
      await store.keys.addAudit({
        at: clock.now(), who: req.caller?.name ?? 'unknown', keyId: req.caller?.keyId ?? null, role: req.caller?.role ?? null,
        method: req.method, route: req.routeOptions.url ?? path, target: path.slice(0, 1000), status: reply.statusCode, remote: req.ip ?? null,
      });
    } catch (err) {
      logger.error('audit log write failed', { method: req.method, path, error: String(err) });
    }
  };
}

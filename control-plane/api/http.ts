import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { z } from 'zod';
import { ArcsimError, issuePath, protocolError } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import type { Role } from '../auth/roles.ts';

/** Parses `data` with `schema` or throws ARCSIM_E_VALIDATION naming the first bad path (for bodies read by hand, like raw snapshots). */
export function parse<T extends z.ZodType>(schema: T, data: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(data ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw validationError(where, issuePath(issue.path), issue.message);
}

function validationError(where: string, inner: string, message: string): ArcsimError {
  const path = [where, inner].filter(Boolean).join('.');
  return protocolError('ARCSIM_E_VALIDATION', `${path}: ${message}`, path);
}

/** The body of every error reply. */
export const ErrorBody = z.object({
  code: z.string().describe('stable ARCSIM_E_* code (docs/errors.md)'),
  path: z.string().optional().describe('where in the request the fault is, e.g. body.ttl'),
  message: z.string(),
  errors: z.array(z.object({
    message: z.string(), code: z.string(), start: z.number().int(), length: z.number().int(), line: z.number().int(), column: z.number().int(),
  })).optional().describe('ARCSIM_E_QUERY: every finding in the query, with its 1-based line and column'),
  error: z.looseObject({
    code: z.string().describe('the same ARCSIM_E_* code'),
    message: z.string(),
    target: z.string().optional(),
    details: z.array(z.looseObject({ code: z.string(), message: z.string(), target: z.string().optional() })).optional(),
    innerError: z.looseObject({}).optional().describe('Graph: date, request-id, client-request-id'),
  }).optional().describe("on the Microsoft-shaped routes (ARM, Resource Graph, Log Analytics, Graph, advanced hunting): the same error in Microsoft's envelope, so their client libraries surface it (docs/query.md)"),
}).meta({ id: 'Error' });

type ErrorJson = { code: string; message: string; path?: string; errors?: Array<{ code: string; message: string; line: number; column: number }> };

/**
 * The routes that answer in the shape of a Microsoft API, and so must give errors in its envelope:
 * Azure Resource Manager and Resource Graph (`/subscriptions/…`, `/providers/…`), Log Analytics
 * (`/v1/workspaces/…`), Defender for Endpoint advanced hunting: `{"error": {"code", "message",
 * "target", "details"}}`; Microsoft Graph (`/v1.0/…`): the same with `innerError` (`date`,
 * `request-id`, `client-request-id`). Their client libraries read the code from `error.code`.
 */
function microsoftShape(url: string): 'arm' | 'graph' | undefined {
  const path = url.split('?')[0]!;
  if (path.startsWith('/v1.0/')) return 'graph';
  if (path.startsWith('/subscriptions/') || path.startsWith('/providers/') || path.startsWith('/v1/workspaces/') || path === '/api/advancedqueries/run') return 'arm';
  return undefined;
}

/**
 * An error reply: arcsim's own `{code, path, message, errors}` always (its API client and CLI read
 * them), plus Microsoft's `error` envelope on the Microsoft-shaped routes, carrying the same
 * `ARCSIM_E_*` code, the request path as `target`, and each query finding as a `details` entry.
 */
export function errorReply(req: FastifyRequest, body: ErrorJson): ErrorJson & { error?: Record<string, unknown> } {
  const shape = microsoftShape(req.url);
  if (!shape) return body;
  const error: Record<string, unknown> = {
    code: body.code, message: body.message,
    ...(body.path !== undefined ? { target: body.path } : {}),
    ...(body.errors?.length ? { details: body.errors.map((f) => ({ code: f.code, message: f.message, target: `line ${f.line}, column ${f.column}` })) } : {}),
  };
  if (shape === 'graph') {
    const clientRequestId = req.headers['client-request-id'];
    error.innerError = { date: new Date().toISOString(), 'request-id': String(req.id), ...(typeof clientRequestId === 'string' ? { 'client-request-id': clientRequestId } : {}) };
  }
  return { ...body, error };
}

/** Error replies every route may give; documented once, sent by the error handler below. */
export const ERROR_RESPONSES = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** `{value: [...]}`, the list envelope of every collection. */
export const listOf = <T extends z.ZodType>(item: T) => z.looseObject({ value: z.array(item) });

/**
 * What a route declares to need: the `apiKey` security scheme with the least role that may call it
 * (OpenAPI 3.1 lets a bearer scheme list role names). The guard enforces exactly this (see
 * auth/api-guard.ts), so the document and the check cannot disagree. Roles are ordered
 * reader < responder < contributor < admin (auth/roles.ts).
 */
export const ROLE = {
  reader: [{ apiKey: ['reader'] }],
  responder: [{ apiKey: ['responder'] }],
  contributor: [{ apiKey: ['contributor'] }],
  admin: [{ apiKey: ['admin'] }],
} as const satisfies Record<Role, ReadonlyArray<Record<string, string[]>>>;

/** Names the request part the way error paths always have (`query`, not Fastify's `querystring`). */
const PART: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

/**
 * Installs the API's error behaviour once, on the root scope every route plugin inherits: schema
 * failures become ARCSIM_E_VALIDATION with the first bad path, typed errors keep their status, and
 * anything else is a 500 ARCSIM_E_INTERNAL whose body says nothing more, logged with its stack.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setSchemaErrorFormatter((errors: FastifySchemaValidationError[], dataVar: string) => {
    const first = errors[0];
    return validationError(PART[dataVar] ?? dataVar, (first?.instancePath ?? '').split('/').filter(Boolean).join('.'), first?.message ?? 'invalid');
  });
  app.setErrorHandler((err: FastifyError | ArcsimError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ArcsimError) {
      if (err.status >= 500) req.log.error({ err }, 'request failed');
      return reply.status(err.status).send(errorReply(req, err.toJSON() as ErrorJson));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own client errors (bad JSON body, body too large, wrong content type).
      const code = err.statusCode === 413 ? 'ARCSIM_E_BODY_TOO_LARGE' : 'ARCSIM_E_VALIDATION';
      return reply.status(err.statusCode).send(errorReply(req, { code, message: err.message }));
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send(errorReply(req, protocolError('ARCSIM_E_INTERNAL').toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorReply(req, protocolError('ARCSIM_E_NOT_FOUND', `${req.method} ${req.url}`).toJSON()));
  });
}

/**
 * Fastify's `frameworkErrors` hook: faults its router finds before any route runs (a malformed
 * percent-encoding in the path, a path parameter longer than `maxParamLength`) get the same typed
 * body as every other error instead of Fastify's own `{error, code: 'FST_ERR_…'}`.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply.status(414).send(errorReply(req, protocolError('ARCSIM_E_VALIDATION', 'a path parameter is longer than the router accepts', 'params').toJSON()));
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    reply.status(400).send(errorReply(req, protocolError('ARCSIM_E_VALIDATION', 'the path is not a valid percent-encoded URL', 'params').toJSON()));
    return;
  }
  reply.log.error({ err }, 'request failed');
  reply.status(500).send(errorReply(req, protocolError('ARCSIM_E_INTERNAL').toJSON()));
}

/** A duration such as `30s`, `2m`, `24h` in, milliseconds out; a bad one fails validation at its own path. */
export const durationMs = (defaultText: string) => z.string().default(defaultText).describe('a duration: 500ms, 30s, 2m, 24h, 7d').transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

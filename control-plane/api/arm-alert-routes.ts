import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertCopyRow, AlertRow, Store } from '../store/index.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import { changeAlertStatus, STATUS_ACTIONS } from '../products/status-sync.ts';
import { renderAlert } from './alert-routes.ts';
import { ERROR_RESPONSES, ROLE } from './http.ts';

/**
 * The api-versions of the MDC alerts REST API arcsim serves (the alert resource has the same shape
 * in both; 2021-11-01 is the one `@azure/arm-security` 5 sends), and its page size (arcsim's own).
 */
export const ARM_ALERTS = { apiVersion: '2022-01-01', apiVersions: ['2022-01-01', '2021-11-01'], pageSize: 100 } as const;

const ApiVersion = z.enum(ARM_ALERTS.apiVersions, { error: `api-version must be one of ${ARM_ALERTS.apiVersions.join(', ')}` });
const ListQuery = z.strictObject({ 'api-version': ApiVersion, $skipToken: z.string().regex(/^\d+$/).optional().describe('from nextLink') });
const GetQuery = z.strictObject({ 'api-version': ApiVersion });
const Sub = { sub: z.string().min(1).max(100) };
const Rg = { rg: z.string().min(1).max(90) };
const Loc = { loc: z.string().min(1).max(100) };
const Name = { name: z.string().min(1).max(200) };
const Action = { action: z.enum(Object.keys(STATUS_ACTIONS) as ['activate', 'inProgress', 'resolve', 'dismiss']) };

const MdcAlert = z.looseObject({}).meta({ id: 'MdcArmAlert', description: 'Microsoft.Security/locations/alerts (2022-01-01): id, name, type, properties' });
const AlertList = z.looseObject({ value: z.array(MdcAlert), nextLink: z.string().optional() });

export interface ArmAlertRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  sync: SyncConfig;
}

type Where = { sub: string; rg?: string; loc?: string };
const same = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();

/**
 * Defender for Cloud alerts as Azure Resource Manager serves them (REST 2022-01-01): list by
 * subscription, resource group or location (`value` + `nextLink`), get one by location, and the
 * status actions `dismiss`, `activate`, `resolve`, `inProgress` (204). Authenticated with arcsim
 * keys as bearer tokens. These are the MDC view of each alert (its MDC copy: id, status); an action
 * is a change made in MDC and travels by the sync matrix like `POST /api/alerts/ID/ACTION?product=MDC`.
 */
export const armAlertRoutes: FastifyPluginAsyncZod<ArmAlertRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['arm'];

  const inScope = (row: AlertRow, w: Where) => {
    const loc = row.properties.location as { subscription: string; resourceGroup: string; location: string } | undefined;
    return !!loc && same(loc.subscription, w.sub) && (w.rg === undefined || same(loc.resourceGroup, w.rg)) && (w.loc === undefined || same(loc.location, w.loc));
  };
  /** The MDC copies of the alerts in scope, oldest first. */
  const mdcAlerts = async (w: Where): Promise<Array<{ row: AlertRow; view: AlertCopyRow }>> => {
    const out: Array<{ row: AlertRow; view: AlertCopyRow }> = [];
    for (const row of await store.alerts.listAlerts({ product: 'MDC' })) {
      if (!inScope(row, w)) continue;
      const view = (await store.alerts.alertCopies(row.systemAlertId)).find((c) => c.product === 'MDC');
      if (view) out.push({ row, view });
    }
    return out;
  };
  /** One alert by its MDC name in the given scope, or 404 as ARM answers. */
  const mdcAlert = async (w: Where & { name: string }): Promise<{ row: AlertRow; view: AlertCopyRow }> => {
    const view = (await store.alerts.findAlertCopies(w.name)).find((c) => c.product === 'MDC');
    const row = view && (await store.alerts.getAlert(view.systemAlertId));
    if (!view || !row || !inScope(row, w)) throw protocolError('ARCSIM_E_NOT_FOUND', `no alert ${w.name} in subscription ${w.sub}${w.rg ? `, resource group ${w.rg}` : ''}, location ${w.loc}`);
    return { row, view };
  };
  // The MDC REST shape only: arcsim's own block stays on /api/alerts.
  const arm = async (row: AlertRow, view: AlertCopyRow) => {
    const { arcsim: _own, ...resource } = await renderAlert(store, deps.baseUrl(), row, view);
    return resource;
  };
  const list = async (w: Where, skipToken: string | undefined, url: string, apiVersion: string) => {
    const all = await mdcAlerts(w);
    const skip = skipToken ? Number(skipToken) : 0;
    const value = [];
    for (const a of all.slice(skip, skip + ARM_ALERTS.pageSize)) value.push(await arm(a.row, a.view));
    const next = skip + ARM_ALERTS.pageSize;
    return { value, ...(next < all.length ? { nextLink: `${deps.baseUrl()}${url}?api-version=${apiVersion}&$skipToken=${next}` } : {}) };
  };
  const act = async (w: Where & { name: string; action: keyof typeof STATUS_ACTIONS }, who: string) => {
    const { view } = await mdcAlert(w);
    await store.transaction((tx) => changeAlertStatus(tx, {
      id: view.copyId, product: 'MDC', status: STATUS_ACTIONS[w.action]!, reason: `ARM ${w.action} by ${who}`, config: deps.sync, now: deps.clock.now(),
    }));
  };
  const path = (p: Where) => `/subscriptions/${encodeURIComponent(p.sub)}${p.rg ? `/resourceGroups/${encodeURIComponent(p.rg)}` : ''}/providers/Microsoft.Security${p.loc ? `/locations/${encodeURIComponent(p.loc)}` : ''}/alerts`;

  app.get('/subscriptions/:sub/providers/Microsoft.Security/alerts', {
    schema: { tags, summary: 'List the subscription\'s alerts (MDC REST)', security: ROLE.reader, params: z.object(Sub), querystring: ListQuery, response: { 200: AlertList, ...ERROR_RESPONSES } },
  }, async (req) => list(req.params, req.query.$skipToken, path(req.params), req.query['api-version']));

  app.get('/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Security/alerts', {
    schema: { tags, summary: 'List a resource group\'s alerts (MDC REST)', security: ROLE.reader, params: z.object({ ...Sub, ...Rg }), querystring: ListQuery, response: { 200: AlertList, ...ERROR_RESPONSES } },
  }, async (req) => list(req.params, req.query.$skipToken, path(req.params), req.query['api-version']));

  app.get('/subscriptions/:sub/providers/Microsoft.Security/locations/:loc/alerts', {
    schema: { tags, summary: 'List the subscription\'s alerts in one location (MDC REST)', security: ROLE.reader, params: z.object({ ...Sub, ...Loc }), querystring: ListQuery, response: { 200: AlertList, ...ERROR_RESPONSES } },
  }, async (req) => list(req.params, req.query.$skipToken, path(req.params), req.query['api-version']));

  app.get('/subscriptions/:sub/providers/Microsoft.Security/locations/:loc/alerts/:name', {
    schema: { tags, summary: 'Get an alert (MDC REST, subscription level)', security: ROLE.reader, params: z.object({ ...Sub, ...Loc, ...Name }), querystring: GetQuery, response: { 200: MdcAlert, ...ERROR_RESPONSES } },
  }, async (req) => {
    const { row, view } = await mdcAlert(req.params);
    return arm(row, view);
  });

  app.get('/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Security/locations/:loc/alerts/:name', {
    schema: { tags, summary: 'Get an alert (MDC REST, resource group level)', security: ROLE.reader, params: z.object({ ...Sub, ...Rg, ...Loc, ...Name }), querystring: GetQuery, response: { 200: MdcAlert, ...ERROR_RESPONSES } },
  }, async (req) => {
    const { row, view } = await mdcAlert(req.params);
    return arm(row, view);
  });

  app.post('/subscriptions/:sub/providers/Microsoft.Security/locations/:loc/alerts/:name/:action', {
    schema: {
      tags, summary: 'dismiss / activate / resolve / inProgress an alert in MDC (subscription level); the sync matrix carries it on', security: ROLE.responder,
      params: z.object({ ...Sub, ...Loc, ...Name, ...Action }), querystring: GetQuery, response: { 204: z.null().describe('done'), ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    await act(req.params, req.caller?.name ?? 'unknown');
    return reply.status(204).send(null);
  });

  app.post('/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Security/locations/:loc/alerts/:name/:action', {
    schema: {
      tags, summary: 'dismiss / activate / resolve / inProgress an alert in MDC (resource group level); the sync matrix carries it on', security: ROLE.responder,
      params: z.object({ ...Sub, ...Rg, ...Loc, ...Name, ...Action }), querystring: GetQuery, response: { 204: z.null().describe('done'), ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    await act(req.params, req.caller?.name ?? 'unknown');
    return reply.status(204).send(null);
  });
};

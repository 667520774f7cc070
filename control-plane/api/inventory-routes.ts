import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseResourceId, protocolError, type Limits } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertRow, AssetRow, ConnectorRow, CspmResourceRow, MachineRow, PlanRow, Store } from '../store/index.ts';
import type { RuleSet } from '../detection/rule-loader.ts';
import { afterUpsert, type IngestOptions } from '../ingest/ingest.ts';
import type { Inventory } from '../inventory/inventory.ts';
import { SnapshotEntrySchema, type SnapshotEntry } from '../inventory/connectors.ts';
import { parseSnapshotText, SNAPSHOT_KINDS } from '../inventory/snapshot-formats.ts';
import { applyFindings, FindingsBodySchema } from '../inventory/cspm-findings.ts';
import { effectivePlan, PLAN_NAMES, PLANS, PlanSetSchema } from '../inventory/plans.ts';
import { billingView } from '../inventory/billing.ts';
import { RECOMMENDATION_BY_KEY, secureScores } from '../inventory/recommendations.ts';
import { connectorOfResourceId } from '../inventory/inventory.ts';
import { ROLE, ERROR_RESPONSES, listOf, parse } from './http.ts';

export interface InventoryRouteDeps {
  store: Store;
  clock: Clock;
  inventory: Inventory;
  rules: RuleSet;
  newId: () => string;
  ingest: IngestOptions;
  limits: Pick<Limits, 'maxImportBodyBytes'>;
}

const SnapshotQuery = z.strictObject({ kind: z.enum(SNAPSHOT_KINDS).optional(), region: z.string().optional(), provider: z.string().optional() });
const SnapshotBatch = z.strictObject({ snapshots: z.array(SnapshotEntrySchema).min(1).max(64) });
const ResourceQuery = z.strictObject({ includeDeleted: z.enum(['true', 'false']).default('false') });
const RecommendationQuery = z.strictObject({ status: z.enum(['Unhealthy', 'Healthy', 'all']).default('Unhealthy'), subscription: z.string().optional() });
const TagsBody = z.record(z.string().min(1).max(512), z.string().max(256));
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const NameParams = z.object({ name: z.string() });
const Connector = z.looseObject({
  name: z.string(), provider: z.string(), accountId: z.string(), subscription: z.string(), resourceGroup: z.string(), location: z.string(),
  id: z.string().describe('the Microsoft.Security/securityConnectors resource id'), definition: z.unknown(), createdAt: z.string().nullable(), updatedAt: z.string().nullable(),
}).meta({ id: 'Connector' });
const CspmResource = z.looseObject({
  id: z.string(), kind: z.string(), nativeId: z.string(), name: z.string().nullable(), region: z.string().nullable(), state: z.string().nullable(), connector: z.string(),
  firstSeen: z.string().nullable(), lastSeen: z.string().nullable(), deletedAt: z.string().nullable(), properties: z.unknown(),
});
const SnapshotSummaries = z.looseObject({ snapshots: z.array(z.unknown()).describe('one import summary per snapshot') });
const Asset = z.looseObject({ id: z.string(), key: z.string() }).meta({ id: 'Asset', description: 'One real machine merged from its Arc and CSPM records' });
const Open = z.looseObject({}).describe('shaped by the inventory module');

/** Keys whose values never leave the control plane: credentials, and anything a process would run. */
const REDACTED_KEY = /secret|passw|token|credential|api.?key|access.?key|private|command|argv|^env$/i;

/**
 * A connector definition as readers see it: credential-ish fields and commands are replaced by
 * "[redacted]" at any depth (stored definitions from before cli sources may still hold a command).
 */
export function redactDefinition(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactDefinition);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, REDACTED_KEY.test(k) ? '[redacted]' : redactDefinition(v)]));
}

/**
 * Inventory API: connectors and their snapshots, findings and pulls; assets; plans; billing;
 * recommendations and secure score. Reads need `reader` (definitions redacted), changes `contributor`.
 */
export const inventoryRoutes: FastifyPluginAsyncZod<InventoryRouteDeps> = async (app, deps) => {
  const { store, inventory } = deps;
  const tags = ['inventory'];

  const connectorJson = (c: ConnectorRow) => ({
    name: c.name, provider: c.provider, accountId: c.accountId, subscription: c.subscription, resourceGroup: c.resourceGroup,
    location: c.location, id: `/subscriptions/${c.subscription}/resourcegroups/${c.resourceGroup}/providers/microsoft.security/securityconnectors/${c.name}`,
    definition: redactDefinition(c.config), createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt),
  });
  const resourceJson = (r: CspmResourceRow) => ({
    id: r.resourceId, kind: r.kind, nativeId: r.nativeId, name: r.name, region: r.region, state: r.state, connector: r.connector,
    firstSeen: iso(r.firstSeen), lastSeen: iso(r.lastSeen), deletedAt: iso(r.deletedAt), properties: r.data,
  });

  app.get('/api/connectors', {
    schema: {
      tags, summary: 'Cloud connectors and their scheduled pulls', security: ROLE.reader,
      response: { 200: listOf(Connector).extend({ scheduledPulls: z.array(z.object({ connector: z.string(), next: z.string().nullable() })) }), ...ERROR_RESPONSES },
    },
  }, async () => ({
    value: (await store.inventory.listConnectors()).map(connectorJson),
    scheduledPulls: inventory.scheduledPulls(),
  }));

  // The definition is checked by the inventory module, which gives connector-specific codes (ARCSIM_E_CONNECTOR_*).
  app.put('/api/connectors/:name', {
    schema: {
      tags, summary: 'Create or replace a connector', security: ROLE.contributor, params: NameParams,
      body: z.unknown().describe('a connector definition: provider, accountId, subscription, resourceGroup, pull (docs/inventory.md)'),
      response: { 200: Connector, 201: Connector, ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    const { name } = req.params;
    const existed = !!(await store.inventory.getConnector(name));
    const row = await inventory.putConnector(name, req.body);
    return reply.status(existed ? 200 : 201).send(connectorJson(row));
  });

  app.get('/api/connectors/:name', {
    schema: { tags, summary: 'A connector and its snapshot log', security: ROLE.reader, params: NameParams, response: { 200: Connector.extend({ snapshots: z.array(z.looseObject({})) }), ...ERROR_RESPONSES } },
  }, async (req) => {
    const c = await inventory.connector(req.params.name);
    return { ...connectorJson(c), snapshots: (await store.inventory.listSnapshotLog(c.name)).map((s) => ({ ...s, takenAt: iso(s.takenAt) })) };
  });

  app.get('/api/connectors/:name/resources', {
    schema: { tags, summary: 'What a connector discovered', security: ROLE.reader, params: NameParams, querystring: ResourceQuery, response: { 200: listOf(CspmResource), ...ERROR_RESPONSES } },
  }, async (req) => {
    const c = await inventory.connector(req.params.name);
    const q = req.query;
    return { value: (await store.inventory.listCspmResources({ connector: c.name, includeDeleted: q.includeDeleted === 'true' })).map(resourceJson) };
  });

  // Snapshots are taken as raw text so a truncated document gets ARCSIM_E_SNAPSHOT_JSON, not a generic 400.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.withTypeProvider<ZodTypeProvider>().post('/api/connectors/:name/snapshots', {
      // Cloud CLI answers for a whole account are larger than the 1 MiB default.
      bodyLimit: deps.limits.maxImportBodyBytes,
      schema: {
        tags, summary: 'Import a snapshot (EC2 DescribeInstances, GCE instances list, ...) or a {snapshots: [...]} batch', security: ROLE.contributor,
        params: NameParams, querystring: SnapshotQuery, consumes: ['application/json'],
        body: z.string().nullable().describe('the document as JSON text'), response: { 201: SnapshotSummaries.extend({ connector: z.string() }), ...ERROR_RESPONSES },
      },
    }, async (req, reply) => {
      const { name } = req.params;
      await inventory.connector(name);
      const q = req.query;
      const doc = parseSnapshotText(String(req.body ?? ''), 'body');
      let entries: SnapshotEntry[];
      if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'snapshots' in doc) {
        entries = parse(SnapshotBatch, doc, 'body').snapshots.map((e, i) => ({ ...e, source: e.source ?? `body.snapshots.${i}.document` }));
      } else {
        entries = [{ document: doc, kind: q.kind, region: q.region, provider: q.provider, source: 'body' }];
      }
      const summaries = await inventory.importSnapshots(name, entries, 'api');
      return reply.status(201).send({ connector: name, snapshots: summaries });
    });
  });

  app.post('/api/connectors/:name/pull', {
    schema: { tags, summary: "Pull now from the connector's configured source", security: ROLE.contributor, params: NameParams, response: { 201: SnapshotSummaries, ...ERROR_RESPONSES } },
  }, async (req, reply) => {
    const summaries = await inventory.pull(req.params.name);
    return reply.status(201).send({ snapshots: summaries });
  });

  app.post('/api/connectors/:name/findings', {
    schema: {
      tags, summary: 'Raise CSPM findings (alerts) on discovered resources', security: ROLE.contributor, params: NameParams, body: FindingsBodySchema,
      response: { 201: listOf(z.object({ systemAlertId: z.string(), created: z.boolean(), count: z.number().int() })), ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    const connector = await inventory.connector(req.params.name);
    const body = req.body;
    await inventory.idle();
    const machines = await store.machines.listMachines();
    const agents = new Map(await Promise.all(machines.map(async (m) => [m.resourceId, { machine: m, agent: (await store.agents.getAgent(m.agentId))! }] as const)));
    const now = deps.clock.now();
    const results = await store.transaction(async (tx) => {
      const rs = await applyFindings(tx, body, { connector, rules: deps.rules, now, newId: deps.newId, machineOf: (id) => agents.get(id) });
      for (const r of rs) await afterUpsert(tx, r, r.hostname, deps.ingest, deps.newId, now);
      return rs;
    });
    return reply.status(201).send({ value: results.map((r) => ({ systemAlertId: r.alert.systemAlertId, created: r.created, count: r.alert.count })) });
  });

  app.put('/api/machines/:name/tags', {
    schema: {
      tags, summary: "Replace a machine's tags", security: ROLE.contributor, params: NameParams, body: TagsBody,
      response: { 200: z.object({ name: z.string(), tags: TagsBody }), ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const { name } = req.params;
    const m = (await store.machines.listMachines()).find((x) => x.name === name);
    if (!m) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${name}`);
    await inventory.setTags(m.agentId, req.body);
    return { name, tags: req.body };
  });

  async function assetsJson() {
    await inventory.idle();
    const [assets, machines, resources, plans, alerts] = await Promise.all([
      store.inventory.listAssets(), store.machines.listMachines(), store.inventory.listCspmResources({ includeDeleted: true }), store.inventory.listPlans(), store.alerts.listAlerts(),
    ]);
    const byMachine = new Map(machines.map((m) => [m.resourceId, m]));
    const byResource = new Map(resources.map((r) => [r.resourceId, r]));
    const connectors = new Map((await store.inventory.listConnectors()).map((c) => [c.name, c]));
    const open = alerts.filter((a) => a.status === 'Active' || a.status === 'InProgress');
    return Promise.all(assets.map((a) => assetJson(a, byMachine, byResource, connectors, plans, open)));
  }

  async function assetJson(
    a: AssetRow, machines: Map<string, MachineRow>, resources: Map<string, CspmResourceRow>, connectors: Map<string, ConnectorRow>,
    plans: PlanRow[], openAlerts: AlertRow[],
  ) {
    const arc = a.sources.filter((s) => s.kind === 'arc').map((s) => machines.get(s.id)).filter((m): m is MachineRow => !!m);
    const cspm = a.sources.filter((s) => s.kind === 'cspm').map((s) => resources.get(s.id)).filter((r): r is CspmResourceRow => !!r);
    const clouds = new Set<string>();
    for (const m of arc) if (m.facts.cloudMetadata.provider !== 'N/A') clouds.add(m.facts.cloudMetadata.provider);
    for (const r of cspm) clouds.add(connectors.get(r.connector)?.provider ?? '?');
    const ids = new Set(a.sources.map((s) => s.id));
    const subscription = arc[0] ? parseResourceId(arc[0].resourceId)?.subscription : connectors.get(cspm[0]?.connector ?? '')?.subscription;
    const scope = { subscription: subscription ?? '', connectors: [...new Set(cspm.map((r) => r.connector))] };
    const alerts = await Promise.all(openAlerts.filter((x) => ids.has(x.resourceId)).map(async (x) => ({
      systemAlertId: x.systemAlertId, alertType: x.alertType, alertDisplayName: x.properties.alertDisplayName, severity: x.severity,
      status: x.status, count: x.count, resourceId: x.resourceId,
      detectionSources: (await store.alerts.alertSources(x.systemAlertId)).map((d) => ({ kind: d.kind, resourceId: d.resourceId, detail: d.detail, count: d.count })),
    })));
    return {
      id: a.assetId,
      key: a.assetKey,
      name: cspm.find((r) => r.deletedAt === null)?.name ?? arc[0]?.name ?? cspm[0]?.name,
      confidence: a.confidence,
      conflicts: a.conflicts,
      mergeReasons: a.reasons,
      updatedAt: iso(a.updatedAt),
      clouds: [...clouds].sort(),
      sources: [
        ...arc.map((m) => ({
          kind: 'arc', resourceId: m.resourceId, name: m.name, status: m.status,
          providerIds: { provider: m.facts.cloudMetadata.provider, vmUuid: m.facts.vmUuid, ...(m.facts.cloudMetadata.details ?? {}) },
          tags: m.tags ?? {},
        })),
        ...cspm.map((r) => ({
          kind: 'cspm', resourceId: r.resourceId, name: r.name, connector: r.connector, state: r.state, deletedAt: iso(r.deletedAt),
          providerIds: {
            provider: connectors.get(r.connector)?.provider, accountId: connectors.get(r.connector)?.accountId, instanceId: r.nativeId, region: r.region,
            ...(r.data.previousNames ? { previousNames: r.data.previousNames } : {}),
          },
        })),
      ],
      arcStatus: arc[0]?.status ?? null,
      lastStatusChange: arc[0] ? iso(arc[0].lastStatusChange) : null,
      sqlInstances: arc.flatMap((m) => m.sqlInstances.map((s) => ({ machine: m.name, ...s }))),
      plans: PLAN_NAMES.map((p) => {
        const row = effectivePlan(plans, scope, p);
        return row ? { plan: p, displayName: PLANS[p].displayName, subPlan: row.subPlan, scope: `${row.scopeKind}:${row.scope}` } : undefined;
      }).filter(Boolean),
      extensions: arc.flatMap((m) => m.extensions.map((e) => ({ machine: m.name, ...e }))),
      openAlerts: alerts,
    };
  }

  app.get('/api/assets', { schema: { tags, summary: 'Assets: each real machine once, with every source record', security: ROLE.reader, response: { 200: listOf(Asset), ...ERROR_RESPONSES } } },
    async () => ({ value: await assetsJson() }));

  app.get('/api/assets/:id', {
    schema: { tags, summary: 'One asset by id or merge key', security: ROLE.reader, params: z.object({ id: z.string() }), response: { 200: Asset, ...ERROR_RESPONSES } },
  }, async (req) => {
    const { id } = req.params;
    const found = (await assetsJson()).find((a) => a.id === id || a.key === id);
    if (!found) throw protocolError('ARCSIM_E_NOT_FOUND', `no asset ${id}`);
    return found;
  });

  app.get('/api/plans', { schema: { tags, summary: 'Defender plans by scope', security: ROLE.reader, response: { 200: listOf(Open), ...ERROR_RESPONSES } } }, async () => ({
    value: (await store.inventory.listPlans()).map((p) => ({
      scope: p.scopeKind, id: p.scope, plan: p.plan, displayName: PLANS[p.plan as keyof typeof PLANS]?.displayName, subPlan: p.subPlan,
      enabled: p.enabled, updatedAt: iso(p.updatedAt),
    })),
  }));

  app.put('/api/plans', {
    schema: { tags, summary: 'Enable or disable a Defender plan on a subscription or connector', security: ROLE.contributor, body: PlanSetSchema, response: { 200: Open, ...ERROR_RESPONSES } },
  }, async (req) => {
    const body = req.body;
    await inventory.setPlan(body);
    return { ...body, subPlan: body.plan === 'VirtualMachines' ? (body.subPlan ?? 'P2') : null };
  });

  app.get('/api/billing', { schema: { tags, summary: 'Billable resources per plan, with duplicates named', security: ROLE.reader, response: { 200: Open, ...ERROR_RESPONSES } } }, async () => {
    await inventory.idle();
    const [assets, machines, resources, connectors, plans] = await Promise.all([
      store.inventory.listAssets(), store.machines.listMachines(), store.inventory.listCspmResources({ includeDeleted: true }), store.inventory.listConnectors(), store.inventory.listPlans(),
    ]);
    return billingView({ assets, machines, resources, connectors, plans });
  });

  app.get('/api/recommendations', {
    schema: { tags, summary: 'Security recommendations (assessments)', security: ROLE.reader, querystring: RecommendationQuery, response: { 200: listOf(Open), ...ERROR_RESPONSES } },
  }, async (req) => {
    const q = req.query;
    await inventory.idle();
    const rows = (await store.inventory.listAssessments()).filter((r) =>
      (q.status === 'all' || r.status === q.status) && (!q.subscription || r.subscription === q.subscription) &&
      (q.status !== 'Healthy' || !r.details.notApplicable));
    return {
      value: rows.map((r) => {
        const rec = RECOMMENDATION_BY_KEY.get(r.assessmentKey);
        return {
          assessmentKey: r.assessmentKey, displayName: rec?.displayName, severity: rec?.severity, status: r.status,
          resourceId: r.resourceId, subscription: r.subscription, connector: connectorOfResourceId(r.resourceId),
          remediation: rec?.remediation, keySource: rec?.arcsimKey ? 'arcsim' : 'published',
          firstSeen: iso(r.firstSeen), statusChanged: iso(r.statusChanged), details: r.details,
        };
      }),
    };
  });

  app.get('/api/secure-score', {
    schema: {
      tags, summary: 'Secure score per subscription', security: ROLE.reader,
      response: { 200: listOf(z.object({ subscription: z.string(), score: z.number(), current: z.number(), max: z.number(), recommendations: z.number(), unhealthy: z.number() })), ...ERROR_RESPONSES },
    },
  }, async () => {
    await inventory.idle();
    return { value: secureScores(await store.inventory.listAssessments()) };
  });
};

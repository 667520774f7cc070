import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseResourceId, protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AgentSession } from '../gateway/agent-session.ts';
import type { AlertRow, AssetRow, ConnectorRow, CspmResourceRow, MachineRow, Store } from '../store/index.ts';
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
import { parse } from './http.ts';

export interface InventoryRouteDeps {
  store: Store;
  clock: Clock;
  inventory: Inventory;
  rules: RuleSet;
  newId: () => string;
  ingest: IngestOptions;
  requireAdmin(req: FastifyRequest): Promise<void>;
  sessions(): ReadonlyMap<string, AgentSession>;
}

const SnapshotQuery = z.strictObject({ kind: z.enum(SNAPSHOT_KINDS).optional(), region: z.string().optional(), provider: z.string().optional() });
const SnapshotBatch = z.strictObject({ snapshots: z.array(SnapshotEntrySchema).min(1).max(64) });
const ResourceQuery = z.strictObject({ includeDeleted: z.enum(['true', 'false']).default('false') });
const RecommendationQuery = z.strictObject({ status: z.enum(['Unhealthy', 'Healthy', 'all']).default('Unhealthy'), subscription: z.string().optional() });
const TagsBody = z.record(z.string().min(1).max(512), z.string().max(256));
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Inventory API: connectors and their snapshots, findings and pulls; assets; plans; billing;
 * recommendations and secure score. Changes need the admin key; reads are open like the rest.
 */
export function registerInventoryRoutes(app: FastifyInstance, deps: InventoryRouteDeps): void {
  const { store, inventory } = deps;
  const admin = { preHandler: deps.requireAdmin };

  const connectorJson = (c: ConnectorRow) => ({
    name: c.name, provider: c.provider, accountId: c.accountId, subscription: c.subscription, resourceGroup: c.resourceGroup,
    location: c.location, id: `/subscriptions/${c.subscription}/resourcegroups/${c.resourceGroup}/providers/microsoft.security/securityconnectors/${c.name}`,
    definition: c.config, createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt),
  });
  const resourceJson = (r: CspmResourceRow) => ({
    id: r.resourceId, kind: r.kind, nativeId: r.nativeId, name: r.name, region: r.region, state: r.state, connector: r.connector,
    firstSeen: iso(r.firstSeen), lastSeen: iso(r.lastSeen), deletedAt: iso(r.deletedAt), properties: r.data,
  });

  app.get('/api/connectors', async () => ({
    value: (await store.listConnectors()).map(connectorJson),
    scheduledPulls: inventory.scheduledPulls(),
  }));

  app.put('/api/connectors/:name', admin, async (req, reply) => {
    const { name } = req.params as { name: string };
    const existed = !!(await store.getConnector(name));
    const row = await inventory.putConnector(name, req.body);
    return reply.status(existed ? 200 : 201).send(connectorJson(row));
  });

  app.get('/api/connectors/:name', async (req) => {
    const c = await inventory.connector((req.params as { name: string }).name);
    return { ...connectorJson(c), snapshots: (await store.listSnapshotLog(c.name)).map((s) => ({ ...s, takenAt: iso(s.takenAt) })) };
  });

  app.get('/api/connectors/:name/resources', async (req) => {
    const c = await inventory.connector((req.params as { name: string }).name);
    const q = parse(ResourceQuery, req.query, 'query');
    return { value: (await store.listCspmResources({ connector: c.name, includeDeleted: q.includeDeleted === 'true' })).map(resourceJson) };
  });

  // Snapshots are taken as raw text so a truncated document gets ARCSIM_E_SNAPSHOT_JSON, not a generic 400.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.post('/api/connectors/:name/snapshots', admin, async (req, reply) => {
      const { name } = req.params as { name: string };
      await inventory.connector(name);
      const q = parse(SnapshotQuery, req.query, 'query');
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

  app.post('/api/connectors/:name/pull', admin, async (req, reply) => {
    const summaries = await inventory.pull((req.params as { name: string }).name);
    return reply.status(201).send({ snapshots: summaries });
  });

  app.post('/api/connectors/:name/findings', admin, async (req, reply) => {
    const connector = await inventory.connector((req.params as { name: string }).name);
    const body = parse(FindingsBodySchema, req.body, 'body');
    await inventory.idle();
    const machines = await store.listMachines();
    const agents = new Map(await Promise.all(machines.map(async (m) => [m.resourceId, { machine: m, agent: (await store.getAgent(m.agentId))! }] as const)));
    const now = deps.clock.now();
    const results = await store.transaction(async (tx) => {
      const rs = await applyFindings(tx, body, { connector, rules: deps.rules, now, newId: deps.newId, machineOf: (id) => agents.get(id) });
      for (const r of rs) await afterUpsert(tx, r, r.hostname, deps.ingest, deps.newId, now);
      return rs;
    });
    return reply.status(201).send({ value: results.map((r) => ({ systemAlertId: r.alert.systemAlertId, created: r.created, count: r.alert.count })) });
  });

  app.put('/api/machines/:name/tags', admin, async (req) => {
    const { name } = req.params as { name: string };
    const m = (await store.listMachines()).find((x) => x.name === name);
    if (!m) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${name}`);
    const tags = parse(TagsBody, req.body, 'body');
    await inventory.setTags(m.agentId, tags);
    return { name, tags };
  });

  async function assetsJson(): Promise<Array<Record<string, unknown>>> {
    await inventory.idle();
    const [assets, machines, resources, plans, alerts] = await Promise.all([
      store.listAssets(), store.listMachines(), store.listCspmResources({ includeDeleted: true }), store.listPlans(), store.listAlerts(),
    ]);
    const byMachine = new Map(machines.map((m) => [m.resourceId, m]));
    const byResource = new Map(resources.map((r) => [r.resourceId, r]));
    const connectors = new Map((await store.listConnectors()).map((c) => [c.name, c]));
    const open = alerts.filter((a) => a.status === 'Active' || a.status === 'InProgress');
    return Promise.all(assets.map((a) => assetJson(a, byMachine, byResource, connectors, plans, open)));
  }

  async function assetJson(
    a: AssetRow, machines: Map<string, MachineRow>, resources: Map<string, CspmResourceRow>, connectors: Map<string, ConnectorRow>,
    plans: Awaited<ReturnType<Store['listPlans']>>, openAlerts: AlertRow[],
  ): Promise<Record<string, unknown>> {
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
      detectionSources: (await store.alertSources(x.systemAlertId)).map((d) => ({ kind: d.kind, resourceId: d.resourceId, detail: d.detail, count: d.count })),
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

  app.get('/api/assets', async () => ({ value: await assetsJson() }));

  app.get('/api/assets/:id', async (req) => {
    const { id } = req.params as { id: string };
    const found = (await assetsJson()).find((a) => a.id === id || a.key === id);
    if (!found) throw protocolError('ARCSIM_E_NOT_FOUND', `no asset ${id}`);
    return found;
  });

  app.get('/api/plans', async () => ({
    value: (await store.listPlans()).map((p) => ({
      scope: p.scopeKind, id: p.scope, plan: p.plan, displayName: PLANS[p.plan as keyof typeof PLANS]?.displayName, subPlan: p.subPlan,
      enabled: p.enabled, updatedAt: iso(p.updatedAt),
    })),
  }));

  app.put('/api/plans', admin, async (req) => {
    const body = parse(PlanSetSchema, req.body, 'body');
    await inventory.setPlan(body);
    return { ...body, subPlan: body.plan === 'VirtualMachines' ? (body.subPlan ?? 'P2') : null };
  });

  app.get('/api/billing', async () => {
    await inventory.idle();
    const [assets, machines, resources, connectors, plans] = await Promise.all([
      store.listAssets(), store.listMachines(), store.listCspmResources({ includeDeleted: true }), store.listConnectors(), store.listPlans(),
    ]);
    return billingView({ assets, machines, resources, connectors, plans });
  });

  app.get('/api/recommendations', async (req) => {
    const q = parse(RecommendationQuery, req.query, 'query');
    await inventory.idle();
    const rows = (await store.listAssessments()).filter((r) =>
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

  app.get('/api/secure-score', async () => {
    await inventory.idle();
    return { value: secureScores(await store.listAssessments()) };
  });
}

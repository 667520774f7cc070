import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Agent, loadPersona } from '../agent/index.ts';
import type { MachineFacts, SqlInstanceFacts, RunResult } from '../protocol/index.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import type { Logger } from '../lib/logger.ts';
import { controlPlaneApi, createProgress, loadSuiteFile, renderMatrix, runSuite, silentProgress } from '../testruns/index.ts';
import { startControlPlane, untilSignal } from './service.ts';
import { table } from '../lib/text-table.ts';
import { writeReports } from './run.ts';

/** One agent the lab starts on this machine: the real host (no `facts`, no `persona`) or a persona. */
/** Where the lab's agents enroll; the connectors of examples/cspm/ live in the same subscription and resource group. */
export const LAB_SUBSCRIPTION = '00000000-0000-4000-8000-00000000a5c1';
export const LAB_RESOURCE_GROUP = 'arcsim-lab';

export interface LabHost {
  /** State directory name under the lab's data dir. */
  name: string;
  /** A persona file (examples/personas/*.yaml): the real host's facts with the persona's on top. */
  persona?: string;
  /** Facts to register instead of the real host's (tests). */
  facts?: () => Promise<{ machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }>;
}

export interface SuiteLabOptions {
  dataDir: string;
  host: string;
  port: number;
  suiteFile: string;
  hosts: LabHost[];
  /** Runs after the agents registered and before the suite: import CSPM snapshots, enable plans. */
  prepare?: (cp: ControlPlane, out: (text: string) => void) => Promise<void>;
  /** Runs after the suite and the inventory report: further reports (vulnerability management). */
  after?: (cp: ControlPlane, out: (text: string) => void) => Promise<void>;
  keepData?: boolean;
  exit: boolean;
  logger: Logger;
  out: (text: string) => void;
  /** Where the progress bar goes (stderr in the CLI). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  reports?: { junit?: string; report?: string; navigator?: string; json?: string };
}

/**
 * The issue-#7 lab: control plane on SQLite, one agent per `hosts` entry on this machine, an
 * optional `prepare` step (CSPM import, plans), then the suite run in process through the REST
 * API, the matrix and the merged inventory printed. Serves the API until Ctrl-C unless `exit`.
 * Resolves with the suite's exit code (0 only if every expectation held) and the result.
 */
export async function runSuiteLab(o: SuiteLabOptions): Promise<{ code: number; result: RunResult }> {
  const started = Date.now();
  const dataDir = resolve(o.dataDir);
  if (!o.keepData) rmSync(dataDir, { recursive: true, force: true });
  const suite = loadSuiteFile(o.suiteFile); // refused before anything starts
  const personas = new Map(o.hosts.filter((h) => h.persona).map((h) => [h.name, loadPersona(h.persona!)])); // likewise
  const svc = await startControlPlane({ dataDir, host: o.host, port: o.port, logger: o.logger });
  const agents: Agent[] = [];
  try {
    o.out(`arcsim lab: control plane on ${svc.url}, SQLite store ${join(dataDir, 'arcsim.db')}\n`);
    if (svc.adminKey) o.out(`admin API key (shown once): ${svc.adminKey}\n`);
    const token = await svc.cp.createToken({ subscription: LAB_SUBSCRIPTION, resourceGroup: LAB_RESOURCE_GROUP, ttlMs: 3_600_000 });
    const registered: Array<Record<string, string>> = [];
    await Promise.all(o.hosts.map(async (h) => {
      const persona = personas.get(h.name);
      const agent = new Agent({
        controlPlane: svc.url, token: token.token, stateDir: join(dataDir, 'agents', h.name), logger: o.logger, facts: h.facts,
        // A persona that declares its SQL instances replaces whatever discovery finds, so discovery is skipped.
        inventory: persona ? { persona, ...(persona.sqlInstances ? { processes: async () => [], listeners: async () => [] } : {}) } : undefined,
        // The installed software (the real host's packages, or the persona's list) for vulnerability management.
        // No pause between slices: these agents live in the lab's process, not an idle service, and
        // the lab waits for the snapshot (AGENT_DEFAULTS.softwareSlicePauseMs is for the service).
        softwareInventory: h.facts ? undefined : { slicePauseMs: 0 },
      });
      agents.push(agent);
      const reg = agent.waitRegistered();
      await agent.start();
      await withTimeout(reg, 15_000, `agent ${h.name} did not register within 15 s`);
      const m = (await svc.store.machines.getMachine(agent.agentId!))!;
      registered.push({
        agent: h.name, machine: m.name, persona: m.facts.persona ?? '(real host)', os: m.facts.osSku ?? m.facts.osName ?? '',
        cloud: m.facts.cloudMetadata.provider, instance: m.facts.cloudMetadata.details?.instanceId ?? '-',
        sql: m.sqlInstances.map((s) => `${s.instanceName} (${s.engine})`).join(', ') || '-',
      });
    }));
    registered.sort((a, b) => o.hosts.findIndex((h) => h.name === a.agent) - o.hosts.findIndex((h) => h.name === b.agent));
    o.out('\nAgents on this machine (Arc-connected machines)\n' + table(registered, ['agent', 'machine', 'persona', 'os', 'cloud', 'instance', 'sql']) + '\n');
    if (o.prepare) await o.prepare(svc.cp, o.out);

    const api = controlPlaneApi(svc.cp);
    const progress = o.progressStream ? createProgress(o.progressStream, 'suite') : silentProgress;
    o.out(`\nRunning ${suite.name} (${o.suiteFile})\n`);
    const result = await runSuite(suite, { api, progress });
    o.out('\n' + renderMatrix(result));
    if (o.reports) writeReports(result, o.reports);
    await printInventory(svc.cp, o.out, result);
    await printClusters(svc.cp, o.out);
    if (o.after) await o.after(svc.cp, o.out);

    const code = result.ok ? 0 : 1;
    o.out(`\nLab done in ${((Date.now() - started) / 1000).toFixed(1)} s (suite ${(result.durationMs / 1000).toFixed(1)} s): ${result.ok ? 'every cell passed' : 'NOT every cell passed'}; run ${result.runId}.\n`);
    if (!o.exit) {
      o.out(`\nServing the API on ${svc.url} (try ${svc.url}/api/assets, ${svc.url}/api/runs with "Authorization: Bearer <the admin key>", or sign in at ${svc.url}/portal); Ctrl-C to stop.\n`);
      await untilSignal();
    }
    return { code, result };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await svc.stop();
  }
}

/**
 * The merged inventory (`GET /api/assets`): one line per asset with its sources, then, for every
 * asset seen by more than one source, its alerts with the resource ids each one lists.
 */
async function printInventory(cp: ControlPlane, out: (text: string) => void, result: RunResult): Promise<void> {
  const rowOf = new Map(result.cells.filter((c) => c.kind === 'scenario').flatMap((c) => c.detonationIds.map((d) => [d, c.rowId] as const)));
  const r = await cp.adminRequest('GET', '/api/assets');
  if (r.status !== 200) {
    out(`\nInventory: GET /api/assets answered ${r.status}\n`);
    return;
  }
  const assets = r.body.value as Array<Record<string, any>>;
  out('\nInventory (GET /api/assets): assets and their sources\n' + table(assets.map((a) => ({
    asset: a.name, confidence: a.confidence, clouds: a.clouds.join(',') || 'onprem',
    sources: a.sources.map((s: any) => `${s.kind}:${s.name}`).join(' + '),
    arc: a.arcStatus ?? '-', 'open alerts': a.openAlerts.length, conflicts: a.conflicts.map((c: any) => c.kind).join(', ') || '-',
  })), ['asset', 'confidence', 'clouds', 'sources', 'arc', 'open alerts', 'conflicts']) + '\n');

  const alerts = (await cp.adminRequest('GET', '/api/alerts')).body.value as Array<Record<string, any>>;
  for (const a of assets.filter((x) => x.sources.length > 1 && x.sources.some((s: any) => s.kind === 'arc'))) {
    const ids = new Set(a.sources.map((s: any) => s.resourceId.toLowerCase()));
    const mine = alerts.filter((x) => (x.properties.resourceIdentifiers ?? []).some((ri: any) => ids.has(String(ri.azureResourceId).toLowerCase())))
      .sort((x, y) => String(x.properties.alertType).localeCompare(String(y.properties.alertType)));
    const sources = a.sources as Array<{ kind: string; name: string; resourceId: string }>;
    out(`\nAlerts on ${a.name}: one asset, ${sources.length} sources, ${a.confidence} merge (${a.mergeReasons.join('; ') || '-'})\n`);
    sources.forEach((s, i) => out(`  [${i + 1}] ${s.kind.padEnd(4)}  ${s.resourceId}\n`));
    out(table(mine.map((x) => {
      const listed = (x.properties.resourceIdentifiers ?? []).map((ri: any) => String(ri.azureResourceId).toLowerCase()) as string[];
      return {
        alertType: x.properties.alertType, count: x.properties.extendedProperties?.count ?? 1,
        'status per product': ((x.arcsim?.copies ?? []) as Array<{ product: string; status: string }>).map((c) => `${c.product} ${c.status}`).join(', ') || x.properties.status,
        'raised by (suite rows)': [...new Set(((x.arcsim?.detonationIds ?? []) as string[]).map((d) => rowOf.get(d) ?? 'other'))].join(', '),
        resourceIdentifiers: listed.map((id) => { const i = sources.findIndex((s) => s.resourceId.toLowerCase() === id); return i >= 0 ? `[${i + 1}]` : id; }).join(' '),
      };
    }), ['alertType', 'count', 'status per product', 'raised by (suite rows)', 'resourceIdentifiers']) + '\n');
    if (!mine.length) out('  (no alert)\n');
  }
}

/**
 * The Kubernetes clusters (`GET /api/clusters`): each once, its sources (the Arc-enabled cluster its
 * nodes' agents form, the EKS / GKE cluster a connector discovered), and the alerts on the cluster.
 */
async function printClusters(cp: ControlPlane, out: (text: string) => void): Promise<void> {
  const r = await cp.adminRequest('GET', '/api/clusters');
  if (r.status !== 200) {
    out(`\nKubernetes clusters: GET /api/clusters answered ${r.status}\n`);
    return;
  }
  const clusters = r.body.value as Array<Record<string, any>>;
  if (!clusters.length) return;
  const alerts = (await cp.adminRequest('GET', '/api/alerts')).body.value as Array<Record<string, any>>;
  out('\nKubernetes clusters (GET /api/clusters): Arc-enabled clusters merged with the EKS / GKE clusters of the connectors\n' + table(clusters.map((c) => {
    const arc = c.connectedCluster?.properties;
    const ids = new Set((c.sources as Array<{ id: string }>).map((s) => s.id.toLowerCase()));
    const open = alerts.filter((a) => (a.properties.resourceIdentifiers ?? []).some((ri: any) => ids.has(String(ri.azureResourceId).toLowerCase())));
    return {
      cluster: c.name, confidence: c.confidence,
      sources: (c.sources as Array<{ kind: string; type?: string }>).map((s) => s.kind === 'arc' ? 'arc:connectedClusters' : `cspm:${s.type}`).join(' + '),
      nodes: arc?.totalNodeCount ?? '-', connectivity: arc?.connectivityStatus ?? '-', distribution: arc?.distribution ?? '-',
      'open alerts': open.map((a) => a.properties.alertType).sort().join(', ') || '-',
    };
  }), ['cluster', 'confidence', 'sources', 'nodes', 'connectivity', 'distribution', 'open alerts']) + '\n');
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(message)), ms);
    p.then((v) => { clearTimeout(timer); res(v); }, (e) => { clearTimeout(timer); rej(e); });
  });
}

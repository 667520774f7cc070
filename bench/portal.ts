/**
 * Portal page time (issue 15): "with 10,000 alerts and 1,000,000 events stored, every page's
 * server time <= 300 ms". Seeds a fresh SQLite store file (bench/portal-seed.ts; untimed), starts
 * the control plane on loopback with the lab's AWS and GCP connectors, snapshots and plans (REST
 * API, so inventory and recommendations are its own), signs a reader in through the form, then
 * requests every page of the issue several times. Server time is measured inside the server: from
 * its onRequest hook to its onSend hook (the page rendered, before the socket write), sent back
 * as a `Server-Timing: app;dur=` header; the CPU time of the process over the same span beside it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import type { FastifyRequest } from 'fastify';
import { systemClock } from '../lib/clock.ts';
import { createControlPlane, openSqliteStore } from '../control-plane/index.ts';
import { createApiKey } from '../control-plane/auth/api-keys.ts';
import { EXAMPLES_DIR, labScope, seedPortalStore, type SeedResult } from './portal-seed.ts';

/** The bound of issue 15, ms of server time per page request. */
export const PORTAL_PAGE_BOUND_MS = 300;

export interface PortalBenchOptions {
  alerts: number;
  events: number;
  machines: number;
  /** Timed requests per page (after one untimed warm-up request). */
  requests: number;
  dir: string;
  log?: (line: string) => void;
}

export interface PortalPageFigure {
  path: string;
  /** What the path exercises (filter, sort, last page …). */
  what: string;
  p50Ms: number;
  maxMs: number;
  /** CPU time of the control-plane process over the server span, median and max, ms. */
  cpuP50Ms: number;
  cpuMaxMs: number;
  status: number;
  bytes: number;
}

export interface PortalBenchResult {
  pages: PortalPageFigure[];
  machines: number;
  events: number;
  alerts: number;
  incidents: number;
  runs: number;
  assets: number;
  seedSeconds: { events: number; alerts: number; total: number };
  rareAction: SeedResult['rareAction'];
  boundMs: number;
  /** Pages whose max exceeded the bound, or that did not answer 200. */
  failures: string[];
}

const CSPM = [
  { name: 'aws-lab', definition: 'connector-aws-lab.json', snapshots: ['aws-describe-instances.json', 'aws-describe-security-groups.json', 'aws-eks-describe-cluster.json'] },
  { name: 'gcp-lab', definition: 'connector-gcp-lab.json', snapshots: ['gcp-instances.json', 'gcp-firewall-rules.json', 'gcp-container-clusters.json'] },
];

const DAY = 86_400_000;
const localInput = (ms: number) => new Date(ms).toISOString().slice(0, 16);

/** Seeds, serves and measures; see the file comment. */
export async function runPortalBench(o: PortalBenchOptions): Promise<PortalBenchResult> {
  const log = o.log ?? (() => {});
  const store = openSqliteStore({ file: join(o.dir, 'portal.db') });
  const now = Date.now();
  const seedStart = performance.now();
  const seed = await seedPortalStore(store, {
    machines: o.machines, events: o.events, alerts: o.alerts, runs: 60, busiestShare: 0.1, now, spanMs: 30 * DAY, log,
  });

  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false } } });
  // Server time, measured in the server: onRequest to onSend (the page is rendered and serialised).
  const started = new WeakMap<FastifyRequest, { t: number; cpu: NodeJS.CpuUsage }>();
  cp.app.addHook('onRequest', async (req) => { started.set(req, { t: performance.now(), cpu: process.cpuUsage() }); });
  cp.app.addHook('onSend', async (req, reply, payload) => {
    const s = started.get(req);
    if (s) {
      const cpu = process.cpuUsage(s.cpu);
      reply.header('server-timing', `app;dur=${(performance.now() - s.t).toFixed(2)}, cpu;dur=${((cpu.user + cpu.system) / 1000).toFixed(2)}`);
    }
    return payload;
  });
  const url = await cp.listen();
  try {
    await prepareInventory(cp);
    const assets = (await store.inventory.listAssets()).length;
    const seedTotal = (performance.now() - seedStart) / 1000;
    log(`inventory: ${assets} assets, ${(await store.inventory.listAssessments()).length} assessments; seeding took ${seedTotal.toFixed(1)} s in all (untimed)`);

    const { key } = await createApiKey(store, { role: 'reader', name: 'bench-reader' }, 'bench', systemClock);
    const login = await fetch(`${url}/portal/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key }).toString() });
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    if (login.status !== 303 || !cookie) throw new Error(`portal sign-in answered ${login.status}`);

    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`, { headers: { cookie }, redirect: 'manual' });
      const body = await res.text();
      const timing = /app;dur=([\d.]+), cpu;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
      return { status: res.status, body, ms: Number(timing?.[1] ?? NaN), cpuMs: Number(timing?.[2] ?? NaN) };
    };

    const m = encodeURIComponent(seed.busiest.name);
    const machine = `/portal/machines/${m}`;
    const mid = now - 15 * DAY;
    const incident = await busiestIncident(store, seed.incidentIds);
    const older = /href="([^"]*before=[^"]+)"/.exec((await get(machine)).body)?.[1]?.replaceAll('&amp;', '&');
    const lastAlertPage = Math.min(200, Math.ceil(seed.alertIds.length / 50));
    const lastIncidentPage = Math.min(200, Math.ceil(seed.incidentIds.length / 50));
    const hunt = `DeviceProcessEvents | where Timestamp > ago(1d) | where FileName =~ "powershell.exe" | project Timestamp, DeviceName, ProcessCommandLine | take 100`;
    const pages: Array<[string, string]> = [
      ['/portal', 'overview'],
      ['/portal/inventory', 'inventory'],
      ['/portal/inventory?source=AWS', 'inventory: filter by source'],
      ['/portal/inventory?arc=Connected&cloud=On-premises', 'inventory: filter by Arc status and cloud'],
      ['/portal/inventory?confidence=strong', 'inventory: filter by merge confidence'],
      ['/portal/inventory?sort=arcStatus&dir=desc', 'inventory: sort'],
      ['/portal/inventory?q=lab-host-01', 'inventory: search'],
      [`/portal/inventory?page=${Math.max(1, Math.ceil(assets / 50))}`, 'inventory: last page'],
      [machine, 'machine and its timeline (busiest machine)'],
      [`${machine}?table=DeviceProcessEvents`, 'timeline: table filter'],
      [`${machine}?action=${encodeURIComponent(seed.rareAction.actionType)}`, `timeline: rare action type (${seed.rareAction.events} of ${seed.rareAction.ofEvents} events)`],
      [`${machine}?from=${localInput(mid)}&to=${localInput(mid + DAY)}`, 'timeline: one-day time range'],
      ...(older ? [[older, 'timeline: older page (cursor)'] as [string, string]] : []),
      [`${machine}?event=${seed.processEvent}`, 'timeline: process event detail and process tree'],
      ['/portal/alerts', 'alerts'],
      ['/portal/alerts?severity=High', 'alerts: severity'],
      ['/portal/alerts?status=Dismissed', 'alerts: status'],
      ['/portal/alerts?product=M365D', 'alerts: product view'],
      [`/portal/alerts?machine=${m}`, 'alerts: machine'],
      [`/portal/alerts?from=${localInput(mid)}&to=${localInput(mid + DAY)}`, 'alerts: time range'],
      ['/portal/alerts?q=powershell', 'alerts: text'],
      ['/portal/alerts?sort=name&dir=asc', 'alerts: sort by name'],
      ['/portal/alerts?sort=severity', 'alerts: sort by severity'],
      ['/portal/alerts?sort=count', 'alerts: sort by count'],
      [`/portal/alerts?page=${lastAlertPage}`, 'alerts: last page'],
      [`/portal/alerts?sort=name&dir=desc&page=${lastAlertPage}`, 'alerts: sort by name, last page'],
      [`/portal/alerts/${seed.alertIds[Math.floor(seed.alertIds.length / 2)]}`, 'an alert'],
      ['/portal/incidents', 'incidents'],
      ['/portal/incidents?status=Active&severity=High', 'incidents: filters'],
      ['/portal/incidents?sort=lastActivity', 'incidents: sort'],
      [`/portal/incidents?page=${lastIncidentPage}`, 'incidents: last page'],
      [`/portal/incidents/${incident}`, 'an incident (the most alerts)'],
      ['/portal/hunting', 'hunting'],
      [`/portal/hunting?query=${encodeURIComponent(hunt)}`, 'hunting: one query run'],
      ['/portal/recommendations', 'recommendations'],
      ['/portal/recommendations?state=all', 'recommendations: all'],
      ['/portal/runs', 'runs'],
      [`/portal/runs?page=${Math.ceil(seed.runIds.length / 50)}`, 'runs: last page'],
      [`/portal/runs/${seed.runIds.at(-1)}`, 'a run'],
    ];
    const figures: PortalPageFigure[] = [];
    for (const [path, what] of pages) {
      const warm = await get(path); // untimed: compiles the route's code paths and warms SQLite's page cache
      const samples: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < o.requests; i++) {
        const r = await get(path);
        samples.push(r.ms);
        cpu.push(r.cpuMs);
      }
      figures.push({ path, what, p50Ms: round(median(samples)), maxMs: round(Math.max(...samples)), cpuP50Ms: round(median(cpu)), cpuMaxMs: round(Math.max(...cpu)), status: warm.status, bytes: warm.body.length });
    }
    const failures = figures.flatMap((f) => [
      ...(f.status !== 200 ? [`${f.path}: answered ${f.status}`] : []),
      ...(!(f.maxMs <= PORTAL_PAGE_BOUND_MS) ? [`${f.path}: max ${f.maxMs} ms > ${PORTAL_PAGE_BOUND_MS} ms`] : []),
    ]);
    return {
      pages: figures, machines: seed.machines.length, events: o.events, alerts: seed.alertIds.length, incidents: seed.incidentIds.length, runs: seed.runIds.length, assets,
      seedSeconds: { events: round(seed.eventsMs / 1000), alerts: round(seed.alertsMs / 1000), total: round(seedTotal) },
      rareAction: seed.rareAction, boundMs: PORTAL_PAGE_BOUND_MS, failures,
    };
  } finally {
    await cp.close();
    await store.close();
  }
}


/**
 * The lab's CSPM side through the REST API, as `arcsim lab` prepares it: the AWS and GCP
 * connectors with their example snapshots, and Defender plans; then the inventory merge and
 * recommendations recomputed once.
 */
export async function prepareInventory(cp: ReturnType<typeof createControlPlane>): Promise<void> {
  const { subscription } = labScope();
  for (const c of CSPM) {
    await admin(cp, 'PUT', `/api/connectors/${c.name}`, JSON.parse(readFileSync(join(EXAMPLES_DIR, 'cspm', c.definition), 'utf8')));
    await admin(cp, 'POST', `/api/connectors/${c.name}/snapshots`, {
      snapshots: c.snapshots.map((f) => ({ document: JSON.parse(readFileSync(join(EXAMPLES_DIR, 'cspm', f), 'utf8')), source: `examples/cspm/${f}` })),
    });
  }
  for (const p of [
    { scope: 'subscription', id: subscription, plan: 'VirtualMachines', enabled: true, subPlan: 'P2' },
    { scope: 'connector', id: 'aws-lab', plan: 'VirtualMachines', enabled: true, subPlan: 'P2' },
    { scope: 'connector', id: 'gcp-lab', plan: 'VirtualMachines', enabled: true, subPlan: 'P2' },
    { scope: 'subscription', id: subscription, plan: 'SqlServerVirtualMachines', enabled: true },
  ]) await admin(cp, 'PUT', '/api/plans', p);
  await cp.inventory.recompute({ provisionAll: false });
  await cp.inventory.idle();
}

async function admin(cp: ReturnType<typeof createControlPlane>, method: 'PUT' | 'POST', path: string, body: unknown): Promise<void> {
  const r = await cp.adminRequest(method, path, body);
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.body?.code ?? r.status} ${r.body?.message ?? ''}`);
}

async function busiestIncident(store: ReturnType<typeof openSqliteStore>, ids: string[]): Promise<string> {
  let best = ids[0]!;
  let most = -1;
  // Untimed: the incident page of the largest incident is the worst case.
  for (const id of ids) {
    const n = (await store.incidents.incidentAlertIds(id)).length;
    if (n > most) { most = n; best = id; }
  }
  return best;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;

/** The figures as a table, one row per page request path. */
export function formatPortal(r: PortalBenchResult): string {
  const lines = [
    `Portal page time (issue 15): ${r.alerts.toLocaleString('en-US')} alerts in ${r.incidents.toLocaleString('en-US')} incidents, ${r.events.toLocaleString('en-US')} events on ${r.machines} machines, ${r.assets} assets, ${r.runs} runs`,
    `  seeding (untimed): events ${r.seedSeconds.events} s, alerts ${r.seedSeconds.alerts} s, ${r.seedSeconds.total} s in all; server time = onRequest to onSend inside the control plane`,
    `  ${'p50 ms'.padStart(7)} ${'max ms'.padStart(7)} ${'CPU p50'.padStart(7)} ${'CPU max'.padStart(7)}  path (what)`,
  ];
  for (const p of r.pages) lines.push(`  ${p.p50Ms.toFixed(1).padStart(7)} ${p.maxMs.toFixed(1).padStart(7)} ${p.cpuP50Ms.toFixed(1).padStart(7)} ${p.cpuMaxMs.toFixed(1).padStart(7)}  ${p.path.length > 90 ? `${p.path.slice(0, 87)}...` : p.path} (${p.what})${p.status !== 200 ? ` [${p.status}]` : ''}`);
  const worst = r.pages.reduce((a, b) => (b.maxMs > a.maxMs ? b : a), r.pages[0]!);
  lines.push(`  slowest: ${worst.path} max ${worst.maxMs} ms; bound ${r.boundMs} ms per page: ${r.failures.length ? 'NOT met' : 'met'}`);
  lines.push(`  load average (1/5/15 min) after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  return lines.join('\n');
}

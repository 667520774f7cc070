import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import schedule from 'node-schedule';
import { z } from 'zod';
import { parseResourceId } from '../../protocol/resource-ids.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AssessmentRow, AssetRow, ConnectorRow, CspmResourceRow, MachineRow, Store, StoreTx } from '../store/index.ts';
import { instanceMergeKeys, machineMergeKeys } from '../store/merge-keys.ts';
import { mergeAssets } from './asset-merge.ts';
import { silenceBounds, statusAfterSilence, type ArcStatusConfig } from './arc-status.ts';
import { connectorRow, importSnapshots, parseConnectorDefinition, pullArgv, type ConnectorDefinition, type ImportSummary, type SnapshotEntry } from './connectors.ts';
import { protocolError } from '../../protocol/errors.ts';
import { desiredExtensions, governedPlans, MANAGED_EXTENSIONS, reconcileExtensions, type PlanSet } from './plans.ts';
import { ASSESSED_ELSEWHERE, diffAssessments, evaluateRecommendations } from './recommendations.ts';
import { parseSnapshotText } from './snapshot-formats.ts';

const run = promisify(execFile);

/** Inventory settings, one object, units in the names; durations as strings (`30s`, `45d`). */
export const InventoryConfigSchema = z.strictObject({
  /** Missed heartbeats before a machine shows Disconnected (real Arc: 3 × 5 min = 15 min). */
  missedHeartbeats: z.number().int().min(1).default(3),
  /** Silence before a machine shows Expired (real Arc: 45 days). */
  expiredAfter: z.string().default('45d'),
  /** How often the status sweep runs on its timer. */
  sweepInterval: z.string().default('30s'),
  /** How long a set-extension command waits for the agent's result before staying `Creating`. */
  commandTimeout: z.string().default('60s'),
  /** Run connectors' scheduled pulls (node-schedule, wall clock). */
  schedulePulls: z.boolean().default(true),
  /**
   * The only directory a pull's `file` source may read (relative paths resolve under it; `..`,
   * outside absolute paths and symlinks leading out are refused). Unset: file sources are refused.
   * `arcsim control-plane` sets it (default `<data dir>/import`).
   */
  importDir: z.string().min(1).optional(),
  /** PATH searched for `aws` / `gcloud` (default: the process PATH). Tests point it at fakes. */
  cliPath: z.string().min(1).optional(),
  /** Largest output a pull command may print, bytes. */
  maxPullBytes: z.number().int().positive().default(64 * 1024 * 1024),
  /** Longest a pull command may run, ms. */
  pullTimeoutMs: z.number().int().positive().default(120_000),
});
export type InventoryConfig = z.infer<typeof InventoryConfigSchema>;

export interface InventoryDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  status: ArcStatusConfig;
  sweepIntervalMs: number;
  commandTimeoutMs: number;
  config: InventoryConfig;
  agents: ConnectedAgents;
}

/**
 * What the inventory needs of the connected agents, given by the composition root so the
 * inventory does not depend on the gateway: which agents are connected and registered, and a
 * way to tell one of them to turn an extension on or off.
 */
export interface ConnectedAgents {
  /** Agent ids with an open, registered connection. */
  registered(): Iterable<string>;
  isRegistered(agentId: string): boolean;
  /** Resolves with the agent's answer; rejects when it does not answer in `timeoutMs`. */
  setExtension(agentId: string, name: string, enabled: boolean, timeoutMs: number): Promise<{ ok: boolean; message?: string }>;
}

/** The subscription and connectors that scope a machine's plans. */
function scopeOf(m: MachineRow, asset: AssetRow | undefined, resourceConnector: (id: string) => string | undefined): { subscription: string; connectors: string[] } {
  const connectors = (asset?.sources ?? []).filter((s) => s.kind === 'cspm').map((s) => resourceConnector(s.id)).filter((c): c is string => !!c);
  return { subscription: parseResourceId(m.resourceId)?.subscription ?? '', connectors: [...new Set(connectors)] };
}

/**
 * Everything of a machine row that the merge (asset-merge.ts) and the recommendations read: all of
 * it but the times and counters a heartbeat or a reconnect moves. Two rows with the same value
 * give the same merged inventory.
 */
export function mergeInputOf(m: MachineRow): string {
  const { lastHeartbeat: _h, lastStatusChange: _c, registeredAt: _r, notCollected: _n, droppedEvents: _d, ...rest } = m;
  return JSON.stringify([rest.agentId, rest.resourceId, rest.name, rest.status, rest.facts, rest.sqlInstances, rest.extensions, rest.tags ?? {}]);
}

/** The connector name inside an MDC securityentitydata id. */
export function connectorOfResourceId(id: string): string | undefined {
  return /\/securityconnectors\/([^/]+)\//i.exec(id)?.[1];
}

/**
 * The inventory service: connectors and their snapshots (API, CLI, scheduled pull), Arc status
 * sweep, asset merge, plans and extension provisioning, recommendations. Every change to either
 * side of the merge ends in `recompute()`, which is coalesced (one queued run at most) and
 * deterministic.
 */
/** Assessments this inventory evaluates (the vulnerability assessor owns the others). */
const ownAssessment = (r: AssessmentRow) => !ASSESSED_ELSEWHERE.has(r.assessmentKey);

export class Inventory {
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly jobs = new Map<string, schedule.Job>();
  private closed = false;

  constructor(private readonly deps: InventoryDeps) {}

  /** Starts the status sweep timer and the connectors' scheduled pulls. */
  async start(): Promise<void> {
    this.sweepTimer = setInterval(() => {
      this.sweep().catch((err) => this.deps.logger.error('status sweep failed', { error: String(err) }));
    }, this.deps.sweepIntervalMs);
    this.sweepTimer.unref();
    if (this.deps.config.schedulePulls) for (const c of await this.deps.store.inventory.listConnectors()) this.schedule(c);
    await this.recompute();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const j of this.jobs.values()) j.cancel();
    this.jobs.clear();
    await this.chain;
  }

  /** Names and next run times of the scheduled pulls. */
  scheduledPulls(): Array<{ connector: string; next: string | null }> {
    return [...this.jobs].map(([connector, job]) => ({ connector, next: job.nextInvocation()?.toISOString() ?? null }));
  }

  /** Resolves when every recompute asked for so far has finished. */
  idle(): Promise<void> {
    return this.chain;
  }

  /** Recomputes assets and recommendations (coalesced: calls while one is queued share it). */
  recompute(options: { provisionAll?: boolean } = {}): Promise<void> {
    // Plans and connectors may change what every machine should run; a machine's own change only its asset's.
    if (options.provisionAll ?? true) this.provisionAll = true;
    if (this.queued) return this.queued;
    const p = this.chain.then(() => {
      this.queued = null;
      const all = this.provisionAll;
      this.provisionAll = false;
      return this.doRecompute(all);
    });
    this.queued = p;
    this.chain = p.catch((err) => { this.deps.logger.error('inventory recompute failed', { error: String(err) }); });
    return p;
  }

  /**
   * A machine was stored by a registration (`before`: its row until then, if any). When nothing the
   * merge or the recommendations read of it changed (a reconnect of the same host, still
   * Connected), the merged inventory is already right and nothing is recomputed. A new or changed
   * machine re-merges only the items linked to it through merge keys (old and new values), so a
   * registration costs the same with 10 or 10,000 machines stored (see mergeComponents).
   */
  machineRegistered(machine: MachineRow, before: MachineRow | undefined): Promise<void> {
    return this.machinesRegistered([{ machine, before }]);
  }

  /**
   * Machines stored together by a group of registrations (gateway/registration-writer.ts): each as
   * machineRegistered, in order, the incremental merges of the group in one transaction.
   */
  machinesRegistered(registered: Array<{ machine: MachineRow; before: MachineRow | undefined }>): Promise<void> {
    const changed = registered.filter(({ machine, before }) => !(before && mergeInputOf(before) === mergeInputOf(machine)));
    this.registrationsSkipped += registered.length - changed.length;
    if (!changed.length) return Promise.resolve();
    // A full recomputation already waiting reads these machines too.
    if (this.queued) return this.recompute({ provisionAll: false });
    const p = this.chain.then(() => this.mergeComponents(changed));
    this.chain = p.catch((err) => { this.deps.logger.error('inventory merge of a registration failed', { error: String(err) }); });
    return p;
  }

  /** Registrations that needed no recompute (see machineRegistered), for tests and the bench. */
  registrationsSkipped = 0;
  /** Registrations merged incrementally (mergeComponents), for tests and the bench. */
  registrationsMergedIncrementally = 0;
  private provisionAll = false;
  private mergeKeysRebuilt = false;

  /**
   * Re-merges the connected component of each registered machine (a group: one transaction): every item (Arc machine, CSPM
   * instance) sharing a merge key (control-plane/store/merge-keys.ts) with it, before or after the
   * change, transitively, plus every item of the assets those items belonged to. mergeAssets
   * decides about an item only from items sharing such a key with it, so merging the component
   * alone gives the assets a full recomputation gives; only the component's assets are replaced,
   * only its assessments rewritten, only machines whose asset changed re-provisioned.
   */
  private async mergeComponents(registered: Array<{ machine: MachineRow; before: MachineRow | undefined }>): Promise<void> {
    if (this.closed) return;
    const { store, clock } = this.deps;
    const now = clock.now();
    const agents = new Set<string>();
    await store.transaction(async (tx) => {
      await tx.inventory.assetsOfSources([]); // takes the assets lock first, as the full recompute does
      const connectors = await tx.inventory.listConnectors();
      // One after the other: each reads what the ones before it wrote, as separate transactions would.
      for (const { machine, before } of registered) await this.mergeComponentIn(tx, connectors, machine, before, now, agents);
    });
    this.registrationsMergedIncrementally += registered.length;
    for (const agentId of agents) if (this.deps.agents.isRegistered(agentId)) await this.provision(agentId);
  }

  /** mergeComponent's work for one machine inside the group's transaction; adds the agents whose asset changed to `agents`. */
  private async mergeComponentIn(
    tx: StoreTx, connectors: ConnectorRow[], machine: MachineRow, before: MachineRow | undefined, now: number, agents: Set<string>,
  ): Promise<void> {
    const touched = new Set<string>();
    const machines = new Map<string, MachineRow>();
    const instances = new Map<string, CspmResourceRow>();
    const oldAssets = new Map<string, AssetRow>();
    const seenItems = new Set<string>();
    const seenKeys = new Set<string>();
    let keys = [...new Set([...(before ? machineMergeKeys(before) : []), ...machineMergeKeys(machine)])];
    let pending: Array<{ kind: 'arc' | 'cspm'; id: string }> = [{ kind: 'arc', id: machine.resourceId }];
    if (before) pending.push({ kind: 'arc', id: before.resourceId });
    while (keys.length || pending.length) {
      keys.forEach((k) => seenKeys.add(k));
      const found = [...pending, ...(await tx.inventory.mergeItemsWithKeys(keys))].filter((i) => !seenItems.has(`${i.kind}:${i.id}`));
      const items = [...new Map(found.map((i) => [`${i.kind}:${i.id}`, i])).values()];
      items.forEach((i) => seenItems.add(`${i.kind}:${i.id}`));
      const next = new Set<string>();
      for (const m of await tx.machines.machinesByResourceIds(items.filter((i) => i.kind === 'arc').map((i) => i.id))) {
        machines.set(m.agentId, m);
        machineMergeKeys(m).forEach((k) => next.add(k));
      }
      for (const r of await tx.inventory.cspmResourcesByResourceIds(items.filter((i) => i.kind === 'cspm').map((i) => i.id))) {
        instances.set(`${r.connector}/${r.kind}/${r.nativeId}`, r);
        instanceMergeKeys(r).forEach((k) => next.add(k));
      }
      pending = [];
      // An item's previous asset is replaced too, so whatever else it held is re-merged with it.
      for (const a of await tx.inventory.assetsOfSources(items)) {
        if (oldAssets.has(a.assetId)) continue;
        oldAssets.set(a.assetId, a);
        for (const src of a.sources) if (!seenItems.has(`${src.kind}:${src.id}`)) pending.push(src);
      }
      keys = [...next].filter((k) => !seenKeys.has(k));
    }
    const componentMachines = [...machines.values()];
    const componentInstances = [...instances.values()];
    const merged = mergeAssets({ machines: componentMachines, instances: componentInstances, connectors });
    if (this.applyMerge([...oldAssets.values()], merged, now, touched)) {
      await tx.inventory.replaceAssetsOf([...oldAssets.keys()], merged);
    }
    // Assessments of the component's machines (MDE) and instances (Arc onboarding) only.
    const assessments = evaluateRecommendations({ machines: componentMachines, resources: componentInstances, connectors, assets: merged });
    const ids = [...componentMachines.map((m) => m.resourceId), ...componentInstances.map((r) => r.resourceId)];
    for (const row of diffAssessments((await tx.inventory.listAssessmentsFor(ids)).filter(ownAssessment), assessments, now)) await tx.inventory.upsertAssessment(row);
    for (const m of componentMachines) if (touched.has(m.resourceId)) agents.add(m.agentId);
  }

  /**
   * Compares a merge result with the assets it replaces: unchanged assets keep their updatedAt,
   * changed ones take `now` and add their Arc sources (old and new) to `touched`. True when
   * anything changed (the assets must be written).
   */
  private applyMerge(previous: AssetRow[], next: AssetRow[], now: number, touched: Set<string>): boolean {
    const before = new Map(previous.map((a) => [a.assetKey, a]));
    const sig = (a: AssetRow) => JSON.stringify([a.confidence, a.conflicts, a.reasons, [...a.sources].sort((x, y) => x.id.localeCompare(y.id))]);
    const arcSources = (a: AssetRow) => a.sources.filter((x) => x.kind === 'arc').map((x) => x.id);
    let changed = next.length !== previous.length;
    const nextKeys = new Set(next.map((a) => a.assetKey));
    for (const a of previous) if (!nextKeys.has(a.assetKey)) arcSources(a).forEach((id) => touched.add(id));
    for (const a of next) {
      const old = before.get(a.assetKey);
      if (old && sig(old) === sig(a)) a.updatedAt = old.updatedAt;
      else {
        a.updatedAt = now;
        changed = true;
        arcSources(a).forEach((id) => touched.add(id));
        if (old) arcSources(old).forEach((id) => touched.add(id));
        if (a.confidence === 'probable' || a.conflicts.length) {
          this.deps.logger.info('asset merge', { asset: a.assetKey, confidence: a.confidence, conflicts: a.conflicts.map((c) => c.kind), reasons: a.reasons });
        }
      }
    }
    return changed;
  }

  private async doRecompute(provisionAll = true): Promise<void> {
    if (this.closed) return;
    const { store, clock } = this.deps;
    const now = clock.now();
    const touched = new Set<string>();
    await store.transaction(async (tx) => {
      // Sequential: a transaction runs on one connection (pg refuses overlapping queries on it).
      const machines = await tx.machines.listMachines();
      const resources = await tx.inventory.listCspmResources({ includeDeleted: true });
      const connectors = await tx.inventory.listConnectors();
      const previous = await tx.inventory.listAssets();
      if (!this.mergeKeysRebuilt) {
        // Once per start: rebuild the merge keys from the rows (rows stored before migration 010 had none).
        await tx.inventory.replaceMergeKeys([
          ...machines.map((m) => ({ kind: 'arc' as const, id: m.resourceId, keys: machineMergeKeys(m) })),
          ...resources.map((r) => ({ kind: 'cspm' as const, id: r.resourceId, keys: instanceMergeKeys(r) })).filter((i) => i.keys.length),
        ]);
        this.mergeKeysRebuilt = true;
      }
      const next = mergeAssets({ machines, instances: resources, connectors });
      if (this.applyMerge(previous, next, now, touched)) await tx.inventory.replaceAssets(next);
      const assessments = evaluateRecommendations({ machines, resources, connectors, assets: next });
      for (const row of diffAssessments((await tx.inventory.listAssessments()).filter(ownAssessment), assessments, now)) await tx.inventory.upsertAssessment(row);
      if (!provisionAll) {
        // Only machines whose asset changed may need other extensions: map their resource ids to agents.
        const ids = new Set(touched);
        touched.clear();
        for (const m of machines) if (ids.has(m.resourceId)) touched.add(m.agentId);
      }
    });
    // Plans may depend on the merge (connector plans follow the asset): reconcile connected machines.
    for (const agentId of [...this.deps.agents.registered()]) {
      if (provisionAll || touched.has(agentId)) await this.provision(agentId);
    }
  }

  /** One status sweep at the injected clock's now; returns the changes it made. */
  async sweep(): Promise<Array<{ agentId: string; from: string; to: string }>> {
    const now = this.deps.clock.now();
    const changes: Array<{ agentId: string; from: string; to: string }> = [];
    // Only the silent machines are read (10,000 decoded rows every 30 s stalled the event loop);
    // statusAfterSilence still decides each one.
    const { disconnectBefore, expireFrom } = silenceBounds(now, this.deps.status);
    for (const m of await this.deps.store.machines.listSilentMachines(disconnectBefore, expireFrom)) {
      const to = statusAfterSilence(m, now, this.deps.status);
      if (to && (await this.deps.store.machines.setMachineStatus(m.agentId, to, now))) changes.push({ agentId: m.agentId, from: m.status, to });
    }
    if (changes.length) {
      this.deps.logger.info('arc status changes', { changes });
      await this.recompute();
    }
    return changes;
  }

  /** A heartbeat arrived: a Disconnected or Expired machine is Connected again. */
  async heartbeat(agentId: string): Promise<void> {
    if (await this.deps.store.machines.setMachineStatus(agentId, 'Connected', this.deps.clock.now())) {
      await this.recompute();
      await this.provision(agentId, true);
    }
  }

  /** Heartbeats written in a batch turned these machines Connected again: one recompute, then each is provisioned. */
  async connectedAgain(agentIds: string[]): Promise<void> {
    if (agentIds.length === 0) return;
    await this.recompute();
    for (const agentId of agentIds) await this.provision(agentId, true);
  }

  /**
   * Makes the machine's extensions match the plans in force and sends the set-extension
   * commands to its session (no session: nothing is sent; it is reconciled when it connects).
   * With `resend`, operations still in flight are sent again.
   */
  async provision(agentId: string, resend = false): Promise<void> {
    return this.provisionMany([agentId], resend);
  }

  private toProvision = new Set<string>();
  private provisioning: Promise<void> | null = null;

  /**
   * provision(agentId, true) for a machine that just registered; those registered in the same turn
   * of the event loop (a group of the gateway's registration writer) share one transaction.
   */
  provisionRegistered(agentId: string): Promise<void> {
    this.toProvision.add(agentId);
    this.provisioning ??= new Promise<void>((resolve, reject) => setImmediate(() => {
      const ids = [...this.toProvision];
      this.toProvision.clear();
      this.provisioning = null;
      this.provisionMany(ids, true).then(resolve, reject);
    }));
    return this.provisioning;
  }

  /** Each machine as provision() would, in one transaction; the plans are read once for all. */
  private async provisionMany(agentIds: string[], resend: boolean): Promise<void> {
    const ids = agentIds.filter((id) => this.deps.agents.isRegistered(id));
    if (!ids.length || this.closed) return;
    const changes = await this.deps.store.transaction(async (tx) => {
      const plans = await tx.inventory.listPlans(); // sequential: one connection per transaction
      const out: Array<{ agentId: string; change: { name: string; enabled: boolean } }> = [];
      for (const agentId of ids) {
        const m = await tx.machines.getMachine(agentId);
        if (!m || m.status !== 'Connected') continue;
        const asset = await tx.inventory.assetOfSource('arc', m.resourceId);
        const scope = scopeOf(m, asset, connectorOfResourceId);
        const desired = desiredExtensions(m, plans, scope);
        const r = reconcileExtensions(m.extensions, desired, resend, governedPlans(plans, scope));
        if (r.changes.length) await tx.machines.setMachineExtensions(agentId, r.extensions);
        for (const change of r.changes) out.push({ agentId, change });
      }
      return out;
    });
    for (const { agentId, change: c } of changes) {
      this.deps.logger.info('extension', { agentId, name: c.name, enabled: c.enabled });
      this.deps.agents.setExtension(agentId, c.name, c.enabled, this.deps.commandTimeoutMs)
        .then((result) => this.extensionResult(agentId, c.name, c.enabled, result.ok, result.message))
        .catch((err) => this.deps.logger.warn('set-extension not confirmed', { agentId, name: c.name, error: String(err) }));
    }
  }

  private async extensionResult(agentId: string, name: string, enabled: boolean, ok: boolean, message?: string): Promise<void> {
    if (this.closed) return;
    await this.deps.store.transaction(async (tx) => {
      const m = await tx.machines.getMachine(agentId);
      if (!m) return;
      const e = m.extensions.find((x) => x.name === name);
      if (!e) return;
      // A stale answer (the plan flipped again meanwhile) must not undo the newer operation.
      if (enabled ? e.status !== 'Creating' : e.status !== 'Deleting') return;
      const extensions = ok
        ? (enabled ? m.extensions.map((x) => (x.name === name ? { ...x, status: 'Succeeded' as const } : x)) : m.extensions.filter((x) => x.name !== name))
        : m.extensions.map((x) => (x.name === name ? { ...x, status: 'Failed' as const } : x));
      await tx.machines.setMachineExtensions(agentId, extensions);
    });
    if (!ok) this.deps.logger.warn('set-extension failed on the agent', { agentId, name, enabled, message });
    await this.recompute();
  }

  /** Creates or replaces a connector; its scheduled pull is (re)scheduled. */
  async putConnector(name: string, body: unknown): Promise<ConnectorRow> {
    const def = parseConnectorDefinition(name, body);
    const now = this.deps.clock.now();
    const existing = await this.deps.store.inventory.getConnector(name);
    const row = connectorRow(name, def, now, existing?.createdAt);
    this.jobs.get(name)?.cancel();
    this.jobs.delete(name);
    if (def.pull) this.schedule(row, this.deps.config.schedulePulls); // throws on a bad cron before anything is stored
    await this.deps.store.inventory.upsertConnector(row);
    await this.recompute();
    return row;
  }

  async connector(name: string): Promise<ConnectorRow> {
    const c = await this.deps.store.inventory.getConnector(name);
    if (!c) throw protocolError('ARCSIM_E_CONNECTOR_UNKNOWN', name, 'name');
    return c;
  }

  /** Imports cloud documents into a connector, all or nothing. */
  async importSnapshots(name: string, entries: SnapshotEntry[], source: string): Promise<ImportSummary[]> {
    const connector = await this.connector(name);
    const now = this.deps.clock.now();
    const summaries = await this.deps.store.transaction((tx: StoreTx) => importSnapshots(tx, connector, entries, now, source));
    this.deps.logger.info('snapshot imported', { connector: name, source, summaries });
    await this.recompute();
    return summaries;
  }

  /**
   * Runs a connector's pull now: each source's cloud CLI (argv built from validated fields, run
   * without a shell, with a timeout and an output cap) or file (inside the import directory), then
   * one import. Errors name the source, never the content of what was read.
   */
  async pull(name: string): Promise<ImportSummary[]> {
    const connector = await this.connector(name);
    const def = connector.config as unknown as ConnectorDefinition;
    if (!def.pull) throw protocolError('ARCSIM_E_CONNECTOR_CONFIG', `connector ${name} has no pull configured`, 'pull');
    const entries: SnapshotEntry[] = [];
    for (const [i, s] of def.pull.sources.entries()) {
      const path = `pull.sources.${i}`;
      // Definitions stored before cli sources existed may still hold a command: never run it.
      if (!('cli' in s) && !('file' in s)) throw protocolError('ARCSIM_E_CONNECTOR_CONFIG', `${path}: free commands are not run; redefine it with cli (docs/inventory.md)`, `${path}.command`);
      let text: string;
      let where: string;
      if ('cli' in s) {
        const [program, ...args] = pullArgv(s, def);
        where = `${path} (${program} ${args.slice(0, 2).join(' ')})`;
        try {
          text = (await run(program!, args, {
            shell: false, timeout: this.deps.config.pullTimeoutMs, maxBuffer: this.deps.config.maxPullBytes,
            env: { ...process.env, PATH: this.deps.config.cliPath ?? process.env.PATH ?? '' },
          })).stdout;
        } catch (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          const why = e.code === 'ENOENT' ? `${program} not found on PATH`
            : e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' ? `output over ${this.deps.config.maxPullBytes} bytes`
              : e.killed ? `timed out after ${this.deps.config.pullTimeoutMs} ms` : `exit code ${String(e.code)}`;
          throw protocolError('ARCSIM_E_PULL_FAILED', `${where}: ${why}`, path);
        }
      } else {
        where = s.file;
        text = await this.readImportFile(s.file, path);
      }
      entries.push({ document: parseSnapshotText(text, where), kind: s.kind, region: s.region, source: where });
    }
    return this.importSnapshots(name, entries, 'pull');
  }

  /** Reads a file source inside the import directory; refusals name the path, never the content. */
  private async readImportFile(file: string, path: string): Promise<string> {
    const dir = this.deps.config.importDir;
    if (!dir) throw protocolError('ARCSIM_E_IMPORT_PATH', `${path}.file: no import directory configured (importDir)`, `${path}.file`);
    const inside = (root: string, p: string) => {
      const rel = relative(root, p);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
    };
    const root = resolve(dir);
    const target = resolve(root, file);
    if (!inside(root, target)) throw protocolError('ARCSIM_E_IMPORT_PATH', `${path}.file: ${file} is outside the import directory`, `${path}.file`);
    let real: string;
    try {
      // Symlinks are followed, then the real path must still be inside the real import directory.
      real = await realpath(target);
      if (!inside(await realpath(root), real)) throw protocolError('ARCSIM_E_IMPORT_PATH', `${path}.file: ${file} leads outside the import directory`, `${path}.file`);
      return await readFile(real, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('ARCSIM_E_')) throw err;
      throw protocolError('ARCSIM_E_PULL_FAILED', `${path}.file: ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, `${path}.file`);
    }
  }

  /** Schedules the connector's pull; with `keep` false the job is only built to validate the cron. */
  private schedule(c: ConnectorRow, keep = true): void {
    const def = c.config as unknown as ConnectorDefinition;
    if (!def.pull) return;
    this.jobs.get(c.name)?.cancel();
    const job = schedule.scheduleJob(`cspm-pull-${c.name}`, def.pull.schedule, () => {
      this.pull(c.name).catch((err) => this.deps.logger.error('scheduled pull failed', { connector: c.name, error: err.message ?? String(err) }));
    });
    if (!job) throw protocolError('ARCSIM_E_CONNECTOR_CONFIG', `pull.schedule: not a cron expression: ${def.pull.schedule}`, 'body.pull.schedule');
    if (keep) this.jobs.set(c.name, job);
    else job.cancel();
  }

  async setPlan(p: PlanSet): Promise<void> {
    if (p.scope === 'connector') await this.connector(p.id);
    await this.deps.store.inventory.setPlan({
      scopeKind: p.scope, scope: p.id, plan: p.plan, subPlan: p.plan === 'VirtualMachines' ? (p.subPlan ?? 'P2') : null,
      enabled: p.enabled, updatedAt: this.deps.clock.now(),
    });
    await this.recompute();
  }

  /** Sets the ARM tags of an Arc machine (e.g. the ones MDC writes when it onboards a cloud VM). */
  async setTags(agentId: string, tags: Record<string, string>): Promise<void> {
    await this.deps.store.machines.setMachineTags(agentId, tags);
    await this.recompute();
  }
}

export { MANAGED_EXTENSIONS };

import { connectedClusterResourceId, parseResourceId, type SensorEvent } from '../../protocol/index.ts';
import type { AgentRow, AlertRow, EntityKey, MachineRow, StoreTx } from '../store/index.ts';
import { fieldValue, type Occurrence } from '../detection/index.ts';

export interface AlertContext {
  machine: MachineRow;
  agent: AgentRow;
  now: number;
  newId: () => string;
  /** Arrival of the batch that carried the triggering event (performance.now() ms), for latency. */
  arrivedAt?: number;
  /** The asset the machine belongs to: alerts are deduplicated per asset, not per source. */
  assetKey?: string;
  /** Record the alert's source and contributing events (default true; `arcsim detect` keeps only the alert rows). */
  links?: boolean;
}

export interface UpsertResult {
  alert: AlertRow;
  created: boolean;
  /** The dedup key's last occurrence time after this one (upsertAlert's claim). */
  lastTime?: number;
  /**
   * Folded in memory (AlertFolds): `alert` is the row as the key's first occurrence in the
   * transaction wrote it, and the fold is written (its incident refreshed) later in the transaction.
   */
  deferred?: boolean;
}

/**
 * The dedup key: alert type + subject + the rule's dedup fields. The subject is the asset when
 * the machine belongs to one (so the same detection about one real machine, reaching the control
 * plane through its Arc machine or its cloud resource, is one alert), else the machine.
 * Occurrences with one key whose times lie within the rule's window update one alert.
 */
export function dedupKey(occ: Occurrence, machine: MachineRow, assetKey?: string): string {
  const values = occ.mapping.dedup.fields.map((f) => String(fieldValue(occ.trigger, f) ?? ''));
  const cluster = clusterSubject(occ, machine);
  return dedupKeyOf(occ.mapping.alertType, cluster ? cluster.resourceId : assetKey ? `asset:${assetKey}` : machine.resourceId, values);
}

/**
 * The Arc-enabled cluster an alert is about, when it comes from the cluster's audit log
 * (KubernetesAudit) reported by an agent on one of its nodes: Defender for Containers raises K8S_*
 * alerts on the cluster resource, whichever node's sensor saw the event, so its nodes' reports of
 * one event are one alert. Undefined for every other alert (the machine's).
 */
export function clusterSubject(occ: Occurrence, machine: MachineRow): { resourceId: string; name: string } | undefined {
  const k = machine.facts.kubernetes;
  if (!k || (occ.trigger as { Table?: string }).Table !== 'KubernetesAudit') return undefined;
  const ids = parseResourceId(machine.resourceId);
  return ids ? { resourceId: connectedClusterResourceId(ids.subscription, ids.resourceGroup, k.clusterName), name: k.clusterName } : undefined;
}

export function dedupKeyOf(alertType: string, subject: string, values: string[]): string {
  return JSON.stringify([alertType, subject, ...values]);
}

/** Folds an occurrence into its alert (inside the ingest transaction) or creates the alert. */
export async function upsertAlert(tx: StoreTx, occ: Occurrence, ctx: AlertContext): Promise<UpsertResult> {
  const times = occ.events.map((e) => e.time);
  const cluster = clusterSubject(occ, ctx.machine);
  const candidate: AlertRow = {
    systemAlertId: ctx.newId(),
    dedupKey: dedupKey(occ, ctx.machine, ctx.assetKey),
    alertType: occ.mapping.alertType,
    ruleId: occ.ruleId,
    agentId: ctx.machine.agentId,
    resourceId: cluster?.resourceId ?? ctx.machine.resourceId,
    severity: occ.mapping.severity,
    status: 'Active',
    count: 1,
    startTime: Math.min(...times),
    endTime: Math.max(...times),
    timeGenerated: ctx.now,
    updatedAt: ctx.now,
    latencyMs: ctx.arrivedAt === undefined ? null : Math.round((performance.now() - ctx.arrivedAt) * 1000) / 1000,
    properties: {
      alertDisplayName: occ.mapping.alertDisplayName,
      description: occ.mapping.description,
      intent: occ.mapping.intent.join(','),
      detectingProduct: occ.mapping.product,
      ...(occ.mapping.detectionSource ? { detectionSource: occ.mapping.detectionSource } : {}),
      remediationSteps: occ.mapping.remediationSteps,
      ruleTitle: occ.ruleTitle,
      techniques: occ.techniques.filter((t) => !t.includes('.')),
      subTechniques: occ.techniques.filter((t) => t.includes('.')),
      compromisedEntity: cluster?.name ?? ctx.machine.name,
      entities: entitiesOf(occ.trigger, ctx.machine),
      location: { subscription: ctx.agent.subscription, resourceGroup: ctx.agent.resourceGroup, location: ctx.agent.location },
    },
  };
  const result = await tx.alerts.upsertAlert(candidate, occ.mapping.dedup.windowMs);
  if (ctx.links === false) return result;
  await tx.alerts.addAlertSource({
    systemAlertId: result.alert.systemAlertId, kind: 'agent', resourceId: ctx.machine.resourceId, detail: occ.mapping.product,
    firstTime: candidate.startTime, lastTime: candidate.endTime, count: 1,
  });
  await tx.alerts.linkAlertEvents(result.alert.systemAlertId, occ.events.map((e) => ({ reportId: e.reportId, detonationId: e.detonationId })));
  return result;
}

/** An alert with occurrences folded in memory, not yet written (AlertFolds). */
interface OpenFold {
  /** The row as the first occurrence of its key in this transaction wrote it. */
  alert: AlertRow;
  /** The dedup key's last occurrence time, as upsertAlert's claim would leave it. */
  lastTime: number;
  count: number;
  startTime: number;
  endTime: number;
  updatedAt: number;
  /** With links: per source resource, what addAlertSource would have added, and the events to link. */
  sources: Map<string, { detail: string; firstTime: number; lastTime: number; count: number }>;
  events: Array<{ reportId: string; detonationId: string | null }>;
}

/**
 * upsertAlert for many occurrences inside one transaction. The first occurrence of a dedup key
 * goes through upsertAlert (the store's claim decides: new alert or fold into the open one);
 * later ones of the same key are folded in memory by the same rule: within the rule's window of
 * the key's last occurrence time (|end - last| <= window) they add one to the alert's count,
 * widen its first/last time and set updatedAt, and (with `links`) add to its source's count and
 * time span and to its linked events; past the window, the occurrence goes through upsertAlert
 * again (a new alert). Before any occurrence goes through upsertAlert, and at `flush` (call it
 * before the transaction commits), the folds so far are written, each followed by `written`
 * (with the `now` of the last fold: the control plane refreshes the alert's incident there). So
 * everything a new alert's incident correlation reads is as it would be had every occurrence
 * gone through upsertAlert in turn; the rows in the end are the same, and ids are drawn from
 * `newId` as often, so they are the same too.
 */
export class AlertFolds {
  private readonly open = new Map<string, OpenFold>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly tx: StoreTx,
    private readonly links: boolean,
    private readonly written?: (alert: AlertRow, now: number) => Promise<void>,
  ) {}

  /** The occurrence's result; one folded in memory is `deferred`. */
  async add(occ: Occurrence, ctx: AlertContext): Promise<UpsertResult> {
    const key = dedupKey(occ, ctx.machine, ctx.assetKey);
    let start = Infinity;
    let end = -Infinity;
    for (const e of occ.events) {
      if (e.time < start) start = e.time;
      if (e.time > end) end = e.time;
    }
    const o = this.open.get(key);
    if (o && Math.abs(end - o.lastTime) <= occ.mapping.dedup.windowMs) {
      ctx.newId(); // upsertAlert draws an id for every occurrence, folded or not
      o.count++;
      if (start < o.startTime) o.startTime = start;
      if (end > o.endTime) o.endTime = end;
      if (end > o.lastTime) o.lastTime = end;
      o.updatedAt = ctx.now;
      if (this.links) {
        const src = o.sources.get(ctx.machine.resourceId);
        if (src) {
          src.count++;
          if (start < src.firstTime) src.firstTime = start;
          if (end > src.lastTime) src.lastTime = end;
        } else o.sources.set(ctx.machine.resourceId, { detail: occ.mapping.product, firstTime: start, lastTime: end, count: 1 });
        for (const e of occ.events) o.events.push({ reportId: e.reportId, detonationId: e.detonationId });
      }
      this.dirty.add(key);
      return { alert: o.alert, created: false, deferred: true };
    }
    await this.flush();
    const r = await upsertAlert(this.tx, occ, { ...ctx, links: this.links });
    this.open.set(key, {
      alert: r.alert, lastTime: r.lastTime ?? end, count: 0, startTime: start, endTime: end, updatedAt: ctx.now, sources: new Map(), events: [],
    });
    return r;
  }

  /** Writes every fold not yet written. */
  async flush(): Promise<void> {
    for (const key of this.dirty) {
      const o = this.open.get(key)!;
      const id = o.alert.systemAlertId;
      await this.tx.alerts.foldOccurrences({ systemAlertId: id, dedupKey: key, count: o.count, startTime: o.startTime, endTime: o.endTime, updatedAt: o.updatedAt, lastTime: o.lastTime });
      for (const [resourceId, src] of o.sources) {
        await this.tx.alerts.addAlertSource({ systemAlertId: id, kind: 'agent', resourceId, detail: src.detail, firstTime: src.firstTime, lastTime: src.lastTime, count: src.count });
      }
      await this.tx.alerts.linkAlertEvents(id, o.events);
      if (this.written) await this.written(o.alert, o.updatedAt);
      o.count = 0;
      o.sources.clear();
      o.events = [];
    }
    this.dirty.clear();
  }
}

/** MDC-style entities (host, account, ip, process) read from the triggering event. */
export function entitiesOf(e: SensorEvent, machine: MachineRow): Array<Record<string, unknown>> {
  const entities: Array<Record<string, unknown>> = [];
  let n = 1;
  const hostId = String(n++);
  entities.push({
    $id: hostId, type: 'host', hostName: machine.facts.hostname, azureID: machine.resourceId,
    osFamily: machine.facts.osType === 'windows' ? 'Windows' : machine.facts.osType === 'linux' ? 'Linux' : 'Unknown',
  });
  const rec = e as Record<string, unknown>;
  const account = rec.AccountName ?? rec.ServerPrincipalName;
  if (typeof account === 'string' && account) {
    entities.push({ $id: String(n++), type: 'account', name: account, ntDomain: rec.AccountDomain, host: { $ref: hostId } });
  }
  const ip = rec.RemoteIP ?? rec.ClientIP;
  if (typeof ip === 'string' && ip) entities.push({ $id: String(n++), type: 'ip', address: ip });
  if (e.Table === 'DeviceProcessEvents' && e.ProcessCommandLine) {
    entities.push({
      $id: String(n++), type: 'process', processId: e.ProcessId !== undefined ? String(e.ProcessId) : undefined,
      commandLine: e.ProcessCommandLine, host: { $ref: hostId },
      imageFile: { type: 'file', name: e.FileName, directory: e.FolderPath },
    });
  }
  return entities;
}

/**
 * The keys incidents correlate on: the asset, the account (a local account is scoped to its
 * host, so `root` on two machines is two accounts; a domain account is one), the remote IP.
 */
export function correlationKeys(alert: AlertRow, hostname: string): EntityKey[] {
  const keys: EntityKey[] = [{ kind: 'asset', value: alert.resourceId }];
  for (const e of (alert.properties.entities ?? []) as Array<Record<string, any>>) {
    if (e.type === 'account' && e.name) {
      const domain = typeof e.ntDomain === 'string' && e.ntDomain && !/^(nt authority|\.|builtin)$/i.test(e.ntDomain) ? e.ntDomain : hostname;
      keys.push({ kind: 'account', value: `${String(domain).toLowerCase()}\\${String(e.name).toLowerCase()}` });
    }
    if (e.type === 'ip' && e.address) keys.push({ kind: 'ip', value: String(e.address) });
  }
  return keys;
}

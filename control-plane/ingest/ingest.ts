import { isServerOs, type SensorEvent } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AgentRow, MachineRow, RuleGroup, Store, StoreTx } from '../store/index.ts';
import { HitWindows, osFamilyOf, type DetectionEngine, type Occurrence, type OsFamily } from '../detection/index.ts';
import { AlertFolds, correlationKeys, type AlertContext, type UpsertResult } from '../alerts/alert-deduper.ts';
import { copiesFor } from '../products/alert-copies.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import { correlateAlert, IncidentRefreshes, refreshIncident } from '../incidents/incident-correlator.ts';
import { breachedHostLink } from '../incidents/breached-host.ts';
import { FILE_PROFILE } from '../detection/file-profile.ts';
import type { PreparedBatch } from './batch-decode.ts';

/** A batch's events: decoded here, or decoded and matched by the ingest worker (PreparedBatch). */
export type BatchEvents = SensorEvent[] | PreparedBatch;

/** One batch of a group commit: its agent and machine, its events, when it arrived (performance.now() ms). */
export interface QueuedGroupBatch {
  agent: AgentRow;
  machine: MachineRow;
  events: BatchEvents;
  arrivedAt?: number;
}

/** Events in a batch. */
export function batchSize(events: BatchEvents): number {
  return Array.isArray(events) ? events.length : events.count;
}

export interface IngestResult {
  /** Events stored by this batch (redelivered ones are not counted). */
  stored: number;
  /** The same, by MDE table (for the metrics). */
  storedByTable: Record<string, number>;
  /** One per occurrence; one folded in memory (`deferred`) carries its alert as the transaction first wrote it. */
  alerts: UpsertResult[];
}

/** A new event of a batch, matched: `event` is undefined for a worker-decoded event no rule matched (not rebuilt). */
interface Fresh {
  event: SensorEvent | undefined;
  table: string;
  /** Event time, epoch ms. */
  time: number;
  matched: ReturnType<DetectionEngine['match']>;
}

export interface IngestOptions {
  sync: SyncConfig;
  /** How far apart (alert time) related alerts may be and still form one incident, ms. */
  incidentWindowMs: number;
  /**
   * Keep only the alert rows (created or folded by the same dedup): no product copies, entity
   * index, incidents, alert sources or alert-event links. For `arcsim detect`, whose result is
   * the alert rows of a throwaway store (IngestResult.alerts is then empty).
   */
  alertsOnly?: boolean;
}

/**
 * The ingest pipeline for one batch: persist events (deduplicated by agent and ReportId), evaluate the
 * new ones, fold the resulting occurrences into alerts, give new alerts their product copies
 * and their incident — all in one transaction. The caller acks only after this resolves, so an
 * ack always means "committed".
 */
export class Ingest {
  constructor(
    private readonly store: Store,
    private readonly engine: DetectionEngine,
    private readonly clock: Clock,
    private readonly newId: () => string,
    private readonly options: IngestOptions,
  ) {}

  /** `arrivedAt` is when the batch arrived (performance.now() ms), for the alert latency figure. */
  async ingestBatch(agent: AgentRow, machine: MachineRow, events: SensorEvent[], arrivedAt?: number): Promise<IngestResult> {
    return (await this.ingestGroup([{ agent, machine, events, arrivedAt }]))[0]!;
  }

  /**
   * Several agents' batches in one transaction (the gateway's group commit, IngestQueue), each
   * exactly as ingestBatch would take it, in this order; one result per batch. With `more`, the
   * same transaction then takes each further group `more` resolves with, until one is empty (the
   * batches that arrived while it ran, IngestQueue): results in the order taken, all committed
   * together.
   */
  ingestGroup(batches: ReadonlyArray<QueuedGroupBatch>, more?: () => Promise<ReadonlyArray<QueuedGroupBatch>>): Promise<IngestResult[]> {
    return this.store.transaction(async (tx) => {
      const out = await this.ingestAll(tx, batches);
      if (more) for (let next = await more(); next.length > 0; next = await more()) out.push(...await this.ingestAll(tx, next));
      return out;
    });
  }

  /**
   * Several batches (of several agents) in one transaction, each exactly as ingestBatch would take
   * it: for replaying a recording (`arcsim detect`), where no ack waits on each batch's commit.
   */
  ingestBatches(batches: ReadonlyArray<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[]; simulatedOs?: OsFamily }>): Promise<IngestResult[]> {
    return this.store.transaction((tx) => this.ingestAll(tx, batches));
  }

  /**
   * The batches in one transaction, each as if alone and in this order. Issue 16: first every
   * batch's events are stored and matched against the rules (in order), then the correlation
   * windows all of them touch are read at once (HitWindows.load: on PostgreSQL their locks in
   * one statement, sorted), then each event is evaluated in order against the windows as they
   * stand at that event, and the windows' changes are written back in one go before commit.
   * `simulatedOs`: the OS family every event of a batch stands for, when the caller knows it (a
   * simulated host, e.g. an Atomic test played on a Windows host by `arcsim coverage`).
   */
  private async ingestAll(tx: StoreTx, batches: ReadonlyArray<{ agent: AgentRow; machine: MachineRow; events: BatchEvents; arrivedAt?: number; simulatedOs?: OsFamily }>): Promise<IngestResult[]> {
    const stored: Array<{ now: number; fresh: Fresh[]; assetKey: string | undefined }> = [];
    const windows = new HitWindows(tx);
    const keys: RuleGroup[] = [];
    for (const { agent, machine, events, simulatedOs } of batches) {
      const now = this.clock.now();
      let fresh: Fresh[];
      if (Array.isArray(events)) {
        const inserted = await tx.events.insertEvents(agent.agentId, events, now);
        // Rules for another OS family than the device's are not run on its events. The machine's OS
        // (its facts) is the OS of its own telemetry; a scenario playback (DetonationId) is simulated
        // telemetry of the scenario's platform, whatever host plays it (a Linux lab host plays Windows
        // attacks), so its OS is unknown and every rule runs, unless the caller says (simulatedOs).
        const hostOs = osFamilyOf(machine.facts.osType);
        fresh = inserted.map((event) => ({
          event, table: event.Table, time: Date.parse(event.Timestamp), matched: this.engine.match(event, simulatedOs ?? (event.DetonationId ? undefined : hostOs)),
        }));
      } else {
        fresh = this.preparedFresh(events, await tx.events.insertEventRows(agent.agentId, events.rows, now));
      }
      const assetKey = fresh.length ? await tx.inventory.assetKeyOfSource('arc', machine.resourceId) : undefined;
      for (const f of fresh) if (f.event && f.matched.length) keys.push(...this.engine.windowsOf(f.event, f.matched));
      stored.push({ now, fresh, assetKey });
    }
    await windows.load(keys);
    const refreshes = new IncidentRefreshes(tx);
    const folds = this.folds(tx, refreshes);
    const out: IngestResult[] = [];
    for (const [i, { agent, machine, arrivedAt }] of batches.entries()) {
      const { now, fresh, assetKey } = stored[i]!;
      const alerts: UpsertResult[] = [];
      for (const { event, time, matched } of fresh) {
        const evaluated = this.engine.evaluateMatched(tx, event, time, matched, windows);
        const occurrences = Array.isArray(evaluated) ? evaluated : await evaluated;
        for (const occ of occurrences) {
          // A window closed by this event (lt/lte/eq rules) may belong to another machine.
          const own = occ.trigger.DeviceId === agent.agentId;
          const host = own ? { agent, machine, assetKey } : await machineOf(tx, occ.trigger.DeviceId);
          if (!host) continue;
          await this.upsert(tx, folds, refreshes, occ, { machine: host.machine, agent: host.agent, now, newId: this.newId, arrivedAt, assetKey: host.assetKey }, alerts);
        }
      }
      const storedByTable: Record<string, number> = {};
      for (const { table } of fresh) storedByTable[table] = (storedByTable[table] ?? 0) + 1;
      out.push({ stored: fresh.length, storedByTable, alerts });
    }
    await windows.flush();
    await folds.flush();
    await refreshes.flush();
    return out;
  }

  /**
   * The new events of a batch the ingest worker decoded and matched (decode-worker.ts), from the
   * indexes of its rows the store had not seen: only those that matched a rule are rebuilt as
   * objects (from their JSON, with the file profile their rules read), the stateful part of
   * detection needs no more of the others than their time (the watermark).
   */
  private preparedFresh(batch: PreparedBatch, indexes: number[]): Fresh[] {
    const { rows, matches } = batch;
    const out: Fresh[] = [];
    let m = 0;
    for (const i of indexes) {
      while (m < matches.length && matches[m]!.i < i) m++;
      const match = m < matches.length && matches[m]!.i === i ? matches[m]! : undefined;
      if (!match) {
        out.push({ event: undefined, table: rows.tables[i]!, time: rows.times[i]!, matched: [] });
        continue;
      }
      const event = JSON.parse(rows.data[i]!) as SensorEvent;
      if (match.profile) (event as unknown as Record<symbol, unknown>)[FILE_PROFILE] = match.profile;
      // Both threads compiled the same rule text, so every id is known here.
      out.push({ event, table: rows.tables[i]!, time: rows.times[i]!, matched: match.rules.flatMap((id) => this.engine.detection(id) ?? []) });
    }
    return out;
  }

  /** Decides every still-open window (end of a recorded stream); returns the alerts raised. */
  closeAll(): Promise<UpsertResult[]> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const alerts: UpsertResult[] = [];
      const refreshes = new IncidentRefreshes(tx);
      const folds = this.folds(tx, refreshes);
      for (const occ of await this.engine.closeAll(tx)) {
        const host = await machineOf(tx, occ.trigger.DeviceId);
        if (!host) continue;
        await this.upsert(tx, folds, refreshes, occ, { machine: host.machine, agent: host.agent, now, newId: this.newId, assetKey: host.assetKey }, alerts);
      }
      await folds.flush();
      await refreshes.flush();
      return alerts;
    });
  }

  /**
   * One transaction's alert upserts: occurrences of one dedup key fold in memory (AlertFolds);
   * a folded alert's incident is noted for its refresh before the commit (IncidentRefreshes).
   */
  private folds(tx: StoreTx, refreshes: IncidentRefreshes): AlertFolds {
    if (this.options.alertsOnly) return new AlertFolds(tx, false);
    return new AlertFolds(tx, true, (alert, now) => refreshes.folded(alert.systemAlertId, now));
  }

  private async upsert(tx: StoreTx, folds: AlertFolds, refreshes: IncidentRefreshes, occ: Occurrence, ctx: AlertContext, alerts: UpsertResult[]): Promise<void> {
    const result = await folds.add(occ, ctx);
    if (this.options.alertsOnly) return;
    alerts.push(result);
    // An occurrence the store upserted (not folded in memory): its copies and incident, or its incident's refresh.
    if (!result.deferred) await afterUpsert(tx, result, ctx.machine.facts.hostname, this.options, this.newId, ctx.now, isServerOs(ctx.machine.facts), refreshes);
  }
}

async function machineOf(tx: StoreTx, agentId: string): Promise<{ agent: AgentRow; machine: MachineRow; assetKey: string | undefined } | undefined> {
  // Sequential: a transaction runs on one connection.
  const agent = await tx.agents.getAgent(agentId);
  const machine = await tx.machines.getMachine(agentId);
  if (!agent || !machine) return undefined;
  return { agent, machine, assetKey: await tx.inventory.assetKeyOfSource('arc', machine.resourceId) };
}

/**
 * A new alert gets its product copies, entities and incident; a folded one refreshes its incident
 * (with `refreshes`: noted, written before the commit).
 * `serverOs`: the machine runs a server OS, so an MDE alert also reaches MDC.
 */
export async function afterUpsert(
  tx: StoreTx, result: UpsertResult, hostname: string, options: IngestOptions, newId: () => string, now: number, serverOs = true,
  refreshes?: IncidentRefreshes,
): Promise<void> {
  if (result.created) {
    const copies = copiesFor(result.alert, options.sync, newId, now, serverOs);
    await tx.alerts.insertAlertCopies(copies);
    const keys = correlationKeys(result.alert, hostname);
    // A Defender for SQL alert from a breached computer names the mining / C&C alert and joins its incident.
    const link = await breachedHostLink(tx, result.alert, options.incidentWindowMs);
    if (link) {
      const patch = { description: link.description, relatedAlertId: link.related.systemAlertId, relatedAlertType: link.related.alertType };
      await tx.alerts.mergeAlertProperties(result.alert.systemAlertId, patch, now);
      Object.assign(result.alert.properties, patch);
      keys.push(link.key);
    }
    await tx.alerts.addAlertEntities(result.alert.systemAlertId, keys, result.alert.startTime);
    if (copies.some((c) => c.product === 'M365D')) {
      await refreshes?.beforeCorrelation();
      await correlateAlert(tx, result.alert, keys, { windowMs: options.incidentWindowMs, newId, now });
    }
  } else if (refreshes) {
    await refreshes.folded(result.alert.systemAlertId, now);
  } else {
    const incident = await tx.incidents.incidentOfAlert(result.alert.systemAlertId);
    if (incident) await refreshIncident(tx, incident, now);
  }
}

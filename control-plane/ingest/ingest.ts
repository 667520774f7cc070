import { isServerOs, type SensorEvent } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AgentRow, MachineRow, RuleGroup, Store, StoreTx } from '../store/index.ts';
import { HitWindows, osFamilyOf, type DetectionEngine, type Occurrence, type OsFamily } from '../detection/index.ts';
import { AlertFolds, correlationKeys, type AlertContext, type UpsertResult } from '../alerts/alert-deduper.ts';
import { copiesFor } from '../products/alert-copies.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import { correlateAlert, refreshIncident } from '../incidents/incident-correlator.ts';
import { breachedHostLink } from '../incidents/breached-host.ts';

export interface IngestResult {
  /** Events stored by this batch (redelivered ones are not counted). */
  stored: number;
  /** The same, by MDE table (for the metrics). */
  storedByTable: Record<string, number>;
  /** One per occurrence; one folded in memory (`deferred`) carries its alert as the transaction first wrote it. */
  alerts: UpsertResult[];
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
   * exactly as ingestBatch would take it, in this order; one result per batch.
   */
  ingestGroup(batches: ReadonlyArray<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[]; arrivedAt?: number }>): Promise<IngestResult[]> {
    return this.store.transaction((tx) => this.ingestAll(tx, batches));
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
  private async ingestAll(tx: StoreTx, batches: ReadonlyArray<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[]; arrivedAt?: number; simulatedOs?: OsFamily }>): Promise<IngestResult[]> {
    const stored: Array<{ now: number; fresh: SensorEvent[]; assetKey: string | undefined; matched: Array<ReturnType<DetectionEngine['match']>> }> = [];
    const windows = new HitWindows(tx);
    const keys: RuleGroup[] = [];
    for (const { agent, machine, events, simulatedOs } of batches) {
      const now = this.clock.now();
      const fresh = await tx.events.insertEvents(agent.agentId, events, now);
      const assetKey = fresh.length ? (await tx.inventory.assetOfSource('arc', machine.resourceId))?.assetKey : undefined;
      // Rules for another OS family than the device's are not run on its events. The machine's OS
      // (its facts) is the OS of its own telemetry; a scenario playback (DetonationId) is simulated
      // telemetry of the scenario's platform, whatever host plays it (a Linux lab host plays Windows
      // attacks), so its OS is unknown and every rule runs, unless the caller says (simulatedOs).
      const hostOs = osFamilyOf(machine.facts.osType);
      const matched = fresh.map((event) => this.engine.match(event, simulatedOs ?? (event.DetonationId ? undefined : hostOs)));
      fresh.forEach((event, j) => keys.push(...this.engine.windowsOf(event, matched[j]!)));
      stored.push({ now, fresh, assetKey, matched });
    }
    await windows.load(keys);
    const folds = this.folds(tx);
    const out: IngestResult[] = [];
    for (const [i, { agent, machine, arrivedAt }] of batches.entries()) {
      const { now, fresh, assetKey, matched } = stored[i]!;
      const alerts: UpsertResult[] = [];
      for (const [j, event] of fresh.entries()) {
        const evaluated = this.engine.evaluateMatched(tx, event, Date.parse(event.Timestamp), matched[j]!, windows);
        const occurrences = Array.isArray(evaluated) ? evaluated : await evaluated;
        for (const occ of occurrences) {
          // A window closed by this event (lt/lte/eq rules) may belong to another machine.
          const own = occ.trigger.DeviceId === agent.agentId;
          const host = own ? { agent, machine, assetKey } : await machineOf(tx, occ.trigger.DeviceId);
          if (!host) continue;
          await this.upsert(tx, folds, occ, { machine: host.machine, agent: host.agent, now, newId: this.newId, arrivedAt, assetKey: host.assetKey }, alerts);
        }
      }
      const storedByTable: Record<string, number> = {};
      for (const e of fresh) storedByTable[e.Table] = (storedByTable[e.Table] ?? 0) + 1;
      out.push({ stored: fresh.length, storedByTable, alerts });
    }
    await windows.flush();
    await folds.flush();
    return out;
  }

  /** Decides every still-open window (end of a recorded stream); returns the alerts raised. */
  closeAll(): Promise<UpsertResult[]> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const alerts: UpsertResult[] = [];
      const folds = this.folds(tx);
      for (const occ of await this.engine.closeAll(tx)) {
        const host = await machineOf(tx, occ.trigger.DeviceId);
        if (!host) continue;
        await this.upsert(tx, folds, occ, { machine: host.machine, agent: host.agent, now, newId: this.newId, assetKey: host.assetKey }, alerts);
      }
      await folds.flush();
      return alerts;
    });
  }

  /**
   * One transaction's alert upserts: occurrences of one dedup key fold in memory (AlertFolds);
   * a folded alert's incident is refreshed once when its folds are written.
   */
  private folds(tx: StoreTx): AlertFolds {
    if (this.options.alertsOnly) return new AlertFolds(tx, false);
    return new AlertFolds(tx, true, async (alert, now) => {
      const incident = await tx.incidents.incidentOfAlert(alert.systemAlertId);
      if (incident) await refreshIncident(tx, incident, now);
    });
  }

  private async upsert(tx: StoreTx, folds: AlertFolds, occ: Occurrence, ctx: AlertContext, alerts: UpsertResult[]): Promise<void> {
    const result = await folds.add(occ, ctx);
    if (this.options.alertsOnly) return;
    alerts.push(result);
    // An occurrence the store upserted (not folded in memory): its copies and incident, or its incident's refresh.
    if (!result.deferred) await afterUpsert(tx, result, ctx.machine.facts.hostname, this.options, this.newId, ctx.now, isServerOs(ctx.machine.facts));
  }
}

async function machineOf(tx: StoreTx, agentId: string): Promise<{ agent: AgentRow; machine: MachineRow; assetKey: string | undefined } | undefined> {
  // Sequential: a transaction runs on one connection.
  const agent = await tx.agents.getAgent(agentId);
  const machine = await tx.machines.getMachine(agentId);
  if (!agent || !machine) return undefined;
  return { agent, machine, assetKey: (await tx.inventory.assetOfSource('arc', machine.resourceId))?.assetKey };
}

/**
 * A new alert gets its product copies, entities and incident; a folded one refreshes its incident.
 * `serverOs`: the machine runs a server OS, so an MDE alert also reaches MDC.
 */
export async function afterUpsert(
  tx: StoreTx, result: UpsertResult, hostname: string, options: IngestOptions, newId: () => string, now: number, serverOs = true,
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
      await correlateAlert(tx, result.alert, keys, { windowMs: options.incidentWindowMs, newId, now });
    }
  } else {
    const incident = await tx.incidents.incidentOfAlert(result.alert.systemAlertId);
    if (incident) await refreshIncident(tx, incident, now);
  }
}

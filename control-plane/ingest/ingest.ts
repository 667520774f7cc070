import type { SensorEvent } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AgentRow, MachineRow, Store } from '../store/index.ts';
import type { DetectionEngine } from '../detection/index.ts';
import { upsertAlert, type UpsertResult } from '../alerts/alert-deduper.ts';

export interface IngestResult {
  /** Events stored by this batch (redelivered ones are not counted). */
  stored: number;
  alerts: UpsertResult[];
}

/**
 * The ingest pipeline for one batch: persist events (deduplicated by ReportId), evaluate the
 * new ones, fold the resulting occurrences into alerts, all in one transaction. The caller
 * acks only after this resolves, so an ack always means "committed".
 */
export class Ingest {
  constructor(
    private readonly store: Store,
    private readonly engine: DetectionEngine,
    private readonly clock: Clock,
    private readonly newId: () => string,
  ) {}

  ingestBatch(agent: AgentRow, machine: MachineRow, events: SensorEvent[]): Promise<IngestResult> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const fresh = await tx.insertEvents(agent.agentId, events, now);
      const alerts: UpsertResult[] = [];
      for (const event of fresh) {
        for (const occ of await this.engine.evaluate(tx, event)) {
          alerts.push(await upsertAlert(tx, occ, { machine, agent, now, newId: this.newId }));
        }
      }
      return { stored: fresh.length, alerts };
    });
  }
}

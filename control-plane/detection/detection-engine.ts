import type { SensorEvent } from '../../protocol/index.ts';
import type { StoreTx } from '../store/index.ts';
import { resolveField } from './field-mapping.ts';
import type { AlertMapping, CorrelationRule, DetectionRule, RuleSet } from './rule-loader.ts';

/** One firing of a rule: the alert it maps to and the events that caused it. */
export interface Occurrence {
  ruleId: string;
  ruleTitle: string;
  techniques: string[];
  tactics: string[];
  mapping: AlertMapping;
  /** The event that completed the detection; entities and dedup fields are read from it. */
  trigger: SensorEvent;
  /** Every contributing event (the trigger included). */
  events: Array<{ reportId: string; detonationId: string | null; time: number }>;
}

export interface DetectionOptions {
  /** How late (event time) an event may arrive and still count in correlation windows, ms. */
  latenessMs: number;
}

/** Reads a rule field (Sigma name or column) from an event. */
export function fieldValue(event: SensorEvent, field: string): unknown {
  const column = resolveField(event.Table, field);
  return column === undefined ? undefined : (event as Record<string, unknown>)[column];
}

/**
 * Streaming evaluation: each newly stored event is run through the detection rules of its
 * table as it is ingested. Correlation windows are kept in the store (rule_hits) inside the
 * ingest transaction, so they survive restarts and are driven by event time, not arrival.
 */
export class DetectionEngine {
  /** Newest event time seen per correlation rule, to prune hits that no window can reach. */
  private readonly newest = new Map<string, number>();

  constructor(readonly rules: RuleSet, private readonly options: DetectionOptions) {}

  async evaluate(tx: StoreTx, event: SensorEvent): Promise<Occurrence[]> {
    const out: Occurrence[] = [];
    const time = Date.parse(event.Timestamp);
    for (const rule of this.rules.byTable.get(event.Table) ?? []) {
      if (!rule.match(event as Record<string, unknown>)) continue;
      if (rule.mapping) out.push(single(rule, rule.mapping, event, time));
      for (const corr of this.rules.correlationsOf.get(rule.id) ?? []) {
        const occ = await this.correlate(tx, corr, event, time);
        if (occ) out.push(occ);
      }
    }
    return out;
  }

  private async correlate(tx: StoreTx, corr: CorrelationRule, event: SensorEvent, time: number): Promise<Occurrence | undefined> {
    const groupKey = JSON.stringify(corr.groupBy.map((f) => fieldValue(event, f) ?? null));
    const value = corr.valueField === undefined ? null : String(fieldValue(event, corr.valueField) ?? '');
    await tx.addRuleHit({ ruleId: corr.id, groupKey, eventTime: time, reportId: event.ReportId, detonationId: event.DetonationId ?? null, value });

    const newest = Math.max(this.newest.get(corr.id) ?? time, time);
    this.newest.set(corr.id, newest);
    await tx.pruneRuleHits(corr.id, newest - corr.timespanMs - this.options.latenessMs);

    const hits = await tx.ruleHits(corr.id, groupKey, time - corr.timespanMs, time + corr.timespanMs);
    // Slide a window of `timespan` over the hits (sorted by event time) and fire on the first
    // window that meets the condition. Fired hits are consumed so the next window starts fresh.
    let end = 0;
    for (let start = 0; start < hits.length; start++) {
      if (end < start) end = start;
      while (end + 1 < hits.length && hits[end + 1]!.eventTime - hits[start]!.eventTime <= corr.timespanMs) end++;
      const window = hits.slice(start, end + 1);
      if (!window.some((h) => h.reportId === event.ReportId)) continue;
      const measure = corr.type === 'event_count' ? window.length : new Set(window.map((h) => h.value)).size;
      if (corr.op === 'gt' ? measure > corr.threshold : measure >= corr.threshold) {
        await tx.deleteRuleHits(corr.id, groupKey, window.map((h) => h.reportId));
        return {
          ruleId: corr.id, ruleTitle: corr.title, techniques: corr.techniques, tactics: corr.tactics, mapping: corr.mapping,
          trigger: event,
          events: window.map((h) => ({ reportId: h.reportId, detonationId: h.detonationId, time: h.eventTime })),
        };
      }
    }
    return undefined;
  }
}

function single(rule: DetectionRule, mapping: AlertMapping, event: SensorEvent, time: number): Occurrence {
  return {
    ruleId: rule.id, ruleTitle: rule.title, techniques: rule.techniques, tactics: rule.tactics, mapping, trigger: event,
    events: [{ reportId: event.ReportId, detonationId: event.DetonationId ?? null, time }],
  };
}

import type { SensorEvent } from '../../protocol/index.ts';
import type { RuleGroup, RuleHit, StoreTx } from '../store/index.ts';
import { HitWindows, type Window } from './hit-windows.ts';
import { resolveField } from './field-mapping.ts';
import { FileProfiles } from './file-profile.ts';
import type { AlertMapping, CorrelationRule, DetectionRule, RuleSet } from './rule-loader.ts';
import { RuleIndex, type OsFamily } from './rule-index.ts';

type EventRef = { reportId: string; detonationId: string | null; time: number };

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
  events: EventRef[];
}

export interface DetectionOptions {
  /** How late (event time) an event may arrive and still count in correlation windows, ms. */
  latenessMs: number;
}

/** Reads a rule field (Sigma name or column) from an event. */
export function fieldValue(event: SensorEvent, field: string): unknown {
  const get = resolveField(event.Table, field);
  return get === undefined ? undefined : get(event as Record<string, unknown>);
}

/**
 * What feeds a correlation: one matching event, or the firing of a correlation it refers to
 * (temporal chains). A firing carries its group's values, keyed by its group-by names.
 */
type Input =
  | { kind: 'event'; ruleId: string; event: SensorEvent; time: number }
  | { kind: 'firing'; ruleId: string; event: SensorEvent; time: number; group: Record<string, unknown>; events: EventRef[] };

/** What a correlation that fired hands on: its events, its group's values, its time (the latest event's). */
type Fired = { events: EventRef[]; group: Record<string, unknown>; time: number };

/** A temporal hit's payload in rule_hits.value: which referenced rule it stands for and its events. */
interface TemporalPayload {
  i: number;
  events: EventRef[];
}

/**
 * Streaming evaluation: each newly stored event is run through the detection rules of its
 * table as it is ingested. Correlation windows are kept in the store (rule_hits) inside the
 * ingest transaction, so they survive restarts and are driven by event time, not arrival.
 * Within a transaction they are read, changed and written back through a HitWindows: once per
 * group commit when the caller passes one (Ingest: `match` every event, `windowsOf` all of them
 * into HitWindows.load, `evaluateMatched` each in order, then HitWindows.flush), else once per
 * evaluated event.
 */
export class DetectionEngine {
  /** Newest event time seen at all: windows that ended (plus the lateness) before it are closed. */
  private watermark = Number.NEGATIVE_INFINITY;
  /** Correlations decided only when a window closes (lt, lte, eq). */
  private readonly closing: CorrelationRule[];
  /** Rules by table, OS family and necessary literal: only those that can match are evaluated. */
  private readonly index: RuleIndex<DetectionRule>;
  /** File profiles by SHA1, kept only when a rule reads one (file-profile.ts). */
  readonly profiles: FileProfiles | undefined;
  private readonly byId: Map<string, DetectionRule>;

  constructor(readonly rules: RuleSet, private readonly options: DetectionOptions) {
    this.closing = rules.correlations.filter((c) => c.op === 'lt' || c.op === 'lte' || c.op === 'eq');
    this.index = new RuleIndex(rules.byTable);
    this.profiles = rules.profileTables.size > 0 ? new FileProfiles() : undefined;
    this.byId = new Map(rules.detections.map((r) => [r.id, r]));
  }

  /**
   * The occurrences `event` raises. `os` is the OS family of the device that recorded it (rules
   * for another family are skipped; undefined: unknown, every rule runs). Synchronous (a plain
   * array) when the event feeds no correlation and closes no window, so single-event rules never
   * wait on the store; a promise otherwise.
   */
  evaluate(tx: StoreTx, event: SensorEvent, os?: OsFamily): Occurrence[] | Promise<Occurrence[]> {
    return this.evaluateMatched(tx, event, Date.parse(event.Timestamp), this.match(event, os));
  }

  /**
   * The stateless part of `evaluate`: the detection rules whose selection `event` matches (the
   * file profile its rules read attached first). Call it for every event in the order they are
   * evaluated (file profiles follow the stream); it reads no store and no window.
   */
  match(event: SensorEvent, os?: OsFamily): DetectionRule[] {
    if (this.profiles) {
      // What the row says about files first, then the profile its rules read (file-profile.ts):
      // before the index reads the event's fields through the rules' getters.
      this.profiles.observe(event);
      if (this.rules.profileTables.has(event.Table)) this.profiles.attach(event);
    }
    return this.index.matching(event, os);
  }

  /** A detection rule by id (for matches made elsewhere, e.g. by the ingest worker, by rule id). */
  detection(id: string): DetectionRule | undefined {
    return this.byId.get(id);
  }

  /**
   * The correlation windows a matched event will read: each correlation its rules feed, and the
   * ones a firing of those would feed (chains), for HitWindows.load. Windows of lt/lte/eq rules
   * closed by the watermark are not known ahead and are read when they close.
   */
  windowsOf(event: SensorEvent, matched: DetectionRule[]): RuleGroup[] {
    const out: RuleGroup[] = [];
    // A window's key does not depend on the time (0 here).
    for (const rule of matched) if (this.rules.correlationsOf.has(rule.id)) this.chainWindows(out, { kind: 'event', ruleId: rule.id, event, time: 0 }, 0);
    return out;
  }

  /** windowsOf's walk: the windows `input` feeds, then those their firings would feed (a method, not a closure made per event). */
  private chainWindows(out: RuleGroup[], input: Input, depth: number): void {
    if (depth > this.rules.correlations.length) return;
    for (const corr of this.rules.correlationsOf.get(input.ruleId) ?? []) {
      const group = this.groupOf(corr, input);
      out.push({ ruleId: corr.id, groupKey: groupKeyOf(corr, group) });
      if (this.rules.correlationsOf.has(corr.id)) this.chainWindows(out, { kind: 'firing', ruleId: corr.id, event: input.event, time: 0, group, events: [] }, depth + 1);
    }
  }

  /**
   * The stateful part of `evaluate`, in event order, for `event` (at event time `time`, ms) whose
   * matched rules are `matched`: the watermark, single-event occurrences, correlation windows.
   * With `windows` (the transaction's correlation state, loaded ahead by the caller, who flushes
   * it before commit) nothing is written here; without, the event's windows are read and written
   * back by this call. `event` may be omitted when nothing matched (the ingest worker's batches
   * rebuild only matched events): the event then only moves the watermark and may close windows.
   */
  evaluateMatched(tx: StoreTx, event: SensorEvent | undefined, time: number, matched: DetectionRule[], windows?: HitWindows): Occurrence[] | Promise<Occurrence[]> {
    const advanced = time > this.watermark;
    if (advanced) this.watermark = time;
    const correlated = matched.some((r) => this.rules.correlationsOf.has(r.id));
    if (!correlated && !(advanced && this.closing.length)) {
      const out: Occurrence[] = [];
      for (const rule of matched) if (rule.mapping) out.push(single(rule, rule.mapping, event!, time));
      return out;
    }
    if (windows) return this.evaluateWithState(tx, windows, event!, time, advanced, matched);
    const own = new HitWindows(tx);
    return Promise.resolve(this.evaluateWithState(tx, own, event!, time, advanced, matched)).then(async (out) => {
      await own.flush();
      return out;
    });
  }

  /**
   * Issue 16: synchronous (a plain array) when every window it touches is loaded (the caller's
   * HitWindows.load read them ahead) and no lt/lte/eq window is to close; a promise only when a
   * step must read the store. Either way the same steps in the same order.
   */
  private evaluateWithState(tx: StoreTx, w: HitWindows, event: SensorEvent, time: number, advanced: boolean, matched: DetectionRule[]): Occurrence[] | Promise<Occurrence[]> {
    const out: Occurrence[] = [];
    if (advanced && this.closing.length) {
      return (async () => {
        for (const corr of this.closing) await this.closeWindows(tx, w, corr, out);
        await this.feedRules(w, event, time, matched, out, 0);
        return out;
      })();
    }
    const pending = this.feedRules(w, event, time, matched, out, 0);
    return pending ? pending.then(() => out) : out;
  }

  /** The event's matched rules from `from` on: single-event occurrences, and each correlation they feed. */
  private feedRules(w: HitWindows, event: SensorEvent, time: number, matched: DetectionRule[], out: Occurrence[], from: number): Promise<void> | undefined {
    for (let i = from; i < matched.length; i++) {
      const rule = matched[i]!;
      if (rule.mapping) out.push(single(rule, rule.mapping, event, time));
      if (!this.rules.correlationsOf.has(rule.id)) continue;
      const pending = this.feed(w, { kind: 'event', ruleId: rule.id, event, time }, out);
      if (pending) return pending.then(() => this.feedRules(w, event, time, matched, out, i + 1));
    }
    return undefined;
  }

  /** Passes a match (or a correlation's firing) to every correlation that refers to its rule; a promise only when a step read the store. */
  private feed(w: HitWindows, input: Input, out: Occurrence[]): Promise<void> | undefined {
    const correlations = this.rules.correlationsOf.get(input.ruleId);
    return correlations ? this.feedFrom(w, input, out, correlations, 0) : undefined;
  }

  private feedFrom(w: HitWindows, input: Input, out: Occurrence[], correlations: CorrelationRule[], from: number): Promise<void> | undefined {
    for (let i = from; i < correlations.length; i++) {
      const corr = correlations[i]!;
      const result = corr.type === 'temporal' || corr.type === 'temporal_ordered' ? this.temporal(w, corr, input) : this.count(w, corr, input);
      // Closures only on the path that awaits (each costs an allocation per event otherwise).
      if (result instanceof Promise) return result.then((fired) => this.fired(w, corr, input, fired, out)).then(() => this.feedFrom(w, input, out, correlations, i + 1));
      const pending = this.fired(w, corr, input, result, out);
      if (pending) return pending.then(() => this.feedFrom(w, input, out, correlations, i + 1));
    }
    return undefined;
  }

  /** A correlation that fired: its occurrence (if it raises one), then whatever its firing feeds. */
  private fired(w: HitWindows, corr: CorrelationRule, input: Input, fired: Fired | undefined, out: Occurrence[]): Promise<void> | undefined {
    if (!fired) return undefined;
    if (corr.mapping) {
      out.push({
        ruleId: corr.id, ruleTitle: corr.title, techniques: corr.techniques, tactics: corr.tactics, mapping: corr.mapping,
        trigger: input.event, events: fired.events,
      });
    }
    return this.feed(w, { kind: 'firing', ruleId: corr.id, event: input.event, time: fired.time, group: fired.group, events: fired.events }, out);
  }

  /** The input's values for `corr`'s group-by fields (through Sigma aliases), by group-by name. */
  private groupOf(corr: CorrelationRule, input: Input): Record<string, unknown> {
    const group: Record<string, unknown> = {};
    for (const g of corr.groupBy) {
      const field = corr.aliases[g]?.[input.ruleId] ?? g;
      group[g] = (input.kind === 'event' ? fieldValue(input.event, field) : input.group[field]) ?? null;
    }
    return group;
  }

  /**
   * Drops a group's hits that no window can reach any more: an event at `time` can only be joined
   * by events no later than `time - lateness` (the lateness bound), whose windows start at most
   * `timespan` earlier. Per group, from the event itself: agents far apart in event time (one
   * flushing a spool after an outage, a skewed clock) never prune each other's windows.
   */
  private pruneBefore(corr: CorrelationRule, time: number): number {
    return time - corr.timespanMs - this.options.latenessMs;
  }

  /** event_count / value_count over one detection rule's matches (synchronous when its window is loaded). */
  private count(w: HitWindows, corr: CorrelationRule, input: Input): Fired | undefined | Promise<Fired | undefined> {
    const group = this.groupOf(corr, input);
    const groupKey = groupKeyOf(corr, group);
    // Loaded ahead by the caller (HitWindows.load) in the common case: nothing to await then.
    const opened = w.open(corr.id, groupKey);
    return opened instanceof Promise ? opened.then((win) => this.countIn(win, corr, input, group, groupKey)) : this.countIn(opened, corr, input, group, groupKey);
  }

  private countIn(win: Window, corr: CorrelationRule, input: Input, group: Record<string, unknown>, groupKey: string): Fired | undefined {
    const { event, time } = input;
    const value = corr.valueField === undefined ? null : String(fieldValue(event, corr.valueField) ?? '');
    win.add({ ruleId: corr.id, groupKey, eventTime: time, reportId: event.ReportId, detonationId: event.DetonationId ?? null, value });
    win.prune(this.pruneBefore(corr, time));

    const hits = win.range(time - corr.timespanMs, time + corr.timespanMs);
    // Slide a window of `timespan` over the hits (sorted by event time) and fire on the first
    // window that meets the condition. Fired hits are consumed so the next window starts fresh.
    // Only windows holding this event's hit count, so its index is looked up once.
    let self = -1;
    for (let i = 0; i < hits.length; i++) {
      if (hits[i]!.reportId === event.ReportId) {
        self = i;
        break;
      }
    }
    if (self < 0) return undefined;
    let end = 0;
    for (let start = 0; start <= self; start++) {
      if (end < start) end = start;
      while (end + 1 < hits.length && hits[end + 1]!.eventTime - hits[start]!.eventTime <= corr.timespanMs) end++;
      if (end < self) continue;
      if (corr.op !== 'gt' && corr.op !== 'gte') return undefined; // decided when the window closes
      let measure = end - start + 1;
      if (corr.type !== 'event_count') {
        const values = new Set<string | null>();
        for (let i = start; i <= end; i++) values.add(hits[i]!.value);
        measure = values.size;
      }
      if (corr.op === 'gt' ? measure > corr.threshold : measure >= corr.threshold) {
        const window = hits.slice(start, end + 1);
        win.remove(window.map((h) => h.reportId));
        const events = window.map((h) => ({ reportId: h.reportId, detonationId: h.detonationId, time: h.eventTime }));
        return { events, group, time: Math.max(...events.map((e) => e.time)) };
      }
    }
    return undefined;
  }

  /**
   * lt / lte / eq: a group's window opens at its earliest hit and is decided once the watermark
   * has passed its end plus the lateness (no event that could still belong to it is expected).
   * Its hits are consumed either way; a firing takes the window's last event as its trigger.
   */
  /** Decides every open lt/lte/eq window now (the end of a recorded stream). */
  async closeAll(tx: StoreTx): Promise<Occurrence[]> {
    const out: Occurrence[] = [];
    const w = new HitWindows(tx);
    for (const corr of this.closing) await this.closeWindows(tx, w, corr, out, Number.POSITIVE_INFINITY);
    await w.flush();
    return out;
  }

  private async closeWindows(tx: StoreTx, w: HitWindows, corr: CorrelationRule, out: Occurrence[], before = this.watermark - corr.timespanMs - this.options.latenessMs): Promise<void> {
    for (const { groupKey, first } of await w.groupStarts(corr.id, before)) {
      const window = await w.range(corr.id, groupKey, first, first + corr.timespanMs);
      await w.remove(corr.id, groupKey, window.map((h) => h.reportId));
      const measure = corr.type === 'event_count' ? window.length : new Set(window.map((h) => h.value)).size;
      const holds = corr.op === 'lt' ? measure < corr.threshold : corr.op === 'lte' ? measure <= corr.threshold : measure === corr.threshold;
      if (!holds || window.length === 0) continue;
      const [trigger] = await tx.events.getEvents([window[window.length - 1]!.reportId]);
      if (!trigger) continue;
      const events = window.map((h) => ({ reportId: h.reportId, detonationId: h.detonationId, time: h.eventTime }));
      if (corr.mapping) {
        out.push({ ruleId: corr.id, ruleTitle: corr.title, techniques: corr.techniques, tactics: corr.tactics, mapping: corr.mapping, trigger, events });
      }
      const group = Object.fromEntries(corr.groupBy.map((g, i) => [g, (JSON.parse(groupKey) as unknown[])[i]]));
      await this.feed(w, { kind: 'firing', ruleId: corr.id, event: trigger, time: Math.max(...events.map((e) => e.time)), group, events }, out);
    }
  }

  /**
   * temporal / temporal_ordered: fires when every referenced rule matched for one group within
   * `timespan` (in the listed order, for temporal_ordered). Each match is one rule_hits row whose
   * key is `<rule index>:<ReportId of the completing event>` and whose value holds the rule index
   * and the contributing events, so a chained correlation's evidence survives a restart.
   */
  private temporal(w: HitWindows, corr: CorrelationRule, input: Input): Fired | undefined | Promise<Fired | undefined> {
    const group = this.groupOf(corr, input);
    const groupKey = groupKeyOf(corr, group);
    const opened = w.open(corr.id, groupKey);
    return opened instanceof Promise ? opened.then((win) => this.temporalIn(win, corr, input, group, groupKey)) : this.temporalIn(opened, corr, input, group, groupKey);
  }

  private temporalIn(win: Window, corr: CorrelationRule, input: Input, group: Record<string, unknown>, groupKey: string): Fired | undefined {
    const index = corr.rules.indexOf(input.ruleId);
    const events: EventRef[] = input.kind === 'event'
      ? [{ reportId: input.event.ReportId, detonationId: input.event.DetonationId ?? null, time: input.time }]
      : input.events;
    const key = `${index}:${input.event.ReportId}`;
    const payload: TemporalPayload = { i: index, events };
    win.add({ ruleId: corr.id, groupKey, eventTime: input.time, reportId: key, detonationId: input.event.DetonationId ?? null, value: JSON.stringify(payload) });
    win.prune(this.pruneBefore(corr, input.time));

    // The rule index is the key's prefix; a hit's events (its JSON value) are read only if chosen.
    const hits = win.range(input.time - corr.timespanMs, input.time + corr.timespanMs).map(temporalHit);
    const self = hits.find((h) => h.hit.reportId === key);
    if (!self) return undefined; // already consumed (a redelivery cannot reach here, but be safe)
    const n = corr.rules.length;
    // Try each window [start, start + timespan] that contains this hit.
    for (const first of hits) {
      const lo = first.hit.eventTime;
      if (lo > input.time || input.time - lo > corr.timespanMs) continue;
      const inWindow = hits.filter((h) => h.hit.eventTime >= lo && h.hit.eventTime <= lo + corr.timespanMs);
      const chosen = corr.type === 'temporal' ? pickAny(inWindow, self, n) : pickOrdered(inWindow, self, n);
      if (!chosen) continue;
      win.remove(chosen.map((c) => c.hit.reportId));
      const all = chosen.flatMap((c) => (JSON.parse(c.hit.value ?? '{}') as TemporalPayload).events);
      return { events: all, group, time: Math.max(...chosen.map((c) => c.hit.eventTime)) };
    }
    return undefined;
  }
}

type TemporalHit = { hit: RuleHit; i: number };

/**
 * A temporal window's hit with its rule index, read from its key (`<rule index>:<ReportId>`, as
 * temporalIn writes it); from its JSON value only for a key of another shape.
 */
function temporalHit(hit: RuleHit): TemporalHit {
  const colon = hit.reportId.indexOf(':');
  const i = colon > 0 ? Number(hit.reportId.slice(0, colon)) : Number.NaN;
  return { hit, i: Number.isInteger(i) ? i : (JSON.parse(hit.value ?? '{}') as TemporalPayload).i };
}

/** One hit per referenced rule, `self` for its own rule (the earliest of each other rule). */
function pickAny(window: TemporalHit[], self: TemporalHit, n: number): TemporalHit[] | undefined {
  const out: TemporalHit[] = [];
  for (let i = 0; i < n; i++) {
    const h = i === self.i ? self : window.find((w) => w.i === i);
    if (!h) return undefined;
    out.push(h);
  }
  return out;
}

/** Hits for rules 0..n-1 in non-decreasing event time, with `self` in its own place. */
function pickOrdered(window: TemporalHit[], self: TemporalHit, n: number): TemporalHit[] | undefined {
  const out: TemporalHit[] = [];
  // Before self: the latest possible chain ending at or before self's time, built backwards.
  let bound = self.hit.eventTime;
  for (let i = self.i - 1; i >= 0; i--) {
    const h = [...window].reverse().find((w) => w.i === i && w.hit.eventTime <= bound && w !== self);
    if (!h) return undefined;
    out.unshift(h);
    bound = h.hit.eventTime;
  }
  out.push(self);
  bound = self.hit.eventTime;
  for (let i = self.i + 1; i < n; i++) {
    const h = window.find((w) => w.i === i && w.hit.eventTime >= bound && w !== self);
    if (!h) return undefined;
    out.push(h);
    bound = h.hit.eventTime;
  }
  return out;
}

/**
 * A group's key in rule_hits: `JSON.stringify` of its group-by values in the rule's order (the
 * keys the store holds were written so). Built by hand when every value is null or a string JSON
 * writes as it is (the common case: a DeviceId, an address, an account name), else by JSON.
 */
export function groupKeyOf(corr: CorrelationRule, group: Record<string, unknown>): string {
  const by = corr.groupBy;
  let key = '[';
  for (let i = 0; i < by.length; i++) {
    const v = group[by[i]!];
    if (i > 0) key += ',';
    if (v === null) key += 'null';
    else if (typeof v === 'string' && isPlainJsonString(v)) key += `"${v}"`;
    else return JSON.stringify(by.map((g) => group[g]));
  }
  return `${key}]`;
}

/** True when JSON.stringify writes `s` as `"s"`: no quote, backslash, control character or surrogate (lone ones are escaped). */
function isPlainJsonString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

function single(rule: DetectionRule, mapping: AlertMapping, event: SensorEvent, time: number): Occurrence {
  return {
    ruleId: rule.id, ruleTitle: rule.title, techniques: rule.techniques, tactics: rule.tactics, mapping, trigger: event,
    events: [{ reportId: event.ReportId, detonationId: event.DetonationId ?? null, time }],
  };
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { storeFault } from '../health/store-health.ts';

/**
 * Histogram buckets, seconds. Acks: a batch is acked after its transaction commits (1 ms to a
 * few seconds under load); detection: arrival of the batch to the alert's upsert (the issue's
 * target is p99 ≤ 50 ms, so the buckets are fine around it).
 */
export const METRIC_BUCKETS = {
  ackSeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  detectionSeconds: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 5],
} as const;

/** What the scrape reads at collection time (not counted on the hot path). */
export interface MetricsSources {
  connectedAgents(): number;
  /** Each configured sink's backlog; may reject (a store fault), which the scrape reports as a database error. */
  sinks?(): Promise<ReadonlyArray<{ name: string; type: string; pending: number; lagMs: number; state: string }>>;
}

export interface MetricsOptions {
  /**
   * Label the per-event counters and the spool gauges with the agent id (default true). A fleet
   * of thousands of agents makes one series per agent and table: turn it off there and the
   * counters keep only the table label.
   */
  agentLabels?: boolean;
}

/**
 * The control plane's Prometheus metrics (prom-client, one registry per control plane so several
 * in one process never mix). Counters move where the work happens (the agent session, the store
 * health, the ingest result); gauges for connected agents and sinks are read at scrape time.
 * Names follow Prometheus conventions: `arcsim_` prefix, `_total` counters, base units (seconds).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly perAgent: boolean;
  private readonly received: Counter<'table' | 'agent'>;
  private readonly stored: Counter<'table' | 'agent'>;
  private readonly rejected: Counter<'table' | 'agent' | 'code'>;
  private readonly ack: Histogram<never>;
  private readonly detection: Histogram<never>;
  private readonly alertsRaised: Counter<'alert_type'>;
  private readonly alertsFolded: Counter<'alert_type'>;
  private readonly spoolDepth: Gauge<'agent'>;
  private readonly spoolDropped: Gauge<'agent'>;
  private readonly dbErrors: Counter<'cause'>;
  private readonly decodedOn: Counter<'thread'>;

  constructor(sources: MetricsSources, options: MetricsOptions = {}) {
    this.perAgent = options.agentLabels ?? true;
    const registers = [this.registry];
    const agentLabel = this.perAgent ? ['agent'] as const : [] as const;
    collectDefaultMetrics({ register: this.registry, prefix: 'arcsim_' });
    this.received = new Counter({ name: 'arcsim_events_received_total', help: 'Events received in events frames that passed decoding, by MDE table and agent', labelNames: ['table', ...agentLabel], registers });
    this.stored = new Counter({ name: 'arcsim_events_stored_total', help: 'Events stored (new ReportIds; redeliveries are not counted), by MDE table and agent', labelNames: ['table', ...agentLabel], registers });
    this.rejected = new Counter({ name: 'arcsim_events_rejected_total', help: 'Events of refused events frames (the ARCSIM_E_* code of the refusal), by table ("unknown" when the frame did not decode) and agent', labelNames: ['table', 'code', ...agentLabel], registers });
    this.ack = new Histogram({ name: 'arcsim_batch_ack_seconds', help: 'Time from an events frame arriving to its ack (after the commit)', buckets: [...METRIC_BUCKETS.ackSeconds], registers });
    this.detection = new Histogram({ name: 'arcsim_detection_latency_seconds', help: 'Time from an events frame arriving to the commit (and ack) of the batch, once per alert occurrence it raised: event received to alert readable', buckets: [...METRIC_BUCKETS.detectionSeconds], registers });
    this.alertsRaised = new Counter({ name: 'arcsim_alerts_raised_total', help: 'New alerts created, by alert type', labelNames: ['alert_type'], registers });
    this.alertsFolded = new Counter({ name: 'arcsim_alerts_folded_total', help: 'Occurrences folded into an existing alert by deduplication, by alert type', labelNames: ['alert_type'], registers });
    this.spoolDepth = new Gauge({ name: 'arcsim_agent_spool_events', help: "Events waiting in an agent's spool, as its last heartbeat said", labelNames: [...agentLabel], registers });
    this.spoolDropped = new Gauge({ name: 'arcsim_agent_spool_dropped_events', help: "Events an agent's full spool dropped since the spool was created, as its last heartbeat said", labelNames: [...agentLabel], registers });
    this.decodedOn = new Counter({ name: 'arcsim_ingest_batches_decoded_total', help: 'Events frames decoded (and matched against the rules), by thread: "worker" (an ingest worker thread) or "main" (no worker, or it could not answer)', labelNames: ['thread'], registers });
    this.dbErrors = new Counter({ name: 'arcsim_store_errors_total', help: 'Store faults (disk full, locked, unavailable …) met by writes and scrapes, by cause', labelNames: ['cause'], registers });
    new Gauge({
      name: 'arcsim_connected_agents', help: 'Agents with an open WebSocket to this control plane', registers,
      collect() { this.set(sources.connectedAgents()); },
    });
    if (sources.sinks) {
      const read = sources.sinks;
      const dbErrors = this.dbErrors;
      const pending = new Gauge({ name: 'arcsim_sink_pending_changes', help: 'Alert changes a sink has not delivered yet', labelNames: ['sink', 'type'], registers });
      const failing = new Gauge({ name: 'arcsim_sink_failing', help: '1 while a sink is failing (its last attempt failed)', labelNames: ['sink', 'type'], registers });
      new Gauge({
        name: 'arcsim_sink_lag_seconds', help: 'Age of the oldest alert change a sink has not delivered (0 when caught up)', labelNames: ['sink', 'type'], registers,
        async collect() {
          try {
            for (const s of await read()) {
              this.set({ sink: s.name, type: s.type }, s.lagMs / 1000);
              pending.set({ sink: s.name, type: s.type }, s.pending);
              failing.set({ sink: s.name, type: s.type }, s.state === 'failing' ? 1 : 0);
            }
          } catch (err) {
            dbErrors.inc({ cause: causeOf(err) });
          }
        },
      });
    }
  }

  private agent(agentId: string): { agent?: string } {
    return this.perAgent ? { agent: agentId } : {};
  }

  /** An events frame decoded and is being handled. */
  eventsReceived(agentId: string, tables: readonly string[]): void {
    for (const [table, n] of countByTable(tables)) this.received.inc({ table, ...this.agent(agentId) }, n);
  }

  /** An events frame was decoded on an ingest worker thread or on the main thread. */
  batchDecoded(thread: 'worker' | 'main'): void {
    this.decodedOn.inc({ thread });
  }

  /** Events a committed batch stored, by table. */
  eventsStored(agentId: string, byTable: Readonly<Record<string, number>>): void {
    for (const [table, n] of Object.entries(byTable)) if (n > 0) this.stored.inc({ table, ...this.agent(agentId) }, n);
  }

  /** An events frame refused with `code`; the table of each of its events when it decoded (else one "unknown" count per frame). */
  eventsRejected(agentId: string, code: string, tables: readonly string[] | undefined): void {
    if (!tables) return void this.rejected.inc({ table: 'unknown', code, ...this.agent(agentId) }, 1);
    for (const [table, n] of countByTable(tables)) this.rejected.inc({ table, code, ...this.agent(agentId) }, n);
  }

  /** A batch was acked `seconds` after it arrived. */
  batchAcked(seconds: number): void {
    this.ack.observe(seconds);
  }

  /** One alert occurrence: created or folded, with its arrival → upsert latency (ms) when known. */
  alert(alertType: string, created: boolean, latencyMs: number | null): void {
    (created ? this.alertsRaised : this.alertsFolded).inc({ alert_type: alertType });
    if (latencyMs !== null) this.detection.observe(latencyMs / 1000);
  }

  /** A heartbeat's spool figures. */
  heartbeat(agentId: string, spooled: number | undefined, dropped: number | undefined): void {
    if (spooled !== undefined) this.spoolDepth.set(this.agent(agentId), spooled);
    if (dropped !== undefined) this.spoolDropped.set(this.agent(agentId), dropped);
  }

  /** The agent left: its spool gauges go (a counter keeps its series until restart, as Prometheus expects). */
  agentGone(agentId: string): void {
    if (!this.perAgent) return;
    this.spoolDepth.remove({ agent: agentId });
    this.spoolDropped.remove({ agent: agentId });
  }

  /** A store write failed with this cause (health/store-health.ts `storeFault`). */
  storeError(cause: string): void {
    this.dbErrors.inc({ cause });
  }

  /** The text exposition format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function countByTable(tables: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tables) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

/** The store fault behind a failed scrape-time read (health/store-health.ts), else "other". */
function causeOf(err: unknown): string {
  return storeFault(err) ?? 'other';
}

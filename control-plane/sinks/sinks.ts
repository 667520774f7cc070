import { hostname } from 'node:os';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AlertChangeRow, Store } from '../store/index.ts';
import { LAB_TENANT_ID, loadExportAlert, toCef, toGraphAlert, toOcsfDetectionFinding, toSentinelAlert, type ExportAlert, type ExportContext } from '../exports/index.ts';
import { SINK_DEFAULTS, type SinkConfig, type SyslogSinkConfig, type WebhookSinkConfig } from './sink-config.ts';
import { formatSyslog, SYSLOG_SEVERITY, TcpSyslog, UdpSyslog, type SyslogTransport } from './syslog.ts';
import { IDEMPOTENCY_HEADER, postWebhook, SIGNATURE_HEADER, signBody } from './webhook.ts';

/** What `/api/health` shows of one sink. Errors are causes (ECONNREFUSED, HTTP 503), never hosts or secrets. */
export interface SinkHealth {
  name: string;
  type: SinkConfig['type'];
  /** `ok`, or `failing` while the last attempt failed (retried with backoff). */
  state: 'ok' | 'failing';
  /** Alert changes waiting for this sink. */
  pending: number;
  /** ms since the oldest waiting change was made; 0 when none waits. */
  lagMs: number;
  /** Failed attempts since the last success. */
  failures: number;
  lastError: string | null;
  lastDeliveredAt: string | null;
  nextAttemptAt: string | null;
}

export interface SinkDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The control plane's public base URL (links in the records). */
  baseUrl(): string;
  /** Jitter source in [0, 1) (injectable for tests). */
  random?: () => number;
}

/** The idempotency key of one change: the same on every attempt and after a restart. */
export const idempotencyKey = (c: AlertChangeRow): string => `arcsim:${c.systemAlertId}:${c.change}:${c.id}`;

/** One configured sink: reads its undelivered outbox changes, delivers them, records each delivery. */
class SinkWorker {
  private startAfter: number | undefined;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastError: string | null = null;
  private lastDeliveredAt: number | null = null;
  private chain: Promise<number> = Promise.resolve(0);
  private syslog: SyslogTransport | undefined;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;

  constructor(readonly config: SinkConfig, private readonly deps: SinkDeps) {
    this.retryMinMs = config.retryMinMs ?? SINK_DEFAULTS.retryMinMs;
    this.retryMaxMs = Math.max(this.retryMinMs, config.retryMaxMs ?? SINK_DEFAULTS.retryMaxMs);
  }

  async init(): Promise<void> {
    this.startAfter ??= await this.deps.store.sinks.sinkStart(this.config.name, this.deps.clock.now());
  }

  /** One delivery pass (passes run one after another); resolves to the changes delivered. */
  pass(): Promise<number> {
    this.chain = this.chain.then(() => this.passOnce(), () => this.passOnce());
    return this.chain;
  }

  private async passOnce(): Promise<number> {
    const { store, clock } = this.deps;
    if (clock.now() < this.nextAttemptAt) return 0;
    const name = this.config.name;
    this.startAfter ??= await store.sinks.sinkStart(name, clock.now());
    let delivered = 0;
    let oldest = Infinity;
    const failedBefore = this.failures;
    for (let batch = 0; batch < SINK_DEFAULTS.batchesPerPass; batch++) {
      const changes = await store.sinks.pendingChanges(name, this.startAfter, SINK_DEFAULTS.batchSize);
      if (changes.length === 0) break;
      const rendered: Array<{ change: AlertChangeRow; alert: ExportAlert | undefined }> = [];
      for (const change of changes) {
        const row = await store.alerts.getAlert(change.systemAlertId);
        rendered.push({ change, alert: row && (await loadExportAlert(store, row)) });
      }
      const error = await this.deliver(rendered);
      if (error) {
        await this.failed(error);
        return delivered;
      }
      const now = clock.now();
      await store.sinks.markDelivered(name, rendered.map((r) => r.change.id), now, this.failures + 1);
      delivered += rendered.length;
      oldest = Math.min(oldest, ...rendered.map((r) => r.change.at));
      this.lastDeliveredAt = now;
      this.failures = 0;
      this.lastError = null;
    }
    if (delivered && failedBefore) await this.recovered(delivered, failedBefore, clock.now() - oldest);
    return delivered;
  }

  /** Sends the batch; an error text when it failed (then nothing of it counts as delivered). */
  private async deliver(batch: Array<{ change: AlertChangeRow; alert: ExportAlert | undefined }>): Promise<string | undefined> {
    const ctx: ExportContext = { baseUrl: this.deps.baseUrl(), tenantId: LAB_TENANT_ID };
    if (this.config.type === 'syslog') {
      const c = this.config;
      const messages = batch.filter((b) => b.alert).map(({ change, alert }) => syslogMessage(c, change, alert!, ctx));
      try {
        this.syslog ??= c.transport === 'tcp'
          ? new TcpSyslog(c.host, c.port, SINK_DEFAULTS.requestTimeoutMs)
          : new UdpSyslog(c.host, c.port, c.maxMessageBytes);
        await this.syslog.send(messages);
        return undefined;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return e.code ?? e.message;
      }
    }
    const c = this.config;
    for (const [i, { change, alert }] of batch.entries()) {
      if (!alert) continue;
      const body = JSON.stringify(webhookBody(c, change, alert, ctx));
      const r = await postWebhook(c.url, body, { [SIGNATURE_HEADER]: signBody(c.secret, body), [IDEMPOTENCY_HEADER]: idempotencyKey(change) }, c.timeoutMs);
      if (!r.ok) {
        // The ones before this one were accepted: record them, retry from here.
        const now = this.deps.clock.now();
        await this.deps.store.sinks.markDelivered(c.name, batch.slice(0, i).map((done) => done.change.id), now, this.failures + 1);
        if (i > 0) this.lastDeliveredAt = now;
        return r.error ?? 'failed';
      }
    }
    return undefined;
  }

  private async failed(error: string): Promise<void> {
    const { clock, logger, random = Math.random } = this.deps;
    this.failures += 1;
    this.lastError = error;
    // Exponential backoff with jitter: between the least delay and a ceiling that doubles per failure.
    const ceiling = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (this.failures - 1));
    const delay = Math.round(this.retryMinMs + random() * (ceiling - this.retryMinMs));
    this.nextAttemptAt = clock.now() + delay;
    logger.warn('sink delivery failed', { sink: this.config.name, type: this.config.type, error, failures: this.failures, retryInMs: delay });
    if (this.failures === 1) await this.audit(`failing: ${error}`, 503);
  }

  private async recovered(delivered: number, failures: number, lagMs: number): Promise<void> {
    this.deps.logger.info('sink delivering again', { sink: this.config.name, delivered, afterFailures: failures, lagMs });
    await this.audit(`recovered: delivered ${delivered} change(s) after ${failures} failed attempt(s), the oldest ${lagMs} ms late`, 200);
  }

  /** An audit row for a sink state change (who `sink:NAME`, method `SINK`). */
  private async audit(target: string, status: number): Promise<void> {
    try {
      await this.deps.store.keys.addAudit({
        at: this.deps.clock.now(), who: `sink:${this.config.name}`, keyId: null, role: null, method: 'SINK',
        route: `sink/${this.config.type}`, target: target.slice(0, 1000), status, remote: null,
      });
    } catch (err) {
      this.deps.logger.error('audit log write failed', { sink: this.config.name, error: String(err) });
    }
  }

  async health(): Promise<SinkHealth> {
    const now = this.deps.clock.now();
    const start = this.startAfter ?? (await this.deps.store.sinks.sinkStart(this.config.name, now));
    const backlog = await this.deps.store.sinks.backlog(this.config.name, start);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      name: this.config.name, type: this.config.type, state: this.failures ? 'failing' : 'ok',
      pending: backlog.pending, lagMs: backlog.oldestAt === null ? 0 : Math.max(0, now - backlog.oldestAt),
      failures: this.failures, lastError: this.lastError, lastDeliveredAt: iso(this.lastDeliveredAt),
      nextAttemptAt: this.failures ? iso(this.nextAttemptAt) : null,
    };
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    this.syslog?.close();
  }
}

/** The RFC 5424 message of one change: MSGID `alert-created` / `alert-status`, CEF or Graph JSON body. */
function syslogMessage(c: SyslogSinkConfig, change: AlertChangeRow, alert: ExportAlert, ctx: ExportContext): string {
  return formatSyslog({
    facility: c.facility, severity: SYSLOG_SEVERITY[alert.row.severity], time: change.at,
    hostname: c.hostname ?? hostname(), appName: c.appName, procId: String(process.pid), msgId: `alert-${change.change}`,
    data: { alertId: alert.row.systemAlertId, status: change.status, idempotencyKey: idempotencyKey(change), ...(alert.incidentId ? { incidentId: alert.incidentId } : {}) },
    msg: c.format === 'cef' ? toCef(alert, ctx) : JSON.stringify(toGraphAlert(alert, ctx)),
  });
}

/** The webhook body: the change (its key, kind, time, the status it set) and the alert as a record. */
function webhookBody(c: WebhookSinkConfig, change: AlertChangeRow, alert: ExportAlert, ctx: ExportContext): Record<string, unknown> {
  const record = c.format === 'graph' ? toGraphAlert(alert, ctx) : c.format === 'ocsf' ? toOcsfDetectionFinding(alert, ctx) : toSentinelAlert(alert, ctx);
  return {
    id: idempotencyKey(change), type: `alert.${change.change}`, time: new Date(change.at).toISOString(),
    systemAlertId: change.systemAlertId, status: change.status, format: c.format, data: record,
  };
}

/**
 * Every configured sink. Each pass reads the store's outbox, so what a sink has not delivered
 * survives a receiver that is down and a control-plane restart (at-least-once; receivers dedupe
 * by the idempotency key). Passes run on a timer and whenever `wake` is called (after a commit).
 */
export class Sinks {
  private readonly workers: SinkWorker[];
  private timer: NodeJS.Timeout | undefined;

  constructor(configs: SinkConfig[], private readonly deps: SinkDeps) {
    this.workers = configs.map((c) => new SinkWorker(c, deps));
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Records where each new sink starts in the outbox (before agents are accepted, so no alert
   * raised after start-up is missed), then runs passes on a timer.
   */
  async start(): Promise<void> {
    if (this.workers.length === 0 || this.timer) return;
    for (const w of this.workers) await w.init();
    this.timer = setInterval(() => this.wake(), SINK_DEFAULTS.pollIntervalMs);
    this.timer.unref();
    this.wake();
  }

  /** Starts a pass now (errors are logged: a store fault waits for the next pass). */
  wake(): void {
    this.deliver().catch((err) => this.deps.logger.error('sink pass failed', { error: String(err) }));
  }

  /** Runs one pass of every sink that is due; resolves to the changes delivered per sink. */
  async deliver(): Promise<Record<string, number>> {
    const counts = await Promise.all(this.workers.map((w) => w.pass()));
    return Object.fromEntries(this.workers.map((w, i) => [w.config.name, counts[i]!]));
  }

  health(): Promise<SinkHealth[]> {
    return Promise.all(this.workers.map((w) => w.health()));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

import { z } from 'zod';

/** Sink timings and sizes, one place, units in the names. Per-sink config may override the retry bounds. */
export const SINK_DEFAULTS = {
  /** ms between delivery passes when nothing wakes the sinks sooner (a commit does). */
  pollIntervalMs: 1_000,
  /** Outbox changes one sink sends per batch (recorded as delivered together). */
  batchSize: 100,
  /** Batches one sink sends per pass at most, so a pass ends (and `close` returns) under a steady flood. */
  batchesPerPass: 20,
  /** ms: first retry delay after a failed delivery; doubles per failure (full jitter), up to retryMaxMs. */
  retryMinMs: 1_000,
  /** ms: longest retry delay. */
  retryMaxMs: 300_000,
  /** ms a webhook request or a syslog TCP connect + write may take before it counts as failed. */
  requestTimeoutMs: 10_000,
  /**
   * bytes: largest syslog datagram over UDP; a longer message is cut to it (a datagram cannot be
   * retried usefully). RFC 5426 §3.2 asks receivers for at least 2048; rsyslog takes 8096 by default.
   */
  maxUdpMessageBytes: 8_096,
} as const;

const Name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes (it names the sink in health, audit and its delivery records)');

const SyslogSink = z.strictObject({
  name: Name,
  type: z.literal('syslog'),
  /** RFC 5424 over TCP with octet counting (RFC 6587 §3.4.1), or one message per UDP datagram (RFC 5426). */
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(514),
  /** The message body: an ArcSight CEF line, or the alert as Graph alerts_v2 JSON. */
  format: z.enum(['cef', 'json']).default('cef'),
  /** RFC 5424 facility number (0-23); default 10, security/authorization (authpriv). */
  facility: z.number().int().min(0).max(23).default(10),
  /** RFC 5424 HOSTNAME; default this machine's host name. */
  hostname: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'printable US-ASCII without spaces, at most 255 characters').optional(),
  /** bytes: UDP only, the largest datagram; longer messages are cut (TCP messages are never cut). */
  maxMessageBytes: z.number().int().min(480).max(65_507).default(SINK_DEFAULTS.maxUdpMessageBytes),
  /** RFC 5424 APP-NAME. */
  appName: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'printable US-ASCII without spaces, at most 48 characters').default('arcsim'),
});

const WebhookSink = z.strictObject({
  name: Name,
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/ }),
  /** HMAC-SHA256 key of `X-Arcsim-Signature`; at least 16 characters. Keep the config file 0600. */
  secret: z.string().min(16, 'at least 16 characters'),
  /** The JSON body's record: Graph alerts_v2, OCSF Detection Finding, or Sentinel SecurityAlert row. */
  format: z.enum(['graph', 'ocsf', 'sentinel']).default('graph'),
  /** ms a request may take. */
  timeoutMs: z.number().int().positive().default(SINK_DEFAULTS.requestTimeoutMs),
});

const Retry = { retryMinMs: z.number().int().positive().optional(), retryMaxMs: z.number().int().positive().optional() };

/** `sinks:` in the config file: where alert changes stream to (docs/sinks.md). Names are unique. */
export const SinksConfigSchema = z.array(z.discriminatedUnion('type', [SyslogSink.extend(Retry), WebhookSink.extend(Retry)]))
  .refine((sinks) => new Set(sinks.map((s) => s.name)).size === sinks.length, { message: 'two sinks have the same name' })
  .default([]);

export type SinkConfig = z.infer<typeof SinksConfigSchema>[number];
export type SyslogSinkConfig = Extract<SinkConfig, { type: 'syslog' }>;
export type WebhookSinkConfig = Extract<SinkConfig, { type: 'webhook' }>;

export { Sinks, idempotencyKey, type SinkHealth, type SinkDeps } from './sinks.ts';
export { SinksConfigSchema, SINK_DEFAULTS, type SinkConfig } from './sink-config.ts';
export { formatSyslog, octetCounted, sdEscape, SYSLOG_SEVERITY, SD_ID } from './syslog.ts';
export { signBody, verifySignature, SIGNATURE_HEADER, IDEMPOTENCY_HEADER } from './webhook.ts';

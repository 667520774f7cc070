import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SqlInstanceFactsSchema } from '../protocol/index.ts';

/**
 * Agent defaults, one object, a unit beside each number. Anchors: Wazuh's client buffer
 * (5000 events, 500 events/s, flood warning at 90 %), the real Arc agent's 5-minute heartbeat
 * (the control plane decides the interval; labs use seconds).
 */
export const AGENT_DEFAULTS = {
  /** Most events kept in the on-disk spool; when full the oldest are dropped, events. */
  spoolMaxEvents: 5000,
  /** Spool fill level that raises a flood warning, fraction of spoolMaxEvents. */
  spoolWarnRatio: 0.9,
  /** Sustained send rate to the control plane, events per second. */
  eventsPerSecond: 500,
  /** Events that may be sent at once on top of the rate (token bucket size), events. */
  eventsBurst: 1000,
  /** Batches sent and not yet acked. */
  maxInflightBatches: 8,
  /** Reconnect backoff bounds (full jitter), ms. */
  backoffMinMs: 500,
  backoffMaxMs: 30_000,
  /** Client-side ping interval; a missing pong (or any frame) by the next ping means the server is dead, ms. */
  pingIntervalMs: 30_000,
  /** One instance-metadata request, ms (IMDS answers in a few ms when it is there at all). */
  metadataTimeoutMs: 1000,
  /** Real metadata endpoints; overridable so tests serve fakes on loopback. */
  awsImdsUrl: 'http://169.254.169.254',
  gcpMetadataUrl: 'http://metadata.google.internal',
  /** Where DMI/SMBIOS facts are read from (`<root>/sys/class/dmi/id/...`); tests point it at a fake tree. */
  sysRoot: '/',
} as const;

const positiveInt = z.number().int().positive();

/** `--config FILE`: YAML, strict (unknown keys refused), every field optional. */
export const AgentConfigSchema = z.strictObject({
  spoolMaxEvents: positiveInt.optional(),
  eventsPerSecond: positiveInt.max(100_000).optional(),
  eventsBurst: positiveInt.optional(),
  pingIntervalMs: positiveInt.optional(),
  metadataTimeoutMs: positiveInt.max(30_000).optional(),
  awsImdsUrl: z.url().optional(),
  gcpMetadataUrl: z.url().optional(),
  sysRoot: z.string().min(1).optional(),
  /** SQL instances declared by hand (found neither by process nor by port). */
  sqlInstances: z.array(SqlInstanceFactsSchema.omit({ discoveredBy: true })).max(64).optional(),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** Reads and validates an agent config file; the error names the file and the bad path. */
export function loadAgentConfig(file: string): AgentConfig {
  const doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
  const r = AgentConfigSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (r.data.eventsBurst !== undefined && r.data.eventsPerSecond !== undefined && r.data.eventsBurst < r.data.eventsPerSecond) {
    throw new Error(`${file}: eventsBurst (${r.data.eventsBurst}) must be at least eventsPerSecond (${r.data.eventsPerSecond})`);
  }
  return r.data;
}

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readYaml } from '../lib/yaml.ts';
import { z } from 'zod';
import { issuePath, protocolError } from '../protocol/errors.ts';
import { parseDuration } from '../lib/duration.ts';
import { LIMITS } from '../protocol/limits.ts';
import { ControlPlaneConfigSchema } from './control-plane.ts';

const shape = ControlPlaneConfigSchema.shape;

/** A duration string (`30s`, `5m`, `24h`, `45d`), checked here so a typo names its key at start-up. */
const duration = z.string().refine((text) => {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}, 'not a duration: use a number and a unit, e.g. 500ms, 30s, 5m, 24h, 7d');

/**
 * `arcsim control-plane --config FILE`: every key optional (a missing key keeps its default, a
 * command-line flag overrides the key), unknown keys refused. Keys are the `createControlPlane`
 * config plus where the store lives and how the process logs; docs/configuration.md lists them.
 */
export const ConfigFileSchema = z.strictObject({
  host: shape.host.unwrap().min(1).optional(),
  port: shape.port.unwrap().optional(),
  publicUrl: shape.publicUrl,
  /** Serve https and wss: PEM paths, relative to the file. */
  tls: shape.tls,
  insecureHttp: shape.insecureHttp.unwrap().optional(),
  /** SQLite store: the directory holding arcsim.db. */
  dataDir: z.string().min(1).optional(),
  /** PostgreSQL store instead of SQLite. */
  storeUrl: z.string().regex(/^postgres(ql)?:\/\/./, 'a PostgreSQL URL, postgres://user[:password]@host[:port]/database').optional(),
  rulesDirs: shape.rulesDirs,
  strictRules: shape.strictRules.unwrap().optional(),
  /** Start even with no rule loaded (an empty rules directory is refused otherwise). */
  allowNoRules: shape.allowNoRules.unwrap().optional(),
  /** The only directory a connector pull's `file` source may read; relative to the file. Default `<dataDir>/import`. */
  importDir: z.string().min(1).optional(),
  lateness: duration.optional(),
  incidentWindow: duration.optional(),
  sync: shape.sync.unwrap().optional(),
  inventory: shape.inventory.unwrap().extend({
    expiredAfter: duration.optional(),
    sweepInterval: duration.optional(),
    commandTimeout: duration.optional(),
  }).omit({ importDir: true }).optional(),
  // Agents cut their frames and batches by the protocol's own limits: a lower limit here would
  // refuse every full batch they send, so these two can only be raised. (Tests of the gateway's
  // own checks lower them through createControlPlane.)
  limits: shape.limits.unwrap().extend({
    maxEventsPerBatch: z.number().int().min(LIMITS.maxEventsPerBatch, `at least ${LIMITS.maxEventsPerBatch}: agents send batches of up to the protocol's limit`).optional(),
    maxFrameBytes: z.number().int().min(LIMITS.maxFrameBytes, `at least ${LIMITS.maxFrameBytes}: agents send frames of up to the protocol's limit`).optional(),
  }).optional(),
  sinks: shape.sinks.unwrap().optional(),
  /** `GET /metrics`: `agentLabels: false` for large fleets (one series per agent and table otherwise). */
  metrics: shape.metrics.unwrap().partial().optional(),
  logFormat: z.enum(['json', 'pretty']).optional(),
}).refine((c) => !(c.dataDir && c.storeUrl), { message: 'give dataDir (SQLite) or storeUrl (PostgreSQL), not both', path: ['storeUrl'] });

export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/**
 * Reads and validates a control-plane config file; `dataDir` and `rulesDirs` come back absolute. Throws ARCSIM_E_CONFIG_YAML (unreadable, not
 * YAML) or ARCSIM_E_CONFIG_SCHEMA (with the path of the first wrong key, and every problem in the message).
 */
export function loadConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw protocolError('ARCSIM_E_CONFIG_YAML', `${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const { errors, value: doc } = readYaml(text);
  if (errors.length) {
    const err = errors[0]!;
    const where = err.linePos ? `:${err.linePos[0].line}` : '';
    throw protocolError('ARCSIM_E_CONFIG_YAML', `${file}${where}: ${err.message.split('\n')[0]}`);
  }
  // An empty file (or only comments) is a valid file that sets nothing.
  const parsed = ConfigFileSchema.safeParse(doc ?? {});
  if (parsed.success) {
    // Relative directories are relative to the file, so a config works from any working directory.
    const config = { ...parsed.data };
    if (config.dataDir !== undefined) config.dataDir = resolve(dirname(file), config.dataDir);
    if (config.importDir !== undefined) config.importDir = resolve(dirname(file), config.importDir);
    if (config.rulesDirs !== undefined) config.rulesDirs = config.rulesDirs.map((dir) => resolve(dirname(file), dir));
    if (config.tls !== undefined) {
      const at = (p: string) => resolve(dirname(file), p);
      config.tls = { cert: at(config.tls.cert), key: at(config.tls.key), ...(config.tls.ca !== undefined ? { ca: at(config.tls.ca) } : {}) };
    }
    return config;
  }
  const problems = parsed.error.issues.map((issue) => {
    // Unknown keys are reported on their parent; point at the key itself.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    return { path: issuePath(path), message: issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')}` : issue.message };
  });
  const first = problems[0]!;
  throw protocolError('ARCSIM_E_CONFIG_SCHEMA', `${file}: ${problems.map((p) => `${p.path || '(top level)'}: ${p.message}`).join('; ')}`, first.path);
}

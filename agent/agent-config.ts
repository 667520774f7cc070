import { readFileSync } from 'node:fs';
import { readYaml } from '../lib/yaml.ts';
import { z } from 'zod';
import { KubernetesFactsSchema, SqlInstanceFactsSchema } from '../protocol/index.ts';

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
  /** PEM CA pinned for an https control plane (as --ca-file, which wins). */
  caFile: z.string().min(1).optional(),
  /** SQL instances declared by hand (found neither by process nor by port). */
  sqlInstances: z.array(SqlInstanceFactsSchema.omit({ discoveredBy: true })).max(64).optional(),
  /**
   * The agent runs on a node of this Kubernetes cluster (the DaemonSet of deploy/kubernetes/). The
   * node's name, when not given, is the NODE_NAME environment variable (the DaemonSet sets it from
   * the downward API, spec.nodeName), else the host name.
   */
  kubernetes: KubernetesFactsSchema.partial({ nodeName: true }).optional(),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** Reads and validates an agent config file; the error names the file and the bad path. */
export function loadAgentConfig(file: string): AgentConfig {
  const y = readYaml(readFileSync(file, 'utf8'));
  if (y.errors.length) throw new Error(`${file}: not valid YAML: ${y.errors[0]!.message.split('\n')[0]}`);
  const doc = y.value ?? {};
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

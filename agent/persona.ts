import { readFileSync } from 'node:fs';
import { readYaml } from '../lib/yaml.ts';
import { z } from 'zod';
import { KubernetesFactsSchema, NetworkInterfaceSchema, SqlInstanceFactsSchema, type MachineFacts, type SqlInstanceFacts } from '../protocol/index.ts';

const ip = z.union([z.ipv4(), z.ipv6()]);
const count = z.number().int().positive();

const AwsCloud = z.strictObject({
  provider: z.literal('AWS'),
  instanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/, 'an EC2 instance id (i- and 8 or 17 hex digits)'),
  accountId: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
  availabilityZone: z.string().optional(),
  instanceType: z.string().optional(),
  privateIp: ip.optional(),
  imageId: z.string().optional(),
});

const GcpCloud = z.strictObject({
  provider: z.literal('GCP'),
  instanceId: z.string().regex(/^\d{1,20}$/, 'a numeric GCE instance id'),
  instanceName: z.string().optional(),
  projectId: z.string().regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, 'a GCP project id'),
  projectNumber: z.string().regex(/^\d{1,20}$/).optional(),
  zone: z.string().regex(/^[a-z]+-[a-z]+\d+-[a-z]$/, 'a GCP zone such as us-central1-a'),
  machineType: z.string().optional(),
  image: z.string().optional(),
  privateIp: ip.optional(),
  serviceAccounts: z.array(z.string()).optional(),
});

/**
 * A persona: facts one lab box reports instead of its own, so it can stand in for an EC2 or
 * GCP host. Strict: a misspelt key is an error, never silently ignored. Only what it names is
 * overridden; everything else is still read from the real host.
 */
export const PersonaSchema = z.strictObject({
  name: z.string().min(1).max(255),
  description: z.string().optional(),
  hostname: z.string().min(1).max(255).optional(),
  machineFqdn: z.string().max(255).optional(),
  domainName: z.string().max(255).optional(),
  osName: z.string().max(255).optional(),
  osType: z.enum(['linux', 'windows']).optional(),
  osVersion: z.string().max(255).optional(),
  osSku: z.string().max(255).optional(),
  osEdition: z.string().max(255).optional(),
  vmUuid: z.string().max(64).optional(),
  manufacturer: z.string().max(255).optional(),
  model: z.string().max(255).optional(),
  coreCount: count.optional(),
  logicalCoreCount: count.optional(),
  totalPhysicalMemoryInGigabytes: count.optional(),
  cloud: z.discriminatedUnion('provider', [
    AwsCloud, GcpCloud,
    z.strictObject({ provider: z.literal('Azure') }),
    z.strictObject({ provider: z.literal('N/A') }),
  ]).optional(),
  networkInterfaces: z.array(NetworkInterfaceSchema).max(32).optional(),
  /** When given, these replace the SQL instances discovered on the real host. */
  sqlInstances: z.array(SqlInstanceFactsSchema.omit({ discoveredBy: true })).max(64).optional(),
  /** A node of this Kubernetes cluster (a cluster persona): its connectedClusters name, node name, distribution. */
  kubernetes: KubernetesFactsSchema.optional(),
});
export type Persona = z.infer<typeof PersonaSchema>;

/** Reads a persona YAML file; errors name the file and the offending path. */
export function loadPersona(file: string): Persona {
  let doc: unknown;
  try {
    const y = readYaml(readFileSync(file, 'utf8'));
    if (y.errors.length) throw y.errors[0]!;
    doc = y.value;
  } catch (err) {
    throw new Error(`persona ${file}: ${(err as Error).message}`);
  }
  const r = PersonaSchema.safeParse(doc ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(`persona ${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

const CLOUD_HARDWARE: Record<string, { manufacturer: string; model?: string }> = {
  AWS: { manufacturer: 'Amazon EC2' },
  GCP: { manufacturer: 'Google', model: 'Google Compute Engine' },
  Azure: { manufacturer: 'Microsoft Corporation', model: 'Virtual Machine' },
};

/**
 * Applies a persona to facts read from the host. The result records the persona's name in
 * `persona`, so the control plane (and anyone reading the machine) knows the facts are staged.
 */
export function applyPersona(
  facts: { machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }, p: Persona,
): { machine: MachineFacts; sqlInstances: SqlInstanceFacts[] } {
  const m: MachineFacts = structuredClone(facts.machine);
  for (const k of ['hostname', 'machineFqdn', 'domainName', 'osName', 'osType', 'osVersion', 'osSku', 'osEdition', 'vmUuid'] as const) {
    if (p[k] !== undefined) m[k] = p[k];
  }
  if (p.hostname && p.machineFqdn === undefined) m.machineFqdn = p.domainName ? `${p.hostname}.${p.domainName}` : p.hostname;
  const d = m.detectedProperties;
  if (p.cloud) {
    const { provider, ...rest } = p.cloud as { provider: string } & Record<string, unknown>;
    const details: Record<string, string> = {};
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) details[k] = Array.isArray(v) ? v.join(',') : String(v);
    m.cloudMetadata = Object.keys(details).length ? { provider, details } : { provider };
    d.cloudprovider = provider;
    const hw = CLOUD_HARDWARE[provider];
    if (hw) {
      d.manufacturer = hw.manufacturer;
      const model = hw.model ?? (rest.instanceType as string | undefined);
      if (model) d.model = model; else delete d.model;
    }
    if (!p.networkInterfaces && typeof rest.privateIp === 'string') {
      m.networkInterfaces = [{ name: 'eth0', ipAddresses: [rest.privateIp] }];
    }
  }
  if (p.manufacturer) d.manufacturer = p.manufacturer;
  if (p.model) d.model = p.model;
  if (p.coreCount) d.coreCount = String(p.coreCount);
  if (p.logicalCoreCount) d.logicalCoreCount = String(p.logicalCoreCount);
  if (p.totalPhysicalMemoryInGigabytes) d.totalPhysicalMemoryInGigabytes = String(p.totalPhysicalMemoryInGigabytes);
  if (p.networkInterfaces) m.networkInterfaces = p.networkInterfaces;
  const sqlInstances = p.sqlInstances
    ? p.sqlInstances.map((s) => ({ ...s, discoveredBy: 'persona' as const }))
    : facts.sqlInstances;
  d.mssqldiscovered = String(sqlInstances.some((s) => s.engine === 'sqlserver'));
  if (p.kubernetes) m.kubernetes = p.kubernetes;
  m.persona = p.name;
  return { machine: m, sqlInstances };
}

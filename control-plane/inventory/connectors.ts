import { z } from 'zod';
import { issuePath, protocolError } from '../../protocol/errors.ts';
import type { ConnectorRow, CspmResourceRow, StoreTx } from '../store/index.ts';
import {
  cspmResourceId, KIND_PROVIDER, PARTIAL_KINDS, SNAPSHOT_LIMITS, KIND_RESOURCE, parseSnapshot, PROVIDERS, SNAPSHOT_KINDS, type CloudProvider, type ParsedSnapshot, type SnapshotKind,
} from './snapshot-formats.ts';

const Name = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64)');

/** What each snapshot kind runs: the cloud CLI and its subcommand words (argv, never a shell string). */
export const KIND_CLI: Record<SnapshotKind, { cli: 'aws' | 'gcloud'; args: readonly string[] }> = {
  'aws-ec2-instances': { cli: 'aws', args: ['ec2', 'describe-instances', '--output', 'json'] },
  'aws-security-groups': { cli: 'aws', args: ['ec2', 'describe-security-groups', '--output', 'json'] },
  'gcp-compute-instances': { cli: 'gcloud', args: ['compute', 'instances', 'list', '--format', 'json'] },
  'gcp-firewall-rules': { cli: 'gcloud', args: ['compute', 'firewall-rules', 'list', '--format', 'json'] },
  // One cluster a document: the source names it (`cluster`), and pullArgv adds `--name`.
  'aws-eks-cluster': { cli: 'aws', args: ['eks', 'describe-cluster', '--output', 'json'] },
  'gcp-container-clusters': { cli: 'gcloud', args: ['container', 'clusters', 'list', '--format', 'json'] },
};

// Validated so no value can start an option or carry a second argument.
/** AWS named profile: the characters the CLI config accepts in practice. */
const Profile = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@+=,-]{0,63}$/, 'a profile name: letters, digits, _ . @ + = , - (at most 64)');
/** AWS region code (us-east-1, eu-west-3, us-gov-west-1, ...). */
const AwsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/, 'an AWS region code, e.g. us-east-1');
/** GCP project id (6–30 chars, lowercase letters, digits, hyphens; starts with a letter). */
const GcpProject = z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a GCP project id');

/**
 * Where a scheduled pull reads one cloud output from: the cloud CLI the kind names, run with argv
 * arcsim builds from validated fields (no shell), or a file inside the import directory.
 */
const CliSource = z.strictObject({
  cli: z.enum(['aws', 'gcloud']),
  kind: z.enum(SNAPSHOT_KINDS),
  profile: Profile.optional(),
  region: AwsRegion.optional(),
  project: GcpProject.optional(),
  /** aws-eks-cluster: the cluster describe-cluster describes (an EKS cluster name). */
  cluster: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, 'an EKS cluster name (letters, digits, - and _, at most 100)').optional(),
}).refine((s) => KIND_CLI[s.kind].cli === s.cli, { message: 'kind is not an output of that cli', path: ['kind'] })
  .refine((s) => (s.kind === 'aws-eks-cluster') === (s.cluster !== undefined), { message: 'cluster is given exactly for kind aws-eks-cluster (describe-cluster needs --name)', path: ['cluster'] })
  .refine((s) => s.cli === 'aws' || (s.profile === undefined && s.region === undefined), { message: 'profile and region are aws fields', path: ['cli'] })
  .refine((s) => s.cli === 'gcloud' || s.project === undefined, { message: 'project is a gcloud field', path: ['project'] });
const FileSource = z.strictObject({
  /** Relative to the import directory (or absolute inside it). */
  file: z.string().min(1).max(1024),
  kind: z.enum(SNAPSHOT_KINDS).optional(),
  region: AwsRegion.optional(),
});
const PullSource = z.union([CliSource, FileSource]);
export type PullSourceDef = z.infer<typeof PullSource>;

/** The argv a CLI pull source runs (argv[0] is the program name, looked up on the configured PATH). */
export function pullArgv(s: z.infer<typeof CliSource>, def: ConnectorDefinition): string[] {
  const { cli, args } = KIND_CLI[s.kind];
  if (cli === 'aws') {
    const region = s.region ?? (def.provider === 'AWS' ? def.defaultRegion : undefined);
    return ['aws', ...args, ...(s.cluster ? ['--name', s.cluster] : []), ...(region ? ['--region', region] : []), ...(s.profile ? ['--profile', s.profile] : [])];
  }
  const project = s.project ?? (def.provider === 'GCP' ? def.projectId : undefined);
  return ['gcloud', ...args, ...(project ? ['--project', project] : [])];
}

const common = {
  subscription: z.string().min(1).max(64),
  resourceGroup: z.string().min(1).max(90),
  location: z.string().default('eastus'),
  /** Periodic scanning, like the real connectors: a cron expression (node-schedule) and what to read. */
  pull: z.strictObject({ schedule: z.string().min(1), sources: z.array(PullSource).min(1) }).optional(),
};

export const ConnectorDefinitionSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('AWS'),
    accountId: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
    /** Region given to security groups (describe-security-groups does not name it). */
    defaultRegion: z.string().default('us-east-1'),
    ...common,
  }),
  z.strictObject({
    provider: z.literal('GCP'),
    projectId: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a GCP project id'),
    projectNumber: z.string().regex(/^\d{1,20}$/).optional(),
    ...common,
  }),
]);
export type ConnectorDefinition = z.infer<typeof ConnectorDefinitionSchema>;

/** Validates a connector definition; an unknown provider gets its own code. */
export function parseConnectorDefinition(name: string, body: unknown): ConnectorDefinition {
  const n = Name.safeParse(name);
  if (!n.success) throw protocolError('ARCSIM_E_CONNECTOR_CONFIG', `name: ${n.error.issues[0]!.message}`, 'name');
  const provider = (body as { provider?: unknown } | null)?.provider;
  if (!PROVIDERS.includes(provider as CloudProvider)) {
    throw protocolError('ARCSIM_E_CONNECTOR_PROVIDER', `got ${JSON.stringify(provider)}`, 'body.provider');
  }
  // A free command string was accepted before and run through a shell: name it so users know what replaced it.
  const sources = (body as { pull?: { sources?: unknown } } | null)?.pull?.sources;
  if (Array.isArray(sources)) {
    const i = sources.findIndex((s) => s !== null && typeof s === 'object' && 'command' in s);
    if (i >= 0) {
      throw protocolError('ARCSIM_E_CONNECTOR_CONFIG', `body.pull.sources.${i}.command: free commands are not run; give cli (aws|gcloud), kind and profile/region/project (docs/inventory.md)`, `body.pull.sources.${i}.command`);
    }
  }
  const r = ConnectorDefinitionSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = ['body', issuePath(issue.path)].filter(Boolean).join('.');
    throw protocolError('ARCSIM_E_CONNECTOR_CONFIG', `${path}: ${issue.message}`, path);
  }
  return r.data;
}

export function connectorRow(name: string, def: ConnectorDefinition, now: number, createdAt = now): ConnectorRow {
  return {
    name, provider: def.provider, accountId: def.provider === 'AWS' ? def.accountId : def.projectId,
    subscription: def.subscription, resourceGroup: def.resourceGroup, location: def.location,
    config: def as unknown as Record<string, unknown>, createdAt, updatedAt: now,
  };
}

/** One document of an import: the cloud output, and optionally its kind / AWS region / provider. */
export const SnapshotEntrySchema = z.strictObject({
  provider: z.string().optional(),
  kind: z.enum(SNAPSHOT_KINDS).optional(),
  /** AWS: the region the document covers. Scopes "missing means deleted" to that region. */
  region: z.string().optional(),
  document: z.unknown(),
  /** Where it came from (file name), for error messages. */
  source: z.string().max(1024).optional(),
});
export type SnapshotEntry = z.infer<typeof SnapshotEntrySchema>;

export interface ImportSummary {
  kind: SnapshotKind;
  resources: number;
  added: number;
  changed: number;
  deleted: number;
}

/**
 * Validates every document against its cloud format and the connector (provider, account), and
 * only then applies them, inside the caller's transaction: one bad document refuses the whole
 * import and nothing changes. Per kind, a resource missing from the snapshot is marked deleted
 * (time kept), one that comes back is undeleted; renamed resources remember their old names.
 */
export async function importSnapshots(
  tx: StoreTx, connector: ConnectorRow, entries: SnapshotEntry[], now: number, source: string,
): Promise<ImportSummary[]> {
  const def = connector.config as unknown as ConnectorDefinition;
  const parsed: Array<{ snap: ParsedSnapshot; region?: string }> = entries.map((e, i) => {
    const where = e.source ?? (entries.length > 1 ? `snapshots.${i}` : 'snapshot');
    if (e.provider !== undefined && !PROVIDERS.includes(e.provider as CloudProvider)) {
      throw protocolError('ARCSIM_E_SNAPSHOT_PROVIDER', `${where}: unknown provider ${JSON.stringify(e.provider)} (supported: AWS, GCP)`, `${where}.provider`);
    }
    if (e.kind && e.provider && KIND_PROVIDER[e.kind] !== e.provider) {
      throw protocolError('ARCSIM_E_SNAPSHOT_PROVIDER', `${where}: kind ${e.kind} is not a ${e.provider} output`, `${where}.kind`);
    }
    const snap = parseSnapshot(e.document, { kind: e.kind, region: e.region ?? (def.provider === 'AWS' ? def.defaultRegion : 'global'), where });
    if (snap.provider !== connector.provider || (e.provider && e.provider !== connector.provider)) {
      throw protocolError('ARCSIM_E_SNAPSHOT_PROVIDER', `${where}: a ${snap.provider} output (${snap.kind}) for ${connector.provider} connector ${connector.name}`, where);
    }
    const foreign = snap.accounts.filter((a) => a !== connector.accountId);
    if (foreign.length) {
      throw protocolError('ARCSIM_E_SNAPSHOT_ACCOUNT', `${where}: names ${foreign.join(', ')}, connector ${connector.name} is ${connector.accountId}`, where);
    }
    return { snap, region: e.region };
  });

  const total = parsed.reduce((n, p) => n + p.snap.resources.length, 0);
  if (total > SNAPSHOT_LIMITS.resourcesPerImport) {
    throw protocolError('ARCSIM_E_SNAPSHOT_LIMIT', `${source}: ${total} resources in one import, at most ${SNAPSHOT_LIMITS.resourcesPerImport}`, source);
  }
  const byKind = new Map<SnapshotKind, { resources: ParsedSnapshot['resources']; regions: Set<string> | null }>();
  for (const { snap, region } of parsed) {
    const slot = byKind.get(snap.kind) ?? { resources: [], regions: new Set<string>() };
    slot.resources.push(...snap.resources);
    // A document without a region covers the whole account/project.
    if (region === undefined || snap.provider === 'GCP') slot.regions = null;
    else slot.regions?.add(region);
    byKind.set(snap.kind, slot);
  }

  const summaries: ImportSummary[] = [];
  for (const [kind, { resources, regions }] of byKind) {
    const resourceKind = KIND_RESOURCE[kind];
    const existing = new Map((await tx.inventory.listCspmResources({ connector: connector.name, kind: resourceKind, includeDeleted: true })).map((r) => [r.nativeId, r]));
    const seen = new Set<string>();
    let added = 0, changed = 0, deleted = 0;
    for (const r of resources) {
      if (seen.has(r.nativeId)) continue; // the same resource twice in one snapshot: first wins
      seen.add(r.nativeId);
      const old = existing.get(r.nativeId);
      const previousNames = [...((old?.data.previousNames as string[] | undefined) ?? [])];
      if (old && old.name !== r.name && !previousNames.includes(old.name)) previousNames.push(old.name);
      const data = previousNames.length ? { ...r.data, previousNames } : r.data;
      const row: CspmResourceRow = {
        connector: connector.name, kind: resourceKind, nativeId: r.nativeId, resourceId: cspmResourceId(connector, r),
        name: r.name, region: r.region, state: r.state, data, firstSeen: old?.firstSeen ?? now, lastSeen: now, deletedAt: null,
      };
      if (!old) added++;
      else if (old.deletedAt !== null || old.name !== row.name || old.state !== row.state || JSON.stringify(old.data) !== JSON.stringify(row.data)) changed++;
      await tx.inventory.upsertCspmResource(row);
    }
    for (const old of existing.values()) {
      if (PARTIAL_KINDS.has(kind)) break; // the document described some of the kind's resources, not all
      if (seen.has(old.nativeId) || old.deletedAt !== null) continue;
      if (regions !== null && !regions.has(old.region)) continue;
      deleted++;
      await tx.inventory.upsertCspmResource({ ...old, deletedAt: now });
    }
    await tx.inventory.addSnapshotLog({ connector: connector.name, kind, source, takenAt: now, resources: seen.size, added, changed, deleted });
    summaries.push({ kind, resources: seen.size, added, changed, deleted });
  }
  return summaries;
}

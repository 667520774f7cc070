import { z } from 'zod';
import { issuePath, protocolError } from '../../protocol/errors.ts';
import type { ConnectorRow, CspmResourceRow, StoreTx } from '../store/index.ts';
import {
  cspmResourceId, KIND_PROVIDER, KIND_RESOURCE, parseSnapshot, PROVIDERS, SNAPSHOT_KINDS, type CloudProvider, type ParsedSnapshot, type SnapshotKind,
} from './snapshot-formats.ts';

const Name = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64)');

/** Where a scheduled pull reads one cloud output from: a command's stdout or a file. */
const PullSource = z.strictObject({
  command: z.string().min(1).optional(),
  file: z.string().min(1).optional(),
  kind: z.enum(SNAPSHOT_KINDS).optional(),
  region: z.string().optional(),
}).refine((s) => (s.command === undefined) !== (s.file === undefined), 'give exactly one of command or file');

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

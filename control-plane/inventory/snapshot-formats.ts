import { z } from 'zod';
import { issuePath, protocolError } from '../../protocol/errors.ts';

/**
 * The cloud outputs a connector accepts, in the clouds' own formats, and their normalisation into
 * CSPM resources. Schemas are strict about what arcsim reads (types, and enums the clouds publish
 * as stable: EC2 State.Name, GCE status, firewall direction) and tolerant of everything else
 * (`looseObject`): AWS and Google add output fields in new CLI/API versions (PlatformDetails,
 * BootMode, MaintenanceOptions, ...), and a user pasting real output from a newer CLI must not be
 * refused for a field arcsim never reads. Unknown keys are kept in nothing we store, so tolerance
 * cannot smuggle data in.
 */

export const SNAPSHOT_KINDS = ['aws-ec2-instances', 'aws-security-groups', 'gcp-compute-instances', 'gcp-firewall-rules', 'aws-eks-cluster', 'gcp-container-clusters'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];
export type CloudProvider = 'AWS' | 'GCP';
export const PROVIDERS: readonly CloudProvider[] = ['AWS', 'GCP'];

export const KIND_PROVIDER: Record<SnapshotKind, CloudProvider> = {
  'aws-ec2-instances': 'AWS',
  'aws-security-groups': 'AWS',
  'gcp-compute-instances': 'GCP',
  'gcp-firewall-rules': 'GCP',
  'aws-eks-cluster': 'AWS',
  'gcp-container-clusters': 'GCP',
};

/**
 * Kinds whose document describes some resources of the account, not all of them (`aws eks
 * describe-cluster` names one cluster): a resource missing from such a document is not deleted.
 */
export const PARTIAL_KINDS: ReadonlySet<SnapshotKind> = new Set(['aws-eks-cluster']);

/** The resource kind each snapshot kind holds. */
export const KIND_RESOURCE = {
  'aws-ec2-instances': 'aws-ec2-instance',
  'aws-security-groups': 'aws-security-group',
  'gcp-compute-instances': 'gcp-compute-instance',
  'gcp-firewall-rules': 'gcp-firewall-rule',
  'aws-eks-cluster': 'aws-eks-cluster',
  'gcp-container-clusters': 'gcp-gke-cluster',
} as const satisfies Record<SnapshotKind, string>;
export type ResourceKind = (typeof KIND_RESOURCE)[SnapshotKind];

/**
 * Bounds on what a snapshot may store, from the clouds' own documented limits (a document over one
 * cannot be real cloud output), plus arcsim's own backstops. A document over any of them is refused
 * whole with ARCSIM_E_SNAPSHOT_LIMIT (path + limit): imports are all or nothing, and truncating an
 * id-like field (a Name tag is a hostname hint for the merge) would store a value the cloud never had.
 */
export const SNAPSHOT_LIMITS = {
  // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
  /** AWS tag key, Unicode characters. */
  awsTagKeyChars: 128,
  /** AWS tag value, Unicode characters. */
  awsTagValueChars: 256,
  /** AWS tags per resource (user-created). */
  awsTagsPerResource: 50,
  // https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html ("up to 255 characters")
  /** AWS security group name, characters. */
  awsSecurityGroupNameChars: 255,
  // https://cloud.google.com/compute/docs/labeling-resources#requirements
  /** GCP label key, characters. */
  gcpLabelKeyChars: 63,
  /** GCP label value, characters. */
  gcpLabelValueChars: 63,
  /** GCP labels per resource. */
  gcpLabelsPerResource: 64,
  // https://cloud.google.com/compute/docs/naming-resources#resource-name-format (RFC 1035, 1-63)
  /** GCE instance / firewall rule name, characters. */
  gcpResourceNameChars: 63,
  // https://cloud.google.com/vpc/docs/add-remove-network-tags (1-63 characters, at most 64 per instance)
  /** GCE network tag, characters. */
  gcpNetworkTagChars: 63,
  /** GCE network tags per instance. */
  gcpNetworkTagsPerInstance: 64,
  // https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html (name: 1-100, ^[0-9A-Za-z][A-Za-z0-9\-_]*)
  /** EKS cluster name, characters. */
  eksClusterNameChars: 100,
  // https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters (name: at most 40, RFC 1035 label)
  /** GKE cluster name, characters. */
  gkeClusterNameChars: 40,
  /** arcsim's backstop for every other stored string (ids, types, DNS names, URLs), characters. */
  otherStringChars: 1024,
  /** arcsim's backstop for every other stored list (IPs, rules, ranges, interfaces), items. */
  otherListItems: 1000,
  /** Resources in one import (all documents together), items. */
  resourcesPerImport: 100_000,
} as const;
const L = SNAPSHOT_LIMITS;

/** A string of at most `n` Unicode characters (code points, as the clouds count; not UTF-16 units). */
const chars = (n: number) => z.string().superRefine((s, ctx) => {
  if (s.length <= n) return; // fast path: code points <= UTF-16 units
  const len = [...s].length;
  if (len > n) ctx.addIssue({ code: 'too_big', maximum: n, origin: 'string', inclusive: true, input: s, message: `at most ${n} characters (got ${len})` });
});
const str = chars(L.otherStringChars);
const list = <T extends z.ZodType>(item: T, n: number = L.otherListItems) => z.array(item).max(n, `at most ${n} items`);

const AwsTag = z.looseObject({ Key: chars(L.awsTagKeyChars), Value: chars(L.awsTagValueChars) });
const Ec2Instance = z.looseObject({
  InstanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/),
  ImageId: str.optional(),
  InstanceType: str,
  State: z.looseObject({ Code: z.number().int().optional(), Name: z.enum(['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped']) }),
  PrivateDnsName: str.optional(),
  PrivateIpAddress: str.optional(),
  PublicIpAddress: str.optional(),
  Platform: str.optional(),
  PlatformDetails: str.optional(),
  Placement: z.looseObject({ AvailabilityZone: str.min(1) }),
  VpcId: str.optional(),
  SecurityGroups: list(z.looseObject({ GroupId: str, GroupName: str.optional() })).default([]),
  NetworkInterfaces: list(z.looseObject({
    PrivateIpAddress: str.optional(),
    PrivateIpAddresses: list(z.looseObject({
      PrivateIpAddress: str,
      Association: z.looseObject({ PublicIp: str.optional() }).optional(),
    })).optional(),
    Association: z.looseObject({ PublicIp: str.optional() }).optional(),
  })).default([]),
  // Tags with the aws: prefix do not count against the per-resource limit (same AWS page).
  Tags: list(AwsTag).superRefine((tags, ctx) => {
    const n = tags.filter((t) => !t.Key.startsWith('aws:')).length;
    if (n > L.awsTagsPerResource) ctx.addIssue({ code: 'too_big', maximum: L.awsTagsPerResource, origin: 'array', inclusive: true, input: tags, message: `at most ${L.awsTagsPerResource} tags (got ${n})` });
  }).default([]),
});
const DescribeInstances = z.looseObject({
  Reservations: list(z.looseObject({ OwnerId: z.string().regex(/^\d{12}$/).optional(), Instances: list(Ec2Instance, L.resourcesPerImport) }), L.resourcesPerImport),
});

const IpPermission = z.looseObject({
  IpProtocol: str,
  FromPort: z.number().int().optional(),
  ToPort: z.number().int().optional(),
  IpRanges: list(z.looseObject({ CidrIp: str })).default([]),
  Ipv6Ranges: list(z.looseObject({ CidrIpv6: str })).default([]),
});
const DescribeSecurityGroups = z.looseObject({
  SecurityGroups: list(z.looseObject({
    GroupId: z.string().regex(/^sg-[0-9a-f]{8,17}$/),
    GroupName: chars(L.awsSecurityGroupNameChars),
    OwnerId: z.string().regex(/^\d{12}$/).optional(),
    VpcId: str.optional(),
    IpPermissions: list(IpPermission).default([]),
  }), L.resourcesPerImport),
});

const GceInstance = z.looseObject({
  kind: z.literal('compute#instance').optional(),
  // gcloud prints the uint64 id as a string; the REST API too.
  id: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String),
  name: chars(L.gcpResourceNameChars).min(1),
  zone: str.regex(/\/projects\/[^/]+\/zones\/[^/]+$/, 'a zone URL (.../projects/P/zones/Z)'),
  status: z.enum(['PROVISIONING', 'STAGING', 'RUNNING', 'STOPPING', 'STOPPED', 'SUSPENDING', 'SUSPENDED', 'REPAIRING', 'TERMINATED']),
  machineType: str,
  networkInterfaces: list(z.looseObject({
    network: str.optional(),
    networkIP: str.optional(),
    accessConfigs: list(z.looseObject({ natIP: str.optional() })).default([]),
  })).default([]),
  labels: z.record(chars(L.gcpLabelKeyChars), chars(L.gcpLabelValueChars)).superRefine((labels, ctx) => {
    const n = Object.keys(labels).length;
    if (n > L.gcpLabelsPerResource) ctx.addIssue({ code: 'too_big', maximum: L.gcpLabelsPerResource, origin: 'object', inclusive: true, input: labels, message: `at most ${L.gcpLabelsPerResource} labels (got ${n})` } as never);
  }).default({}),
  tags: z.looseObject({ items: list(chars(L.gcpNetworkTagChars), L.gcpNetworkTagsPerInstance).default([]) }).default({ items: [] }),
});
const GceFirewall = z.looseObject({
  kind: z.literal('compute#firewall').optional(),
  id: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String),
  name: chars(L.gcpResourceNameChars).min(1),
  network: str,
  selfLink: str.optional(),
  direction: z.enum(['INGRESS', 'EGRESS']).default('INGRESS'),
  priority: z.number().int().default(1000),
  disabled: z.boolean().default(false),
  sourceRanges: list(str).default([]),
  allowed: list(z.looseObject({ IPProtocol: str, ports: list(str).optional() })).default([]),
  targetTags: list(chars(L.gcpNetworkTagChars)).default([]),
});

/** `aws eks describe-cluster --name N` output (EKS DescribeCluster: `{cluster: {...}}`). */
const EksCluster = z.looseObject({
  name: chars(L.eksClusterNameChars).regex(/^[0-9A-Za-z][A-Za-z0-9\-_]*$/, 'an EKS cluster name'),
  arn: z.string().regex(/^arn:aws[a-z-]*:eks:[a-z0-9-]+:\d{12}:cluster\/.+$/, 'an EKS cluster ARN (arn:aws:eks:REGION:ACCOUNT:cluster/NAME)'),
  version: str.optional(),
  platformVersion: str.optional(),
  endpoint: str.optional(),
  status: z.enum(['CREATING', 'ACTIVE', 'DELETING', 'FAILED', 'UPDATING', 'PENDING']),
  createdAt: z.union([str, z.number()]).optional(),
  resourcesVpcConfig: z.looseObject({
    vpcId: str.optional(),
    endpointPublicAccess: z.boolean().optional(),
    endpointPrivateAccess: z.boolean().optional(),
    publicAccessCidrs: list(str).optional(),
  }).optional(),
  logging: z.looseObject({
    clusterLogging: list(z.looseObject({ types: list(z.enum(['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'])).default([]), enabled: z.boolean().default(false) })).default([]),
  }).optional(),
  tags: z.record(chars(L.awsTagKeyChars), chars(L.awsTagValueChars)).optional(),
});
const DescribeCluster = z.looseObject({ cluster: EksCluster });

/** One cluster of `gcloud container clusters list --format=json` (GKE API v1 Cluster). */
const GkeCluster = z.looseObject({
  name: chars(L.gkeClusterNameChars).regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'a GKE cluster name (RFC 1035 label)'),
  id: str.optional(),
  location: str.min(1),
  selfLink: z.string().regex(/\/projects\/[^/]+\/(locations|zones)\/[^/]+\/clusters\/[^/]+$/, 'a GKE cluster selfLink (…/projects/P/locations/L/clusters/N)'),
  currentMasterVersion: str.optional(),
  currentNodeVersion: str.optional(),
  currentNodeCount: z.number().int().nonnegative().optional(),
  status: z.enum(['STATUS_UNSPECIFIED', 'PROVISIONING', 'RUNNING', 'RECONCILING', 'STOPPING', 'ERROR', 'DEGRADED']),
  endpoint: str.optional(),
  loggingService: str.optional(),
  resourceLabels: z.record(chars(L.gcpLabelKeyChars), chars(L.gcpLabelValueChars)).optional(),
});

const SCHEMAS = {
  'aws-ec2-instances': DescribeInstances,
  'aws-security-groups': DescribeSecurityGroups,
  'gcp-compute-instances': list(GceInstance, L.resourcesPerImport),
  'gcp-firewall-rules': list(GceFirewall, L.resourcesPerImport),
  'aws-eks-cluster': DescribeCluster,
  'gcp-container-clusters': list(GkeCluster, L.resourcesPerImport),
} as const;

/** One resource as a connector stores it. */
export interface CspmResourceInput {
  kind: ResourceKind;
  nativeId: string;
  name: string;
  region: string;
  state: string;
  data: Record<string, unknown>;
}

export interface ParsedSnapshot {
  kind: SnapshotKind;
  provider: CloudProvider;
  /** AWS account ids / GCP project ids the document names (to check against the connector). */
  accounts: string[];
  resources: CspmResourceInput[];
}

/** Parses JSON text, or throws ARCSIM_E_SNAPSHOT_JSON (a truncated file ends up here). */
export function parseSnapshotText(text: string, where = 'snapshot'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw protocolError('ARCSIM_E_SNAPSHOT_JSON', `${where}: ${(err as Error).message}`, where);
  }
}

/** Recognises which cloud output a document is, from its shape; undefined when it is none. */
export function detectKind(doc: unknown): SnapshotKind | undefined {
  if (Array.isArray(doc)) {
    const first = doc[0] as Record<string, unknown> | undefined;
    if (!first || typeof first !== 'object') return undefined;
    if (first.kind === 'compute#instance' || ('machineType' in first && 'zone' in first)) return 'gcp-compute-instances';
    if (first.kind === 'compute#firewall' || ('sourceRanges' in first || 'allowed' in first || 'direction' in first)) return 'gcp-firewall-rules';
    if ('currentMasterVersion' in first || (typeof first.selfLink === 'string' && first.selfLink.includes('container.googleapis.com'))) return 'gcp-container-clusters';
    return undefined;
  }
  if (doc && typeof doc === 'object') {
    if ('Reservations' in doc) return 'aws-ec2-instances';
    if ('SecurityGroups' in doc) return 'aws-security-groups';
    if ('cluster' in doc) return 'aws-eks-cluster';
  }
  return undefined;
}

export interface ParseOptions {
  /** Explicit kind (needed for an empty gcloud list `[]`); otherwise detected from the shape. */
  kind?: SnapshotKind;
  /** AWS region of security groups (describe-security-groups does not name it). */
  region: string;
  where?: string;
}

/**
 * Validates one cloud document and normalises it into resources. Throws a catalogued error
 * (FORMAT, SCHEMA with the path of the first bad field); never returns a partial result.
 */
export function parseSnapshot(doc: unknown, options: ParseOptions): ParsedSnapshot {
  const where = options.where ?? 'snapshot';
  const kind = options.kind ?? detectKind(doc);
  if (!kind) {
    const hint = Array.isArray(doc) && doc.length === 0 ? ' (an empty list needs an explicit kind)' : '';
    throw protocolError('ARCSIM_E_SNAPSHOT_FORMAT', `${where}: expected the JSON of aws ec2 describe-instances / describe-security-groups, aws eks describe-cluster, or gcloud compute instances / firewall-rules list or gcloud container clusters list${hint}`, where);
  }
  const parsed = SCHEMAS[kind].safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = [where, issuePath(issue.path)].filter(Boolean).join('.');
    // Over a cloud's own limit: its own code, the path and the limit (never the oversized value).
    if (issue.code === 'too_big') throw protocolError('ARCSIM_E_SNAPSHOT_LIMIT', `${path} (${kind}): ${issue.message}`, path);
    throw protocolError('ARCSIM_E_SNAPSHOT_SCHEMA', `${path} (${kind}): ${issue.message}`, path);
  }
  const provider = KIND_PROVIDER[kind];
  switch (kind) {
    case 'aws-ec2-instances': return { kind, provider, ...ec2Resources(parsed.data as z.infer<typeof DescribeInstances>) };
    case 'aws-security-groups': return { kind, provider, ...sgResources(parsed.data as z.infer<typeof DescribeSecurityGroups>, options.region) };
    case 'gcp-compute-instances': return { kind, provider, ...gceResources(parsed.data as Array<z.infer<typeof GceInstance>>) };
    case 'gcp-firewall-rules': return { kind, provider, ...firewallResources(parsed.data as Array<z.infer<typeof GceFirewall>>) };
    case 'aws-eks-cluster': return { kind, provider, ...eksResources(parsed.data as z.infer<typeof DescribeCluster>) };
    case 'gcp-container-clusters': return { kind, provider, ...gkeResources(parsed.data as Array<z.infer<typeof GkeCluster>>) };
  }
}

/** `us-east-1a` -> `us-east-1`; local/wavelength zones (`us-west-2-lax-1a`) keep their region prefix. */
export function awsRegionOf(zone: string): string {
  const m = /^([a-z]{2}(?:-gov)?-[a-z]+-\d+)/.exec(zone);
  return m ? m[1]! : zone.replace(/[a-z]$/, '');
}

const last = (url: string) => url.split('/').filter(Boolean).pop() ?? url;
const shortHost = (name: string) => name.split('.')[0]!.toLowerCase();

function ec2Resources(doc: z.infer<typeof DescribeInstances>): Omit<ParsedSnapshot, 'kind' | 'provider'> {
  const accounts = new Set<string>();
  const resources: CspmResourceInput[] = [];
  for (const r of doc.Reservations) {
    if (r.OwnerId) accounts.add(r.OwnerId);
    for (const i of r.Instances) {
      const tags = Object.fromEntries(i.Tags.map((t) => [t.Key, t.Value]));
      const privateIps = new Set<string>(i.PrivateIpAddress ? [i.PrivateIpAddress] : []);
      const publicIps = new Set<string>(i.PublicIpAddress ? [i.PublicIpAddress] : []);
      for (const n of i.NetworkInterfaces) {
        if (n.PrivateIpAddress) privateIps.add(n.PrivateIpAddress);
        for (const p of n.PrivateIpAddresses ?? []) {
          privateIps.add(p.PrivateIpAddress);
          if (p.Association?.PublicIp) publicIps.add(p.Association.PublicIp);
        }
        if (n.Association?.PublicIp) publicIps.add(n.Association.PublicIp);
      }
      const hostnames = new Set<string>();
      if (i.PrivateDnsName) hostnames.add(shortHost(i.PrivateDnsName));
      if (tags.Name) hostnames.add(shortHost(tags.Name));
      const region = awsRegionOf(i.Placement.AvailabilityZone);
      resources.push({
        kind: 'aws-ec2-instance', nativeId: i.InstanceId, name: tags.Name ?? i.InstanceId, region, state: i.State.Name,
        data: {
          instanceId: i.InstanceId, accountId: r.OwnerId, region, availabilityZone: i.Placement.AvailabilityZone,
          instanceType: i.InstanceType, imageId: i.ImageId, vpcId: i.VpcId,
          osType: /windows/i.test(i.Platform ?? i.PlatformDetails ?? '') ? 'windows' : 'linux',
          privateDnsName: i.PrivateDnsName, privateIps: [...privateIps].sort(), publicIps: [...publicIps].sort(),
          hostnames: [...hostnames].sort(), tags, securityGroupIds: i.SecurityGroups.map((g) => g.GroupId).sort(),
        },
      });
    }
  }
  return { accounts: [...accounts], resources };
}

function sgResources(doc: z.infer<typeof DescribeSecurityGroups>, region: string): Omit<ParsedSnapshot, 'kind' | 'provider'> {
  const accounts = new Set<string>();
  const resources = doc.SecurityGroups.map((g): CspmResourceInput => {
    if (g.OwnerId) accounts.add(g.OwnerId);
    return {
      kind: 'aws-security-group', nativeId: g.GroupId, name: g.GroupName, region, state: 'active',
      data: {
        groupId: g.GroupId, groupName: g.GroupName, vpcId: g.VpcId, accountId: g.OwnerId, region,
        ingress: g.IpPermissions.map((p) => ({
          protocol: p.IpProtocol, fromPort: p.FromPort ?? null, toPort: p.ToPort ?? null,
          sources: [...p.IpRanges.map((x) => x.CidrIp), ...p.Ipv6Ranges.map((x) => x.CidrIpv6)],
        })),
      },
    };
  });
  return { accounts: [...accounts], resources };
}

function gceResources(doc: Array<z.infer<typeof GceInstance>>): Omit<ParsedSnapshot, 'kind' | 'provider'> {
  const accounts = new Set<string>();
  const resources = doc.map((i): CspmResourceInput => {
    const project = /\/projects\/([^/]+)\//.exec(i.zone)![1]!;
    accounts.add(project);
    const zone = last(i.zone);
    return {
      kind: 'gcp-compute-instance', nativeId: i.id, name: i.name, region: zone, state: i.status,
      data: {
        instanceId: i.id, instanceName: i.name, projectId: project, zone, machineType: last(i.machineType),
        privateIps: i.networkInterfaces.map((n) => n.networkIP).filter((x): x is string => !!x).sort(),
        publicIps: i.networkInterfaces.flatMap((n) => n.accessConfigs.map((a) => a.natIP)).filter((x): x is string => !!x).sort(),
        hostnames: [shortHost(i.name)], labels: i.labels, networkTags: [...i.tags.items].sort(),
        networks: i.networkInterfaces.map((n) => (n.network ? last(n.network) : 'default')),
      },
    };
  });
  return { accounts: [...accounts], resources };
}

function firewallResources(doc: Array<z.infer<typeof GceFirewall>>): Omit<ParsedSnapshot, 'kind' | 'provider'> {
  const accounts = new Set<string>();
  const resources = doc.map((f): CspmResourceInput => {
    const m = /\/projects\/([^/]+)\//.exec(f.selfLink ?? f.network);
    if (m) accounts.add(m[1]!);
    return {
      kind: 'gcp-firewall-rule', nativeId: f.id, name: f.name, region: 'global', state: f.disabled ? 'disabled' : 'enabled',
      data: {
        id: f.id, name: f.name, network: last(f.network), direction: f.direction, priority: f.priority, disabled: f.disabled,
        sourceRanges: f.sourceRanges, targetTags: f.targetTags,
        allowed: f.allowed.map((a) => ({ protocol: a.IPProtocol, ports: a.ports ?? [] })),
      },
    };
  });
  return { accounts: [...accounts], resources };
}

/** Whether a cluster writes its API server audit log where Defender for Containers reads it (EKS: the `audit` log type enabled). */
function eksAuditLogging(c: z.infer<typeof EksCluster>): boolean {
  return (c.logging?.clusterLogging ?? []).some((l) => l.enabled && l.types.includes('audit'));
}

function eksResources(doc: z.infer<typeof DescribeCluster>): Omit<ParsedSnapshot, 'kind' | 'provider'> {
  const c = doc.cluster;
  const [, , , region, account] = c.arn.split(':') as [string, string, string, string, string];
  return {
    accounts: [account],
    resources: [{
      kind: 'aws-eks-cluster', nativeId: c.arn, name: c.name, region, state: c.status,
      data: {
        clusterName: c.name, arn: c.arn, accountId: account, region, kubernetesVersion: c.version, platformVersion: c.platformVersion,
        endpoint: c.endpoint, endpointPublicAccess: c.resourcesVpcConfig?.endpointPublicAccess, vpcId: c.resourcesVpcConfig?.vpcId,
        auditLogging: eksAuditLogging(c), tags: c.tags ?? {},
      },
    }],
  };
}

function gkeResources(doc: Array<z.infer<typeof GkeCluster>>): Omit<ParsedSnapshot, 'kind' | 'provider'> {
  const accounts = new Set<string>();
  const resources = doc.map((c): CspmResourceInput => {
    const project = /\/projects\/([^/]+)\//.exec(c.selfLink)![1]!;
    accounts.add(project);
    return {
      kind: 'gcp-gke-cluster', nativeId: c.id ?? `${c.location}/${c.name}`, name: c.name, region: c.location, state: c.status,
      data: {
        clusterName: c.name, clusterId: c.id, projectId: project, location: c.location, kubernetesVersion: c.currentMasterVersion,
        nodeCount: c.currentNodeCount, endpoint: c.endpoint, loggingService: c.loggingService, labels: c.resourceLabels ?? {},
      },
    };
  });
  return { accounts: [...accounts], resources };
}

/** The MDC-style id of a connector's resource (see docs/inventory.md, "Resource ids"). */
export function cspmResourceId(c: { subscription: string; resourceGroup: string; name: string }, r: Pick<CspmResourceInput, 'kind' | 'nativeId' | 'region'>): string {
  const base = `/subscriptions/${c.subscription}/resourcegroups/${c.resourceGroup}/providers/microsoft.security/securityconnectors/${c.name}/securityentitydata`;
  switch (r.kind) {
    case 'aws-ec2-instance': return `${base}/aws-ec2-instance-${r.nativeId}-${r.region}`;
    case 'aws-security-group': return `${base}/aws-ec2-securitygroup-${r.nativeId}-${r.region}`;
    case 'gcp-compute-instance': return `${base}/gcp-compute-instance-${r.nativeId}-${r.region}`;
    case 'gcp-firewall-rule': return `${base}/gcp-compute-firewall-${r.nativeId}`;
    // EKS: the native id is the ARN (…:cluster/NAME); GKE: the cluster's id, or LOCATION/NAME without one.
    case 'aws-eks-cluster': return `${base}/aws-eks-cluster-${r.nativeId.split('/').pop()}-${r.region}`;
    case 'gcp-gke-cluster': return `${base}/gcp-container-cluster-${r.nativeId.replace('/', '-')}-${r.region}`;
  }
}

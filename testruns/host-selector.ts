import type { MachineFacts, SqlInstanceFacts } from '../protocol/index.ts';
import type { HostSelector } from './suite-schema.ts';

/** An agent as `GET /api/agents` lists it. */
export interface AgentInfo {
  agentId: string;
  connected: boolean;
  machine: { name: string; resourceId: string; status: string };
  facts: MachineFacts;
  sqlInstances: SqlInstanceFacts[];
}

/** The suite's cloud name for a machine: its `cloudMetadata.provider`, with N/A (or nothing) meaning on-prem. */
export function cloudOf(facts: MachineFacts): string {
  const p = (facts.cloudMetadata.provider ?? '').trim().toLowerCase();
  return p === '' || p === 'n/a' || p === 'na' || p === 'none' ? 'onprem' : p;
}

export function osOf(facts: MachineFacts): string | null {
  const os = (facts.osType ?? facts.osName ?? '').toLowerCase();
  return os.includes('windows') ? 'windows' : os.includes('linux') ? 'linux' : os || null;
}

/**
 * The tags a selector matches: what the agent reports from the cloud (AWS account/instance/region,
 * GCP project/zone, ...) plus `Cloud`, named like the tags MDC writes on auto-onboarded machines.
 * (Issue #3 personas may add their own tags; they belong here.)
 */
export function tagsOf(facts: MachineFacts): Record<string, string> {
  return { Cloud: cloudOf(facts).toUpperCase(), ...(facts.cloudMetadata.details ?? {}) };
}

function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** True when the agent's machine satisfies every field the selector sets. */
export function matchesSelector(sel: HostSelector, a: AgentInfo): boolean {
  const f = a.facts;
  if (sel.cloud !== undefined) {
    const clouds: string[] = Array.isArray(sel.cloud) ? sel.cloud : [sel.cloud];
    if (!clouds.includes(cloudOf(f))) return false;
  }
  if (sel.os !== undefined && osOf(f) !== sel.os) return false;
  if (sel.sql !== undefined && (a.sqlInstances.length > 0) !== sel.sql) return false;
  if (sel.persona === false && f.persona) return false;
  if (typeof sel.persona === 'string' && f.persona !== sel.persona) return false;
  if (sel.hostname !== undefined && !glob(sel.hostname).test(f.hostname)) return false;
  if (sel.tags) {
    const tags = tagsOf(f);
    for (const [k, v] of Object.entries(sel.tags)) if (tags[k] !== v) return false;
  }
  return true;
}

/** The matrix column of a host: `name (cloud)`; a Kubernetes node's names its cluster: `cluster/name (cloud)`. */
export function hostColumn(a: AgentInfo): string {
  const cluster = a.facts.kubernetes?.clusterName;
  return `${cluster ? `${cluster}/` : ''}${a.machine.name} (${cloudOf(a.facts)})`;
}

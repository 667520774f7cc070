import type { KubernetesFacts, MachineFacts, SqlInstanceFacts } from '../protocol/index.ts';
import type { AgentConfig } from './agent-config.ts';
import { AGENT_DEFAULTS } from './agent-defaults.ts';
import { detectCloud } from './cloud-detector.ts';
import { collectHostFacts, loadSysteminformation, probe } from './host-facts.ts';
import { applyPersona, type Persona } from './persona.ts';
import { discoverSqlInstances, type ListenerInfo, type ProcessInfo } from './sql-discovery.ts';

export interface Inventory {
  machine: MachineFacts;
  sqlInstances: SqlInstanceFacts[];
  /** How facts were found (cloud evidence, metadata failures, persona), for logs and `agent inventory`. */
  notes: string[];
}

export interface InventoryOptions extends Pick<AgentConfig, 'sqlInstances' | 'kubernetes'> {
  sysRoot?: string;
  awsImdsUrl?: string;
  gcpMetadataUrl?: string;
  metadataTimeoutMs?: number;
  persona?: Persona;
  /** Process and listener sources; default: systeminformation. */
  processes?: () => Promise<ProcessInfo[]>;
  listeners?: () => Promise<ListenerInfo[]>;
  /** Environment the node name is read from (NODE_NAME); default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/** The cluster facts of a node: the config's, with the node name from NODE_NAME (downward API) or the host name. */
export function kubernetesFacts(k: NonNullable<AgentConfig['kubernetes']>, env: NodeJS.ProcessEnv, hostname: string): KubernetesFacts {
  return { ...k, nodeName: k.nodeName ?? (env.NODE_NAME || hostname.toLowerCase()) };
}

async function siProcesses(): Promise<ProcessInfo[]> {
  const r = await (await loadSysteminformation()).processes();
  return r.list.map((p) => ({ pid: p.pid, parentPid: p.parentPid, name: p.name, command: p.command, path: p.path, params: p.params }));
}

async function siListeners(): Promise<ListenerInfo[]> {
  const conns = await (await loadSysteminformation()).networkConnections();
  return conns
    .filter((c) => c.state === 'LISTEN' && /^tcp/.test(c.protocol))
    .map((c) => ({ port: Number(c.localPort), pid: c.pid ?? null, process: c.process }))
    .filter((l) => Number.isInteger(l.port));
}

/**
 * Everything the agent registers: host facts, the cloud (local evidence, then that cloud's
 * metadata service), SQL instances (processes, ports, declared), then the persona on top.
 * A persona that names a cloud replaces detection, so no metadata service is asked.
 */
export async function collectInventory(o: InventoryOptions = {}): Promise<Inventory> {
  const notes: string[] = [];
  const host = await collectHostFacts({ sysRoot: o.sysRoot ?? AGENT_DEFAULTS.sysRoot });
  const machine = host.machine;
  if (!o.persona?.cloud) {
    const cloud = await detectCloud(host.local, {
      awsImdsUrl: o.awsImdsUrl ?? AGENT_DEFAULTS.awsImdsUrl,
      gcpMetadataUrl: o.gcpMetadataUrl ?? AGENT_DEFAULTS.gcpMetadataUrl,
      timeoutMs: o.metadataTimeoutMs ?? AGENT_DEFAULTS.metadataTimeoutMs,
    });
    machine.cloudMetadata = cloud.details ? { provider: cloud.provider, details: cloud.details } : { provider: cloud.provider };
    machine.detectedProperties.cloudprovider = cloud.provider;
    notes.push(cloud.evidence ? `cloud ${cloud.provider}: ${cloud.evidence}` : `cloud ${cloud.provider}: no local evidence of a cloud; no metadata service asked`);
    if (cloud.metadataError) notes.push(`metadata service gave nothing (${cloud.metadataError}); provider kept from local evidence`);
  }
  const [processes, listeners] = await Promise.all([
    probe(o.processes ?? siProcesses),
    probe(o.listeners ?? siListeners),
  ]);
  if (!processes) notes.push('running processes could not be read: SQL discovery by process skipped');
  if (!listeners) notes.push('listening ports could not be read: SQL discovery by port skipped');
  const sqlInstances = discoverSqlInstances({ processes, listeners, declared: o.sqlInstances });
  machine.detectedProperties.mssqldiscovered = String(sqlInstances.some((s) => s.engine === 'sqlserver'));
  if (o.kubernetes) {
    machine.kubernetes = kubernetesFacts(o.kubernetes, o.env ?? process.env, machine.hostname);
    notes.push(`Kubernetes node ${machine.kubernetes.nodeName} of cluster ${machine.kubernetes.clusterName}`);
  }
  let result = { machine, sqlInstances };
  if (o.persona) {
    result = applyPersona(result, o.persona);
    notes.push(`persona "${o.persona.name}" applied`);
  }
  return { ...result, notes };
}

import { z } from 'zod';
import { EventSchema, isValidEventRow } from './events.ts';
import { FaultsSchema } from './faults.ts';
import { protocolError, issuePath, type ArcsimError } from './errors.ts';

/** Protocol v1: JSON text frames, one message each, `{v: 1, type, ...}`; unknown keys refused. */
export const PROTOCOL_VERSION = 1;

const v = z.literal(PROTOCOL_VERSION);
const isoTime = z.iso.datetime({ offset: true });

export const NetworkInterfaceSchema = z.strictObject({
  name: z.string(),
  macAddress: z.string().optional(),
  ipAddresses: z.array(z.string()),
});

/** A DNS-1123 label or subdomain, as Kubernetes names nodes; cluster names as ARM names allow. */
const k8sName = z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'lower-case letters, digits, - and . (a DNS-1123 name)');

/** The Kubernetes cluster an agent's node belongs to (docs/kubernetes.md). */
export const KubernetesFactsSchema = z.strictObject({
  /** The cluster's name: the connectedClusters resource name (1-63 characters, as ARM allows for it). */
  clusterName: z.string().min(1).max(63).regex(/^[a-zA-Z0-9][-_a-zA-Z0-9]*$/, 'letters, digits, - and _ (a connectedClusters name)'),
  /** This node's name (the DaemonSet gets it from the downward API, spec.nodeName). */
  nodeName: k8sName,
  /** connectedClusters `distribution` (aks, eks, gke, k3s, kind, openshift, generic, ...). */
  distribution: z.string().min(1).max(64).optional(),
  /** connectedClusters `infrastructure` (aws, gcp, azure_stack_hci, generic, ...). */
  infrastructure: z.string().min(1).max(64).optional(),
  /** The API server's version (`v1.30.2`), when known. */
  kubernetesVersion: z.string().max(64).optional(),
});
export type KubernetesFacts = z.infer<typeof KubernetesFactsSchema>;

/** What an agent knows about its host, shaped after the Arc machine properties. */
export const MachineFactsSchema = z.strictObject({
  hostname: z.string().min(1).max(255),
  machineFqdn: z.string().max(255).optional(),
  domainName: z.string().max(255).optional(),
  osName: z.string().max(255).optional(),
  osType: z.string().max(32).optional(),
  osVersion: z.string().max(255).optional(),
  osSku: z.string().max(255).optional(),
  osEdition: z.string().max(255).optional(),
  vmUuid: z.string().max(64).optional(),
  agentVersion: z.string().max(64),
  detectedProperties: z.record(z.string(), z.string()),
  cloudMetadata: z.strictObject({
    provider: z.string().max(16),
    /** Fields the real agent reports from the cloud (AWS account/instance/region, GCP project/zone, ...). */
    details: z.record(z.string(), z.string()).optional(),
  }),
  networkInterfaces: z.array(NetworkInterfaceSchema).max(256).optional(),
  /** Set when the facts were (partly) overridden by a persona file: its name. */
  persona: z.string().max(255).optional(),
  /**
   * Set when the agent runs on a Kubernetes node (the DaemonSet of deploy/kubernetes/, or a cluster
   * persona): the cluster it is a node of. The control plane shows each cluster as an Arc-enabled
   * Kubernetes resource (Microsoft.Kubernetes/connectedClusters) whose nodes are these machines.
   */
  kubernetes: KubernetesFactsSchema.optional(),
});
export type MachineFacts = z.infer<typeof MachineFactsSchema>;

/**
 * Configuration facts of a SQL Server instance that the SQL vulnerability assessment rules read
 * (control-plane/vulnerabilities/sql-va-rules.ts). The agent cannot log in to SQL Server, so only
 * a persona (or the agent config) declares them; a fact left out is a rule not evaluated.
 */
export const SqlSecurityFactsSchema = z.strictObject({
  /** sp_configure 'xp_cmdshell' is 1 (VA1059). */
  xpCmdshellEnabled: z.boolean().optional(),
  /** The login with principal id 1 is enabled (VA1058). */
  saLoginEnabled: z.boolean().optional(),
  /** The login with principal id 1 is still named `sa` (VA1053, with saLoginEnabled). */
  saLoginNamedSa: z.boolean().optional(),
  /** SQL logins with CHECK_POLICY off (VA1046). */
  loginsWithoutCheckPolicy: z.array(z.string().min(1).max(128)).max(256).optional(),
  /** SQL logins with CHECK_EXPIRATION off (VA1047). */
  loginsWithoutCheckExpiration: z.array(z.string().min(1).max(128)).max(256).optional(),
  /** Server authentication: Windows only, or mixed mode (VA1072). */
  authenticationMode: z.enum(['Windows', 'Mixed']).optional(),
  /** sp_configure 'Database Mail XPs' is 1 (VA1067). */
  databaseMailXpsEnabled: z.boolean().optional(),
  /** sp_configure 'clr enabled' is 1 (VA1023). */
  clrEnabled: z.boolean().optional(),
  /** sp_configure 'Ad Hoc Distributed Queries' is 1 (VA1022). */
  adHocDistributedQueriesEnabled: z.boolean().optional(),
  /** User databases with transparent data encryption off (VA1219). */
  databasesWithoutTde: z.array(z.string().min(1).max(128)).max(256).optional(),
  /** The instance's Force Encryption option (VA1279). */
  forceEncryption: z.boolean().optional(),
});
export type SqlSecurityFacts = z.infer<typeof SqlSecurityFactsSchema>;

export const SqlInstanceFactsSchema = z.strictObject({
  instanceName: z.string().min(1).max(255),
  engine: z.enum(['sqlserver', 'postgresql', 'mysql']),
  version: z.string().max(64).optional(),
  edition: z.string().max(64).optional(),
  tcpStaticPorts: z.string().max(255).optional(),
  tcpDynamicPorts: z.string().max(255).optional(),
  discoveredBy: z.enum(['process', 'port', 'config', 'persona']).optional(),
  securityFacts: SqlSecurityFactsSchema.optional(),
});
export type SqlInstanceFacts = z.infer<typeof SqlInstanceFactsSchema>;

export const ExtensionStateSchema = z.strictObject({
  name: z.string().max(128),
  publisher: z.string().max(128).optional(),
  status: z.enum(['Succeeded', 'Creating', 'Deleting', 'Failed', 'Disabled']),
});

export const RegisterSchema = z.strictObject({
  v, type: z.literal('register'),
  machine: MachineFactsSchema,
  sqlInstances: z.array(SqlInstanceFactsSchema).max(64).default([]),
  extensions: z.array(ExtensionStateSchema).max(64).optional(),
});

export const RegisteredSchema = z.strictObject({
  v, type: z.literal('registered'),
  machineId: z.string(),
  sqlInstanceIds: z.array(z.string()),
  heartbeatIntervalSec: z.number().int().positive(),
  extensions: z.array(ExtensionStateSchema),
});

export const HeartbeatSchema = z.strictObject({
  v, type: z.literal('heartbeat'),
  time: isoTime,
  /** Events the agent's spool dropped because it was full, since its spool was created (a total, not a delta). */
  droppedEvents: z.number().int().nonnegative().optional(),
  /** Events waiting in the agent's spool (not yet acked) when the heartbeat was sent. */
  spooledEvents: z.number().int().nonnegative().optional(),
});

export const EventsSchema = z.strictObject({
  v, type: z.literal('events'),
  seq: z.number().int().nonnegative(),
  events: z.array(EventSchema),
});

export const AckSchema = z.strictObject({
  v, type: z.literal('ack'),
  /** Highest batch sequence number that is durably committed. */
  seq: z.number().int().nonnegative(),
  /** Events of the batch that were new (the rest were redeliveries). */
  stored: z.number().int().nonnegative(),
});

export const RunScenarioCommand = z.strictObject({
  action: z.literal('run-scenario'),
  /** The scenario document; the agent validates it with the scenario schema before playing. */
  scenario: z.record(z.string(), z.unknown()),
  variant: z.enum(['attack', 'benign']).default('attack'),
  detonationId: z.string().min(1).max(128),
  seed: z.union([z.number().int(), z.string()]).optional(),
  /** Time-warp factor; 0 plays instantly with original event timestamps. */
  speed: z.number().nonnegative().optional(),
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** Delivery faults to inject while playing (test runs only; see protocol/faults.ts). */
  faults: FaultsSchema.optional(),
  /** Runs never overlap on one host unless this is set: without it a run waits for the current one. */
  allowOverlap: z.boolean().optional(),
});

/** Stops a running scenario's warmup/detonation; its cleanup phase still runs. */
export const CancelScenarioCommand = z.strictObject({
  action: z.literal('cancel-scenario'),
  detonationId: z.string().min(1).max(128),
});

export const CommandSchema = z.strictObject({
  v, type: z.literal('command'),
  id: z.string().min(1).max(128),
  command: z.discriminatedUnion('action', [
    RunScenarioCommand,
    CancelScenarioCommand,
    z.strictObject({ action: z.literal('set-extension'), name: z.string(), enabled: z.boolean() }),
    z.strictObject({ action: z.literal('update-config'), heartbeatIntervalSec: z.number().int().positive().optional() }),
  ]),
});

export const CommandResultSchema = z.strictObject({
  v, type: z.literal('command-result'),
  id: z.string().min(1).max(128),
  ok: z.boolean(),
  detonationId: z.string().optional(),
  events: z.number().int().nonnegative().optional(),
  /** Events a scenario produced that no installed extension's sensor collects, per table. */
  notCollected: z.record(z.string(), z.number().int().nonnegative()).optional(),
  message: z.string().max(4096).optional(),
});

export const ErrorMessageSchema = z.strictObject({
  v, type: z.literal('error'),
  code: z.string().regex(/^ARCSIM_E_[A-Z0-9_]+$/),
  message: z.string(),
  path: z.string().optional(),
  /** The batch seq or command id the error refers to, when there is one. */
  ref: z.union([z.number(), z.string()]).optional(),
  /** True when the same frame may succeed if sent again (the batch was not stored and should be kept). */
  retryable: z.boolean().optional(),
  /** Advised least delay before resending, ms (the agent adds backoff and jitter on top). */
  retryAfterMs: z.number().int().nonnegative().optional(),
});

/**
 * Key rotation: the control plane hands the connected agent its next key. The agent writes it to
 * its identity file durably (fsync, rename) and answers `key-rotated` with the same id; only then
 * does the old key stop working. Never sent as a `command`, so no command API can forge one.
 */
export const RotateKeySchema = z.strictObject({
  v, type: z.literal('rotate-key'),
  id: z.string().min(1).max(128),
  agentKey: z.string().min(16).max(256),
});

export const KeyRotatedSchema = z.strictObject({
  v, type: z.literal('key-rotated'),
  id: z.string().min(1).max(128),
});

/**
 * Sent by `arcsim agent uninstall` on a socket opened with the agent's own key (no `register`
 * needed): the control plane deletes the machine, revokes the key, answers `deregistered` and closes.
 */
export const DeregisterSchema = z.strictObject({
  v, type: z.literal('deregister'),
});

export const DeregisteredSchema = z.strictObject({
  v, type: z.literal('deregistered'),
  /** The deleted machine's resource id; null when the agent had never registered one. */
  machineId: z.string().nullable(),
});

export const MESSAGE_SCHEMAS = {
  register: RegisterSchema,
  registered: RegisteredSchema,
  heartbeat: HeartbeatSchema,
  events: EventsSchema,
  ack: AckSchema,
  command: CommandSchema,
  'command-result': CommandResultSchema,
  error: ErrorMessageSchema,
  'rotate-key': RotateKeySchema,
  'key-rotated': KeyRotatedSchema,
  deregister: DeregisterSchema,
  deregistered: DeregisteredSchema,
} as const;

export type MessageType = keyof typeof MESSAGE_SCHEMAS;
export type Message = { [K in MessageType]: z.infer<(typeof MESSAGE_SCHEMAS)[K]> }[MessageType];
export type MessageOf<K extends MessageType> = z.infer<(typeof MESSAGE_SCHEMAS)[K]>;
/** Message as written by a sender (fields with defaults may be left out). */
export type MessageInput<K extends MessageType> = z.input<(typeof MESSAGE_SCHEMAS)[K]>;

/** Types an agent may send, and types the control plane may send. */
export const AGENT_TO_SERVER: ReadonlySet<MessageType> = new Set(['register', 'heartbeat', 'events', 'command-result', 'key-rotated', 'deregister']);
export const SERVER_TO_AGENT: ReadonlySet<MessageType> = new Set(['registered', 'ack', 'command', 'error', 'rotate-key', 'deregistered']);

/**
 * Decodes one text frame into a validated message of one of the `allowed` types.
 * Pure: no socket needed, so every frame fault can be tested by feeding strings.
 * Returns the catalogued error instead of throwing.
 */
export function decodeFrame(
  text: string,
  allowed: ReadonlySet<MessageType>,
  limits: { maxEventsPerBatch?: number } = {},
): { ok: true; message: Message } | { ok: false; error: ArcsimError } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: protocolError('ARCSIM_E_FRAME_JSON', (err as Error).message) };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: protocolError('ARCSIM_E_FRAME_SCHEMA', 'a frame is a JSON object', '') };
  }
  const obj = raw as Record<string, unknown>;
  const type = obj.type;
  if (typeof type !== 'string' || !(type in MESSAGE_SCHEMAS) || !allowed.has(type as MessageType)) {
    return { ok: false, error: protocolError('ARCSIM_E_FRAME_TYPE', `type ${JSON.stringify(type)} is not accepted here`, 'type') };
  }
  if (obj.v !== PROTOCOL_VERSION) {
    return { ok: false, error: protocolError('ARCSIM_E_VERSION', `got v=${JSON.stringify(obj.v)}, this side speaks v${PROTOCOL_VERSION}`, 'v') };
  }
  if (type === 'events' && limits.maxEventsPerBatch !== undefined && Array.isArray(obj.events) && obj.events.length > limits.maxEventsPerBatch) {
    return {
      ok: false,
      error: protocolError('ARCSIM_E_BATCH_TOO_LARGE', `${obj.events.length} events > ${limits.maxEventsPerBatch}`, 'events'),
    };
  }
  if (type === 'events' && isValidEventsFrame(obj)) return { ok: true, message: obj as Message };
  const parsed = MESSAGE_SCHEMAS[type as MessageType].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, error: protocolError('ARCSIM_E_FRAME_SCHEMA', issue.message, issuePath(issue.path)) };
  }
  return { ok: true, message: parsed.data as Message };
}

/**
 * An `events` frame EventsSchema accepts, checked without zod's parse (issue 16: zod's array and
 * refinement machinery around each row cost the ingest thread ~2 % of its time, docs/performance.md
 * "Change 5"): no key but the four (each of them there), a non-negative integer `seq`, and every row valid by
 * isValidEventRow (checkRow's own rules). `v` and `type` are checked by the caller. False sends
 * the frame to the schema, which decides and words the error; true means the schema would return
 * an equal object (its rows as given); this one is returned.
 */
function isValidEventsFrame(obj: Record<string, unknown>): boolean {
  for (const key in obj) if (key !== 'v' && key !== 'type' && key !== 'seq' && key !== 'events') return false;
  const { seq, events } = obj;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0 || !Array.isArray(events)) return false;
  for (let i = 0; i < events.length; i++) if (!isValidEventRow(events[i])) return false;
  return true;
}

/**
 * An `ack`, the frame the server sends most (one per batch: 1,000 a second at 10,000 agents), built
 * without the schema pass encodeFrame makes: its only fields are two counts, checked here as
 * AckSchema would (non-negative integers); the text is what encodeFrame gives.
 */
export function encodeAck(seq: number, stored: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(stored) || stored < 0) {
    return encodeFrame('ack', { seq, stored }); // throws the schema's own error
  }
  return `{"v":${PROTOCOL_VERSION},"type":"ack","seq":${seq},"stored":${stored}}`;
}

/** Encodes a message for the wire, after checking it against its own schema. */
export function encodeFrame<K extends MessageType>(type: K, body: Omit<MessageInput<K>, 'v' | 'type'>): string {
  const message = MESSAGE_SCHEMAS[type].parse({ v: PROTOCOL_VERSION, type, ...body });
  return JSON.stringify(message);
}

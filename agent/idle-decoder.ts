import { protocolError, type ArcsimError } from '../protocol/errors.ts';
import type { MachineFacts, Message, MessageInput, SqlInstanceFacts } from '../protocol/messages.ts';

/**
 * The frames an idle agent receives and the two it sends, decoded and checked by hand, so an idle
 * agent never evaluates zod nor builds the protocol schemas (issue 11, item 3: idle RSS ≤ 50 MB;
 * zod and the schemas were most of the idle heap). Only types are imported from
 * protocol/messages.ts (erased at build time).
 *
 * The checks mirror the zod schemas of protocol/messages.ts field for field (strict objects,
 * string lengths in code points as zod 4 counts them, safe integers for `.int()`);
 * test/agent/idle-decoder.test.ts generates valid and mutated frames and asserts this decoder and
 * the schemas accept and refuse exactly the same, with the same value. What it does not decide
 * (`undefined`) goes to the zod decoder, loaded on first use (`fullDecoder`): a `run-scenario`
 * command (whose scenario, inputs and faults the zod schemas check) and every frame that fails a
 * check here (zod then says why, with its message and path).
 */

export type Decoded = { ok: true; message: Message } | { ok: false; error: ArcsimError };

const V = 1; // PROTOCOL_VERSION (protocol/messages.ts; the test checks they agree)

/** The types a control plane may send (protocol/messages.ts SERVER_TO_AGENT; the test checks they agree). */
export const SERVER_TYPES: readonly string[] = ['registered', 'ack', 'command', 'error', 'rotate-key', 'deregistered'];

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
/** A strict object: every own key is one of `keys` (zod's strictObject refuses the others). */
const only = (o: Obj, keys: readonly string[]): boolean => Object.keys(o).every((k) => keys.includes(k));
/** Code points in `s` (a surrogate pair counts once, a lone surrogate as one): how zod 4 measures `.min()` / `.max()`. */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n;
}
/** A string of `min` to `max` code points. */
export const str = (x: unknown, min = 0, max = Infinity): x is string =>
  typeof x === 'string' && ((min === 0 && max === Infinity) || (codePoints(x) >= min && codePoints(x) <= max));
const optStr = (x: unknown, max = Infinity): boolean => x === undefined || str(x, 0, max);
const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const int = (x: unknown): x is number => Number.isSafeInteger(x);
const nonNegInt = (x: unknown): x is number => int(x) && x >= 0;
const bool = (x: unknown): x is boolean => typeof x === 'boolean';

const EXTENSION_STATUSES = ['Succeeded', 'Creating', 'Deleting', 'Failed', 'Disabled'];

/** ExtensionStateSchema. */
function extensionState(x: unknown): boolean {
  return isObj(x) && only(x, ['name', 'publisher', 'status']) && str(x.name, 0, 128) && optStr(x.publisher, 128)
    && EXTENSION_STATUSES.includes(x.status as string);
}

/** The checks of each hand-decoded type, on an object whose `v` and `type` are already right. */
const CHECKS: Record<string, (m: Obj) => boolean | undefined> = {
  registered: (m) => only(m, ['v', 'type', 'machineId', 'sqlInstanceIds', 'heartbeatIntervalSec', 'extensions'])
    && str(m.machineId) && Array.isArray(m.sqlInstanceIds) && m.sqlInstanceIds.every((s) => str(s))
    && int(m.heartbeatIntervalSec) && m.heartbeatIntervalSec > 0
    && Array.isArray(m.extensions) && m.extensions.every(extensionState),
  ack: (m) => only(m, ['v', 'type', 'seq', 'stored']) && nonNegInt(m.seq) && nonNegInt(m.stored),
  error: (m) => only(m, ['v', 'type', 'code', 'message', 'path', 'ref', 'retryable', 'retryAfterMs'])
    && str(m.code) && /^ARCSIM_E_[A-Z0-9_]+$/.test(m.code) && str(m.message) && optStr(m.path)
    && (m.ref === undefined || num(m.ref) || str(m.ref))
    && (m.retryable === undefined || bool(m.retryable))
    && (m.retryAfterMs === undefined || nonNegInt(m.retryAfterMs)),
  'rotate-key': (m) => only(m, ['v', 'type', 'id', 'agentKey']) && str(m.id, 1, 128) && str(m.agentKey, 16, 256),
  deregistered: (m) => only(m, ['v', 'type', 'machineId']) && (m.machineId === null || str(m.machineId)),
  command: (m) => {
    if (!only(m, ['v', 'type', 'id', 'command']) || !str(m.id, 1, 128) || !isObj(m.command)) return false;
    const c = m.command;
    switch (c.action) {
      case 'set-extension': return only(c, ['action', 'name', 'enabled']) && str(c.name) && bool(c.enabled);
      case 'update-config': return only(c, ['action', 'heartbeatIntervalSec'])
        && (c.heartbeatIntervalSec === undefined || (int(c.heartbeatIntervalSec) && c.heartbeatIntervalSec > 0));
      case 'cancel-scenario': return only(c, ['action', 'detonationId']) && str(c.detonationId, 1, 128);
      default: return undefined; // run-scenario (scenario, inputs, faults, defaults): zod decides
    }
  },
};

/**
 * Decodes one frame from the control plane, as `decodeFrame(text, SERVER_TO_AGENT)` does; returns
 * `undefined` when the zod decoder must decide (see above). The frame comes from JSON.parse, so
 * the checked object itself is the decoded message (zod's strict objects give an equal copy).
 */
export function decodeIdleFrame(text: string): Decoded | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: protocolError('ARCSIM_E_FRAME_JSON', (err as Error).message) };
  }
  if (!isObj(raw)) return { ok: false, error: protocolError('ARCSIM_E_FRAME_SCHEMA', 'a frame is a JSON object', '') };
  const type = raw.type;
  if (typeof type !== 'string' || !SERVER_TYPES.includes(type)) {
    return { ok: false, error: protocolError('ARCSIM_E_FRAME_TYPE', `type ${JSON.stringify(type)} is not accepted here`, 'type') };
  }
  if (raw.v !== V) return { ok: false, error: protocolError('ARCSIM_E_VERSION', `got v=${JSON.stringify(raw.v)}, this side speaks v${V}`, 'v') };
  return CHECKS[type]!(raw) === true ? { ok: true, message: raw as Message } : undefined;
}

/** `decodeFrame` of protocol/messages.ts for what the idle decoder leaves; imports zod and the schemas the first time. */
export async function fullDecoder(): Promise<(text: string) => Decoded> {
  const { decodeFrame, SERVER_TO_AGENT } = await import('../protocol/messages.ts');
  return (text) => decodeFrame(text, SERVER_TO_AGENT);
}

// ---- Frames the agent sends at idle: register (with the host facts) and heartbeat. ----

const record = (x: unknown): boolean =>
  // zod's record copies key by key, and a `__proto__` key does not survive that: leave it to zod.
  isObj(x) && !Object.hasOwn(x, '__proto__') && Object.values(x).every((s) => typeof s === 'string');

const FACT_KEYS = ['hostname', 'machineFqdn', 'domainName', 'osName', 'osType', 'osVersion', 'osSku', 'osEdition', 'vmUuid',
  'agentVersion', 'detectedProperties', 'cloudMetadata', 'networkInterfaces', 'persona', 'kubernetes'];
const SQL_ENGINES = ['sqlserver', 'postgresql', 'mysql'];
const SQL_DISCOVERY = ['process', 'port', 'config', 'persona'];

/** MachineFactsSchema, by hand (true when zod would accept the facts unchanged). */
export function machineFactsOk(m: unknown): m is MachineFacts {
  if (!isObj(m) || !only(m, FACT_KEYS)) return false;
  const c = m.cloudMetadata;
  const nics = m.networkInterfaces;
  return str(m.hostname, 1, 255) && optStr(m.machineFqdn, 255) && optStr(m.domainName, 255) && optStr(m.osName, 255)
    && optStr(m.osType, 32) && optStr(m.osVersion, 255) && optStr(m.osSku, 255) && optStr(m.osEdition, 255)
    && optStr(m.vmUuid, 64) && str(m.agentVersion, 0, 64) && record(m.detectedProperties)
    && isObj(c) && only(c, ['provider', 'details']) && str(c.provider, 0, 16) && (c.details === undefined || record(c.details))
    && (nics === undefined || (Array.isArray(nics) && nics.length <= 256 && nics.every((n) => isObj(n)
      && only(n, ['name', 'macAddress', 'ipAddresses']) && str(n.name) && optStr(n.macAddress)
      && Array.isArray(n.ipAddresses) && n.ipAddresses.every((a) => str(a)))))
    && optStr(m.persona, 255) && (m.kubernetes === undefined || kubernetesOk(m.kubernetes));
}

/** KubernetesFactsSchema, by hand, loosely: anything unusual goes to zod, which decides. */
function kubernetesOk(k: unknown): boolean {
  return isObj(k) && only(k, ['clusterName', 'nodeName', 'distribution', 'infrastructure', 'kubernetesVersion'])
    && str(k.clusterName, 1, 63) && /^[a-zA-Z0-9][-_a-zA-Z0-9]*$/.test(k.clusterName as string)
    && str(k.nodeName, 1, 253) && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(k.nodeName as string)
    && optStr(k.distribution, 64) && (k.distribution === undefined || (k.distribution as string).length > 0)
    && optStr(k.infrastructure, 64) && (k.infrastructure === undefined || (k.infrastructure as string).length > 0)
    && optStr(k.kubernetesVersion, 64);
}

/** SqlInstanceFactsSchema, by hand. */
export function sqlInstanceOk(s: unknown): s is SqlInstanceFacts {
  return isObj(s) && only(s, ['instanceName', 'engine', 'version', 'edition', 'tcpStaticPorts', 'tcpDynamicPorts', 'discoveredBy'])
    && str(s.instanceName, 1, 255) && SQL_ENGINES.includes(s.engine as string) && optStr(s.version, 64) && optStr(s.edition, 64)
    && optStr(s.tcpStaticPorts, 255) && optStr(s.tcpDynamicPorts, 255)
    && (s.discoveredBy === undefined || SQL_DISCOVERY.includes(s.discoveredBy as string));
}

/**
 * The `register` frame, as `encodeFrame('register', body)` writes it; `undefined` when a check
 * here fails, and the caller then encodes with zod (which throws with the reason).
 */
export function encodeRegister(body: Omit<MessageInput<'register'>, 'v' | 'type'>): string | undefined {
  if (!isObj(body)) return undefined;
  const sql = body.sqlInstances ?? [];
  const ext = body.extensions;
  if (!only(body, ['machine', 'sqlInstances', 'extensions']) || !machineFactsOk(body.machine)
    || !Array.isArray(sql) || sql.length > 64 || !sql.every(sqlInstanceOk)
    || (ext !== undefined && (!Array.isArray(ext) || ext.length > 64 || !ext.every(extensionState)))) return undefined;
  return JSON.stringify({ v: V, type: 'register', machine: body.machine, sqlInstances: sql, extensions: ext });
}

/** The `heartbeat` frame; `time` is `Date#toISOString()` (always an ISO time), `droppedEvents` and `spooledEvents` counts. */
export function encodeHeartbeat(time: Date, droppedEvents: number, spooledEvents?: number): string {
  if (!nonNegInt(droppedEvents)) throw new RangeError(`droppedEvents must be a count, got ${droppedEvents}`);
  if (spooledEvents !== undefined && !nonNegInt(spooledEvents)) throw new RangeError(`spooledEvents must be a count, got ${spooledEvents}`);
  return JSON.stringify({ v: V, type: 'heartbeat', time: time.toISOString(), droppedEvents, ...(spooledEvents !== undefined ? { spooledEvents } : {}) });
}

/** The `key-rotated` answer to a `rotate-key` whose `id` this decoder (or zod) already checked. */
export function encodeKeyRotated(id: string): string {
  if (!str(id, 1, 128)) throw new RangeError('a key-rotated id is 1 to 128 characters');
  return JSON.stringify({ v: V, type: 'key-rotated', id });
}

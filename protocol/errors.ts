/**
 * The one error catalogue: every fault arcsim reports has a stable `ARCSIM_E_*` code, the area
 * that raises it, an HTTP status and, for WebSocket faults, the close code sent when the fault
 * ends the connection (`null` = the socket stays open). It sits in protocol/, the lowest layer
 * every package may import. Codes are never reused or renamed; docs/errors.md lists them and
 * test/protocol/errors-doc.test.ts keeps both in step.
 */
export const ERROR_AREAS = ['wire', 'rule', 'scenario', 'inventory', 'suite', 'client'] as const;
export type ErrorArea = (typeof ERROR_AREAS)[number];

export interface ErrorSpec {
  area: ErrorArea;
  status: number;
  closeCode: number | null;
  message: string;
}

export const ERRORS = {
  // Wire and API: agent connections, REST requests, the store.
  ARCSIM_E_UNAUTHORIZED: { area: 'wire', status: 401, closeCode: null, message: 'missing or wrong API key' },
  ARCSIM_E_FORBIDDEN: { area: 'wire', status: 403, closeCode: null, message: 'the API key\'s role may not make this call' },
  ARCSIM_E_AGENT_AUTH: { area: 'wire', status: 401, closeCode: null, message: 'missing or wrong agent credentials' },
  ARCSIM_E_NODE_INVALID: { area: 'wire', status: 401, closeCode: null, message: 'unknown agent (node_invalid): enroll again' },
  ARCSIM_E_TOKEN_INVALID: { area: 'wire', status: 401, closeCode: null, message: 'unknown or revoked enrollment token' },
  ARCSIM_E_TOKEN_EXPIRED: { area: 'wire', status: 401, closeCode: null, message: 'enrollment token has expired' },
  ARCSIM_E_TOKEN_EXHAUSTED: { area: 'wire', status: 401, closeCode: null, message: 'enrollment token has enrolled as many agents as its max uses allow' },
  ARCSIM_E_AGENT_REVOKED: { area: 'wire', status: 401, closeCode: 4401, message: "the agent's key was revoked (or its machine deleted): it may not connect; install it again with a new token" },
  ARCSIM_E_VALIDATION: { area: 'wire', status: 400, closeCode: null, message: 'request does not match its schema' },
  ARCSIM_E_NOT_FOUND: { area: 'wire', status: 404, closeCode: null, message: 'no such resource' },
  ARCSIM_E_FRAME_JSON: { area: 'wire', status: 400, closeCode: null, message: 'frame is not valid JSON' },
  ARCSIM_E_FRAME_TYPE: { area: 'wire', status: 400, closeCode: null, message: 'unknown message type' },
  ARCSIM_E_FRAME_SCHEMA: { area: 'wire', status: 400, closeCode: null, message: 'frame does not match the message schema' },
  ARCSIM_E_FRAME_BINARY: { area: 'wire', status: 400, closeCode: null, message: 'binary frames are not accepted; send JSON text' },
  ARCSIM_E_FRAME_TOO_LARGE: { area: 'wire', status: 413, closeCode: 1009, message: 'frame exceeds the maximum frame size' },
  ARCSIM_E_VERSION: { area: 'wire', status: 400, closeCode: null, message: 'unsupported protocol version' },
  ARCSIM_E_NOT_REGISTERED: { area: 'wire', status: 409, closeCode: null, message: 'send register before events or heartbeats' },
  ARCSIM_E_BATCH_TOO_LARGE: { area: 'wire', status: 413, closeCode: null, message: 'events batch exceeds the maximum events per batch' },
  ARCSIM_E_EVENT_FOREIGN: { area: 'wire', status: 403, closeCode: null, message: "event DeviceId does not match the sending agent" },
  ARCSIM_E_RATE_LIMITED: { area: 'wire', status: 429, closeCode: null, message: 'events per second limit exceeded; batch refused, resend later' },
  ARCSIM_E_HANDSHAKE_TIMEOUT: { area: 'wire', status: 408, closeCode: 4408, message: 'no register message within the handshake timeout' },
  ARCSIM_E_LIVENESS: { area: 'wire', status: 408, closeCode: 4408, message: 'no pong within the ping interval' },
  ARCSIM_E_REPLACED: { area: 'wire', status: 409, closeCode: 4409, message: 'another connection with the same agent identity took over' },
  ARCSIM_E_AGENT_OFFLINE: { area: 'wire', status: 409, closeCode: null, message: 'the agent is not connected' },
  ARCSIM_E_PLAY_WRONG_OS: { area: 'wire', status: 422, closeCode: null, message: "scenario's platforms do not include the host's operating system (never a Windows scenario on a Linux host)" },
  ARCSIM_E_COMMAND_TIMEOUT: { area: 'wire', status: 504, closeCode: null, message: 'the agent did not answer the command in time' },
  ARCSIM_E_IDENTITY_CLONED: { area: 'wire', status: 409, closeCode: 4410, message: 'another live agent on a different host uses this identity (cloned state dir?)' },
  ARCSIM_E_BUSY: { area: 'wire', status: 503, closeCode: 1013, message: 'too many agents registering at once; reconnect after retryAfterMs' },
  ARCSIM_E_SHUTDOWN: { area: 'wire', status: 503, closeCode: 1001, message: 'control plane is shutting down' },
  ARCSIM_E_INTERNAL: { area: 'wire', status: 500, closeCode: 1011, message: 'internal error' },
  ARCSIM_E_BODY_TOO_LARGE: { area: 'wire', status: 413, closeCode: null, message: 'request body exceeds the limit of its route' },
  ARCSIM_E_CSRF: { area: 'wire', status: 403, closeCode: null, message: 'portal form without this session\'s CSRF token' },
  ARCSIM_E_STORE_WRITE: { area: 'wire', status: 503, closeCode: null, message: 'the store could not commit the write (disk full, database locked or unreachable); nothing was stored, retry later' },
  ARCSIM_E_STORE_UNAVAILABLE: { area: 'wire', status: 503, closeCode: null, message: 'cannot open the store (database unreachable, refused the login or failed to migrate)' },
  ARCSIM_E_QUERY: { area: 'wire', status: 400, closeCode: null, message: 'the KQL query cannot run (syntax error, unknown table or column, unsupported operator or function, or the query timed out); `errors` lists each finding with line and column' },
  // Raised on the caller's side, by the API client and the control-plane config loader.
  ARCSIM_E_ADMIN_KEY_REQUIRED: { area: 'client', status: 401, closeCode: null, message: 'this call needs an API key: pass --api-key or set ARCSIM_API_KEY (--admin-key / ARCSIM_ADMIN_KEY also work)' },
  ARCSIM_E_UNREACHABLE: { area: 'client', status: 503, closeCode: null, message: 'cannot reach the control plane' },
  ARCSIM_E_API_REPLY: { area: 'client', status: 502, closeCode: null, message: 'the control plane answered with an error that has no ARCSIM_E_ code' },
  ARCSIM_E_CONFIG_YAML: { area: 'client', status: 422, closeCode: null, message: 'config file cannot be read or is not valid YAML' },
  ARCSIM_E_EVENTS_DROPPED: { area: 'client', status: 507, closeCode: null, message: "events were dropped before delivery: the agent's spool overflowed" },
  ARCSIM_E_CONFIG_SCHEMA: { area: 'client', status: 422, closeCode: null, message: 'config file does not match the config schema' },
  ARCSIM_E_TLS_REQUIRED: { area: 'client', status: 422, closeCode: null, message: 'a non-loopback listen address needs TLS (--tls-cert and --tls-key) or --insecure-http' },
  ARCSIM_E_PUBLIC_URL_REQUIRED: { area: 'client', status: 422, closeCode: null, message: 'a wildcard listen address (0.0.0.0, ::) needs --public-url, the URL agents and links use' },
  ARCSIM_E_TLS_CONFIG: { area: 'client', status: 422, closeCode: null, message: 'TLS certificate, key or CA cannot be used, or conflicts with another setting' },
  ARCSIM_E_TLS_FILES_EXIST: { area: 'client', status: 409, closeCode: null, message: 'arcsim tls init: the directory already holds CA or server files; --force replaces them' },
  // Detection rules: a rule that cannot be honoured exactly is refused, never weakened.
  ARCSIM_E_RULE_YAML: { area: 'rule', status: 422, closeCode: null, message: 'rule file is not valid YAML' },
  ARCSIM_E_RULE_SCHEMA: { area: 'rule', status: 422, closeCode: null, message: 'rule does not match the Sigma rule schema' },
  ARCSIM_E_RULE_UNSUPPORTED: { area: 'rule', status: 422, closeCode: null, message: 'rule uses a Sigma construct arcsim does not support' },
  ARCSIM_E_RULE_FIELD: { area: 'rule', status: 422, closeCode: null, message: 'rule names a field that its log source does not have' },
  ARCSIM_E_RULE_CONDITION: { area: 'rule', status: 422, closeCode: null, message: 'rule condition cannot be parsed' },
  ARCSIM_E_RULE_REFERENCE: { area: 'rule', status: 422, closeCode: null, message: 'correlation refers to a rule that does not exist' },
  ARCSIM_E_RULE_DUPLICATE: { area: 'rule', status: 422, closeCode: null, message: 'two rules share an id or name' },
  ARCSIM_E_RULE_DIR: { area: 'rule', status: 422, closeCode: null, message: 'rules directory is missing, unreadable or holds no rules' },
  // Scenario files; every error carries the file and a path into it.
  ARCSIM_E_SCENARIO_YAML: { area: 'scenario', status: 422, closeCode: null, message: 'scenario file is not valid YAML' },
  ARCSIM_E_SCENARIO_SCHEMA: { area: 'scenario', status: 422, closeCode: null, message: 'scenario does not match the scenario schema' },
  ARCSIM_E_SCENARIO_UNKNOWN_KEY: { area: 'scenario', status: 422, closeCode: null, message: 'scenario has a key the format does not define' },
  ARCSIM_E_SCENARIO_MISSING_ARGUMENT: { area: 'scenario', status: 422, closeCode: null, message: 'scenario uses an input argument it does not declare' },
  ARCSIM_E_SCENARIO_UNUSED_ARGUMENT: { area: 'scenario', status: 422, closeCode: null, message: 'scenario declares an input argument it never uses' },
  ARCSIM_E_SCENARIO_ARGUMENT_TYPE: { area: 'scenario', status: 422, closeCode: null, message: 'input argument value does not match its declared type' },
  ARCSIM_E_SCENARIO_TECHNIQUE: { area: 'scenario', status: 422, closeCode: null, message: 'not an ATT&CK technique id (T1234 or T1234.001)' },
  ARCSIM_E_SCENARIO_TACTIC: { area: 'scenario', status: 422, closeCode: null, message: 'not an ATT&CK tactic name (e.g. CredentialAccess)' },
  ARCSIM_E_SCENARIO_PLATFORM: { area: 'scenario', status: 422, closeCode: null, message: 'scenario events need a platform it does not declare (SqlEvents need sql)' },
  ARCSIM_E_SCENARIO_TABLE: { area: 'scenario', status: 422, closeCode: null, message: 'unknown event table' },
  ARCSIM_E_SCENARIO_COLUMN: { area: 'scenario', status: 422, closeCode: null, message: 'event column does not exist in its table, or its value has the wrong type' },
  ARCSIM_E_SCENARIO_TIMING: { area: 'scenario', status: 422, closeCode: null, message: 'impossible timing' },
  // Inventory: connector definitions, cloud snapshots, findings and pulls. A refused snapshot changes
  // nothing (the import is one transaction and validation runs before it).
  ARCSIM_E_SNAPSHOT_JSON: { area: 'inventory', status: 400, closeCode: null, message: 'snapshot is not valid JSON (truncated?)' },
  ARCSIM_E_SNAPSHOT_FORMAT: { area: 'inventory', status: 422, closeCode: null, message: 'snapshot is not one of the supported cloud outputs' },
  ARCSIM_E_SNAPSHOT_SCHEMA: { area: 'inventory', status: 422, closeCode: null, message: 'snapshot does not match the schema of its cloud output' },
  ARCSIM_E_SNAPSHOT_PROVIDER: { area: 'inventory', status: 422, closeCode: null, message: "snapshot comes from another cloud provider than the connector's" },
  ARCSIM_E_OSV_FEED: { area: 'inventory', status: 422, closeCode: null, message: 'advisory feed is not OSV JSON (not JSON, too large, or a record that does not match the OSV schema); nothing of it was stored' },
  ARCSIM_E_SNAPSHOT_ACCOUNT: { area: 'inventory', status: 422, closeCode: null, message: "snapshot comes from another account or project than the connector's" },
  ARCSIM_E_CONNECTOR_UNKNOWN: { area: 'inventory', status: 404, closeCode: null, message: 'no such connector' },
  ARCSIM_E_CONNECTOR_PROVIDER: { area: 'inventory', status: 400, closeCode: null, message: 'unknown cloud provider (supported: AWS, GCP)' },
  ARCSIM_E_CONNECTOR_CONFIG: { area: 'inventory', status: 400, closeCode: null, message: 'connector definition is invalid' },
  ARCSIM_E_PULL_FAILED: { area: 'inventory', status: 502, closeCode: null, message: 'scheduled pull could not read its command output or file' },
  ARCSIM_E_IMPORT_PATH: { area: 'inventory', status: 400, closeCode: null, message: 'pull file source is outside the import directory (or none is configured)' },
  ARCSIM_E_SNAPSHOT_LIMIT: { area: 'inventory', status: 422, closeCode: null, message: "snapshot exceeds a limit of its cloud's own (field length, tags, items)" },
  ARCSIM_E_FINDING_RESOURCE: { area: 'inventory', status: 422, closeCode: null, message: 'finding names a resource the connector does not know' },
  ARCSIM_E_FINDING_ALERT_TYPE: { area: 'inventory', status: 422, closeCode: null, message: 'finding alert type has no rule mapping and no display name/severity' },
  // Test-run suite files: a suite with any of these is refused before anything runs.
  ARCSIM_E_SUITE_YAML: { area: 'suite', status: 422, closeCode: null, message: 'suite file is not valid YAML' },
  ARCSIM_E_SUITE_SCHEMA: { area: 'suite', status: 422, closeCode: null, message: 'suite does not match the suite schema' },
  ARCSIM_E_SUITE_UNKNOWN_KEY: { area: 'suite', status: 422, closeCode: null, message: 'suite has a key the format does not define' },
  ARCSIM_E_SUITE_SCENARIO: { area: 'suite', status: 422, closeCode: null, message: 'suite names a scenario that does not exist or is not valid' },
  ARCSIM_E_SUITE_INPUT: { area: 'suite', status: 422, closeCode: null, message: 'scenario input is not declared by the scenario or has the wrong type' },
  ARCSIM_E_SUITE_REFERENCE: { area: 'suite', status: 422, closeCode: null, message: 'suite refers to a host selector or scenario run it does not define' },
  ARCSIM_E_SUITE_DUPLICATE: { area: 'suite', status: 422, closeCode: null, message: 'two scenario runs or incident checks share an id' },
  ARCSIM_E_SUITE_EXPECTATION: { area: 'suite', status: 422, closeCode: null, message: 'expectation cannot be checked as written' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes one area raises, in catalogue order. */
export function codesOf(area: ErrorArea): ErrorCode[] {
  return (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].area === area);
}

/** One error class for every catalogued fault; `path` points into the offending input. */
export class ArcsimError extends Error {
  readonly code: string;
  readonly status: number;
  readonly closeCode: number | null;
  readonly path: string | undefined;

  constructor(code: string, spec: Omit<ErrorSpec, 'area'>, detail?: string, path?: string) {
    super(detail ? `${spec.message}: ${detail}` : spec.message);
    this.name = 'ArcsimError';
    this.code = code;
    this.status = spec.status;
    this.closeCode = spec.closeCode;
    this.path = path;
  }

  /** The body sent on the wire: `{code, path, message}`; never a stack or internals. */
  toJSON(): { code: string; message: string; path?: string } {
    return this.path === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, path: this.path, message: this.message };
  }
}

/** Every error found in one input file, in file order; thrown as one so callers see them all at once. */
export class ArcsimErrors extends ArcsimError {
  constructor(readonly errors: ArcsimError[]) {
    const first = errors[0]!;
    super(first.code, { status: first.status, closeCode: null, message: first.message }, errors.length > 1 ? `(and ${errors.length - 1} more)` : undefined, first.path);
  }
}

/** Builds a catalogued error (any area; the name is kept from when only wire codes lived here). */
export function protocolError(code: ErrorCode, detail?: string, path?: string): ArcsimError {
  return new ArcsimError(code, ERRORS[code], detail, path);
}

/** Builds a catalogued error about an input file (scenario, suite): the message names the file and the path inside it. */
export function fileError(code: ErrorCode, file: string, path: string, detail: string): ArcsimError {
  return new ArcsimError(code, ERRORS[code], `${file}${path ? ` at ${path}` : ''}: ${detail}`, path);
}

/** Formats a zod issue path as a JSON-pointer-like dotted path (`events.3.Timestamp`). */
export function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.map(String).join('.');
}

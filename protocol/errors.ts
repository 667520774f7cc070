/**
 * The wire error catalogue: every fault the control plane reports to an agent or an API
 * client has a stable `ARCSIM_E_*` code, an HTTP status and, for WebSocket faults, the close
 * code sent when the fault ends the connection (`null` = the socket stays open).
 * Codes are never reused or renamed; docs/errors.md lists them and a test keeps both in step.
 */
export interface ErrorSpec {
  status: number;
  closeCode: number | null;
  message: string;
}

export const PROTOCOL_ERRORS = {
  ARCSIM_E_UNAUTHORIZED: { status: 401, closeCode: null, message: 'missing or wrong admin API key' },
  ARCSIM_E_AGENT_AUTH: { status: 401, closeCode: null, message: 'missing or wrong agent credentials' },
  ARCSIM_E_NODE_INVALID: { status: 401, closeCode: null, message: 'unknown agent (node_invalid): enroll again' },
  ARCSIM_E_TOKEN_INVALID: { status: 401, closeCode: null, message: 'unknown or revoked enrollment token' },
  ARCSIM_E_TOKEN_EXPIRED: { status: 401, closeCode: null, message: 'enrollment token has expired' },
  ARCSIM_E_VALIDATION: { status: 400, closeCode: null, message: 'request does not match its schema' },
  ARCSIM_E_NOT_FOUND: { status: 404, closeCode: null, message: 'no such resource' },
  ARCSIM_E_FRAME_JSON: { status: 400, closeCode: null, message: 'frame is not valid JSON' },
  ARCSIM_E_FRAME_TYPE: { status: 400, closeCode: null, message: 'unknown message type' },
  ARCSIM_E_FRAME_SCHEMA: { status: 400, closeCode: null, message: 'frame does not match the message schema' },
  ARCSIM_E_FRAME_BINARY: { status: 400, closeCode: null, message: 'binary frames are not accepted; send JSON text' },
  ARCSIM_E_FRAME_TOO_LARGE: { status: 413, closeCode: 1009, message: 'frame exceeds the maximum frame size' },
  ARCSIM_E_VERSION: { status: 400, closeCode: null, message: 'unsupported protocol version' },
  ARCSIM_E_NOT_REGISTERED: { status: 409, closeCode: null, message: 'send register before events or heartbeats' },
  ARCSIM_E_BATCH_TOO_LARGE: { status: 413, closeCode: null, message: 'events batch exceeds the maximum events per batch' },
  ARCSIM_E_EVENT_FOREIGN: { status: 403, closeCode: null, message: "event DeviceId does not match the sending agent" },
  ARCSIM_E_RATE_LIMITED: { status: 429, closeCode: null, message: 'events per second limit exceeded; batch refused, resend later' },
  ARCSIM_E_HANDSHAKE_TIMEOUT: { status: 408, closeCode: 4408, message: 'no register message within the handshake timeout' },
  ARCSIM_E_LIVENESS: { status: 408, closeCode: 4408, message: 'no pong within the ping interval' },
  ARCSIM_E_REPLACED: { status: 409, closeCode: 4409, message: 'another connection with the same agent identity took over' },
  ARCSIM_E_AGENT_OFFLINE: { status: 409, closeCode: null, message: 'the agent is not connected' },
  ARCSIM_E_COMMAND_TIMEOUT: { status: 504, closeCode: null, message: 'the agent did not answer the command in time' },
  ARCSIM_E_IDENTITY_CLONED: { status: 409, closeCode: 4410, message: 'another live agent on a different host uses this identity (cloned state dir?)' },
  ARCSIM_E_SHUTDOWN: { status: 503, closeCode: 1001, message: 'control plane is shutting down' },
  ARCSIM_E_INTERNAL: { status: 500, closeCode: 1011, message: 'internal error' },
  ARCSIM_E_STORE_UNAVAILABLE: { status: 503, closeCode: null, message: 'cannot open the store (database unreachable, refused the login or failed to migrate)' },
  // Raised on the caller's side, by the API client and the control-plane config loader.
  ARCSIM_E_ADMIN_KEY_REQUIRED: { status: 401, closeCode: null, message: 'this call needs the admin API key: pass --admin-key or set ARCSIM_ADMIN_KEY' },
  ARCSIM_E_UNREACHABLE: { status: 503, closeCode: null, message: 'cannot reach the control plane' },
  ARCSIM_E_API_REPLY: { status: 502, closeCode: null, message: 'the control plane answered with an error that has no ARCSIM_E_ code' },
  ARCSIM_E_CONFIG_YAML: { status: 422, closeCode: null, message: 'config file cannot be read or is not valid YAML' },
  ARCSIM_E_CONFIG_SCHEMA: { status: 422, closeCode: null, message: 'config file does not match the config schema' },
} as const satisfies Record<string, ErrorSpec>;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

/** One error class for every catalogued fault; `path` points into the offending input. */
export class ArcsimError extends Error {
  readonly code: string;
  readonly status: number;
  readonly closeCode: number | null;
  readonly path: string | undefined;

  constructor(code: string, spec: ErrorSpec, detail?: string, path?: string) {
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

/** Builds a catalogued protocol error. */
export function protocolError(code: ProtocolErrorCode, detail?: string, path?: string): ArcsimError {
  return new ArcsimError(code, PROTOCOL_ERRORS[code], detail, path);
}

/** Formats a zod issue path as a JSON-pointer-like dotted path (`events.3.Timestamp`). */
export function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.map(String).join('.');
}

import { ArcsimError, protocolError, type RunAlert, type RunResult, type SensorEvent } from '../protocol/index.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import type { AgentInfo } from './host-selector.ts';
import { canonicalProfile } from '../control-plane/products/sync-matrix.ts';
import type { SyncProfileView } from '../control-plane/products/sync-profile.ts';

/**
 * The one client of the control-plane REST API, used by the CLI and the test runner.
 * Every method is one endpoint; error replies become `ArcsimError`s with the reply's code. Every
 * endpoint needs an API key (reads need the reader role); a call without a key fails before
 * anything is sent, and a key too weak for a call gets the server's 403 ARCSIM_E_FORBIDDEN.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One REST call: method, path (with query), optional JSON body -> status and parsed body. */
export type Transport = (method: HttpMethod, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** Talks to a control plane over HTTP; the `authorization` header is sent only when `apiKey` is non-empty. */
export function httpTransport(baseUrl: string, apiKey?: string): Transport {
  return async (method, path, body) => {
    let res: Response;
    try {
      res = await fetch(new URL(path, baseUrl), {
        method,
        headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw protocolError('ARCSIM_E_UNREACHABLE', `${baseUrl}: ${cause} (set --control-plane or ARCSIM_CONTROL_PLANE)`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { message: text };
    }
    return { status: res.status, body: json };
  };
}

/** Talks to a control plane in this process (no socket), with admin rights. */
export function inProcessTransport(cp: ControlPlane): Transport {
  return (method, path, body) => cp.adminRequest(method, path, body);
}

/** A failed API call, keeping the control plane's `{code, path, message}` and HTTP status. */
export class ApiError extends ArcsimError {
  constructor(status: number, code: string, message: string, path?: string, readonly details?: QueryFinding[]) {
    super(code, { status, closeCode: null, message }, undefined, path);
    this.name = 'ApiError';
  }
}

/** One finding of an ARCSIM_E_QUERY reply (`errors[]`): where in the query, 1-based. */
export type QueryFinding = { message: string; code: string; start: number; length: number; line: number; column: number };
/** `POST /api/advancedqueries/run`: Defender for Endpoint's advanced hunting result. */
export type HuntingResult = { Schema: Array<{ Name: string; Type: string }>; Results: Row[]; Stats?: { RowCount: number; Truncated: boolean; ExecutionTimeMs: number } };

/** Inventory answer: the assets, or `undefined` when the control plane has no inventory API yet. */
export type AssetsAnswer = { available: true; value: Array<Record<string, unknown>> } | { available: false };

/** `POST /api/tokens`: the token in clear text, shown once. */
export type CreatedToken = { id: string; token: string; subscription: string; resourceGroup: string; location: string; expiresAt: string; maxUses: number | null };
export type TokenInfo = { id: string; subscription: string; resourceGroup: string; location: string; createdAt: string; expiresAt: string; revoked: boolean; expired: boolean; uses: number; maxUses: number | null };
export type CreatedKey = KeyInfo & { key: string };
export type KeyInfo = { id: string; name: string; role: string; createdAt: string; createdBy: string; revoked: boolean; revokedAt: string | null; lastUsedAt: string | null };
export type AuditEntry = { id: number; at: string; who: string; keyId: string | null; role: string | null; method: string; route: string; target: string; status: number; remote: string | null };
export type ScenarioRunAnswer = { detonationId: string; scenario: string; machine: string; agentId: string; ok?: boolean; events?: number; message?: string };
export type Connector = { name: string; provider: string; accountId: string; subscription: string; resourceGroup: string; location: string; id: string; definition: unknown; createdAt: string; updatedAt: string };
export type SnapshotSummary = { kind: string; resources: number; added: number; changed: number; deleted: number };
export type PlanSetting = { scope: 'subscription' | 'connector'; id: string; plan: string; subPlan?: string | null; enabled: boolean; displayName?: string; updatedAt?: string };
export type Recommendation = { assessmentKey: string; displayName?: string; severity?: string; status: string; resourceId: string; details: Record<string, unknown>; [field: string]: unknown };
export type Row = Record<string, unknown>;

/** The control-plane REST calls of the CLI and the test runner. Everything goes through the public API. */
export class ControlPlaneApi {
  /** `keyed`: the transport carries an API key (or in-process admin rights). */
  constructor(private readonly transport: Transport, readonly label: string, private readonly options: { keyed: boolean }) {}

  /** Every call: refused here, before any request, when there is no key to send. */
  private call(method: HttpMethod, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    if (!this.options.keyed) {
      return Promise.reject(protocolError('ARCSIM_E_ADMIN_KEY_REQUIRED', `${method} ${path} (arcsim key create --role reader makes one; the admin key is printed once when the control plane first starts)`));
    }
    return this.transport(method, path, body);
  }

  private async ok(method: HttpMethod, path: string, body?: unknown): Promise<any> {
    const r = await this.call(method, path, body);
    if (r.status >= 400) throw replyError(method, path, r.status, r.body);
    return r.body;
  }

  async agents(): Promise<AgentInfo[]> {
    return (await this.ok('GET', '/api/agents')).value;
  }

  /** Sends a command and waits for the agent's answer. */
  async command(agentId: string, command: Record<string, unknown>, timeoutMs: number): Promise<{ ok: boolean; events?: number; notCollected?: Record<string, number>; message?: string }> {
    return this.ok('POST', `/api/agents/${encodeURIComponent(agentId)}/commands`, { command, timeout: `${Math.ceil(timeoutMs)}ms` });
  }

  async events(detonationId: string): Promise<SensorEvent[]> {
    return (await this.ok('GET', `/api/events?detonationId=${encodeURIComponent(detonationId)}&limit=100000`)).value;
  }

  async alertsOf(detonationId: string): Promise<RunAlert[]> {
    return (await this.ok('GET', `/api/alerts?detonationId=${encodeURIComponent(detonationId)}`)).value.map(toRunAlert);
  }

  async alert(systemAlertId: string): Promise<RunAlert> {
    return toRunAlert(await this.ok('GET', `/api/alerts/${encodeURIComponent(systemAlertId)}`));
  }

  async changeStatus(systemAlertId: string, action: string, product: string): Promise<void> {
    await this.ok('POST', `/api/alerts/${encodeURIComponent(systemAlertId)}/${action}?product=${product}`);
  }

  /** `GET /api/export` (reader): alerts and incidents as Graph, Sentinel, OCSF or CEF records. */
  async exportRecords(format: string, since?: string): Promise<{ format: string; since: string | null; generatedAt: string; alerts: unknown[]; incidents: unknown[] }> {
    const q = new URLSearchParams({ format });
    if (since !== undefined) q.set('since', since);
    return this.ok('GET', `/api/export?${q}`);
  }

  /** Open incidents with their alert ids (merged-away ones left out). */
  async incidents(): Promise<Array<{ incidentId: string; alertIds: string[] }>> {
    const value = (await this.ok('GET', '/api/incidents')).value as Array<Record<string, any>>;
    return value.filter((i) => !i.redirectIncidentId).map((i) => ({ incidentId: i.incidentId, alertIds: i.alerts.map((a: any) => a.systemAlertId) }));
  }

  /** The control plane's active sync profile by its current name (`blog-2022` reads as `mdc-classic`); null when unknown. */
  async syncProfile(): Promise<string | null> {
    const r = await this.call('GET', '/api/sync');
    if (r.status !== 200) return null;
    const name = r.body?.profile ?? r.body?.config?.profile;
    return typeof name === 'string' ? canonicalProfile(name) : null;
  }

  /** `GET /api/sync/profile` (reader): the active profile, where it came from, its edges and the profiles to choose from. */
  async syncProfileInfo(): Promise<SyncProfileView> {
    return this.ok('GET', '/api/sync/profile');
  }

  /** `PUT /api/sync/profile` (contributor): chooses the sync profile (and, optionally, the `mdeStatusToMdc` reading). */
  async setSyncProfile(profile: string, options: { mdeStatusToMdc?: boolean } = {}): Promise<SyncProfileView> {
    return this.ok('PUT', '/api/sync/profile', { profile, ...(options.mdeStatusToMdc !== undefined ? { mdeStatusToMdc: options.mdeStatusToMdc } : {}) });
  }

  /** `GET /api/assets` (issue #6); a 404 means this control plane has no inventory API yet. */
  async assets(): Promise<AssetsAnswer> {
    const r = await this.call('GET', '/api/assets');
    if (r.status === 404) return { available: false };
    if (r.status >= 400) throw replyError('GET', '/api/assets', r.status, r.body);
    return { available: true, value: Array.isArray(r.body?.value) ? r.body.value : Array.isArray(r.body) ? r.body : [] };
  }

  async recommendations(): Promise<Recommendation[]> {
    return (await this.ok('GET', '/api/recommendations')).value;
  }

  /** Runs a KQL query (advanced hunting shape); an ARCSIM_E_QUERY error carries its findings in `details`. */
  async huntingQuery(query: string): Promise<HuntingResult> {
    return this.ok('POST', '/api/advancedqueries/run', { Query: query });
  }

  /** Azure Resource Graph's shape (`POST /providers/Microsoft.ResourceGraph/resources`): one page of rows. */
  async resourceGraphQuery(query: string, options: { top?: number; skipToken?: string } = {}): Promise<{ totalRecords: number; count: number; resultTruncated: string; $skipToken?: string; data: Row[] }> {
    const o = { ...(options.top ? { $top: options.top } : {}), ...(options.skipToken ? { $skipToken: options.skipToken } : {}) };
    return this.ok('POST', '/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01', { query, ...(Object.keys(o).length ? { options: o } : {}) });
  }

  /** Log Analytics' shape (`POST /v1/workspaces/{id}/query`): the PrimaryResult table. */
  async logAnalyticsQuery(workspaceId: string, query: string, timespan?: string): Promise<{ tables: Array<{ name: string; columns: Array<{ name: string; type: string }>; rows: unknown[][] }> }> {
    return this.ok('POST', `/v1/workspaces/${encodeURIComponent(workspaceId)}/query`, { query, ...(timespan ? { timespan } : {}) });
  }

  async secureScore(): Promise<Row[]> {
    return (await this.ok('GET', '/api/secure-score')).value;
  }

  async billing(): Promise<Row[]> {
    return (await this.ok('GET', '/api/billing')).value;
  }

  async createToken(request: { subscription: string; resourceGroup: string; location: string; ttl: string; maxUses?: number }): Promise<CreatedToken> {
    return this.ok('POST', '/api/tokens', request);
  }

  async tokens(): Promise<TokenInfo[]> {
    return (await this.ok('GET', '/api/tokens')).value;
  }

  /** Revokes a token; with `cascade` also the agents it enrolled (returned), disconnected at once. */
  async revokeToken(id: string, options: { cascade?: boolean } = {}): Promise<{ revokedAgents: string[] }> {
    if (!options.cascade) {
      await this.ok('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
      return { revokedAgents: [] };
    }
    return this.ok('DELETE', `/api/tokens/${encodeURIComponent(id)}?cascade=true`);
  }

  /** Revokes an agent's key (by agent id or machine name); it is disconnected and refused from now on. */
  async revokeAgent(ref: string): Promise<{ agentId: string; machine: string | null; revokedAt: string }> {
    return this.ok('POST', `/api/agents/${encodeURIComponent(ref)}/revoke`);
  }

  /** Gives a connected agent a new key (by agent id or machine name). */
  async rotateAgent(ref: string): Promise<{ agentId: string; machine: string | null; rotatedAt: string }> {
    return this.ok('POST', `/api/agents/${encodeURIComponent(ref)}/rotate`);
  }

  /** Deletes a machine (its agent's key is revoked); alerts and events stay. */
  async deleteMachine(name: string): Promise<{ name: string; agentId: string; resourceId: string }> {
    return this.ok('DELETE', `/api/machines/${encodeURIComponent(name)}`);
  }

  /** Plays a library scenario on a machine's connected agent; with `wait`, answers once it has played. */
  async runScenario(machine: string, request: { scenario: string; variant?: string; seed?: string | number; wait?: boolean; timeout?: string; inputs?: Record<string, string | number | boolean> }): Promise<ScenarioRunAnswer> {
    return this.ok('POST', `/api/machines/${encodeURIComponent(machine)}/scenarios`, request);
  }

  /** `POST /api/keys` (admin): the key in clear text, shown once. */
  async createKey(request: { role: string; name?: string }): Promise<CreatedKey> {
    return this.ok('POST', '/api/keys', request);
  }

  async keys(): Promise<KeyInfo[]> {
    return (await this.ok('GET', '/api/keys')).value;
  }

  async revokeKey(id: string): Promise<void> {
    await this.ok('DELETE', `/api/keys/${encodeURIComponent(id)}`);
  }

  /** `GET /api/audit` (admin): newest first; `nextBefore` pages on. */
  async audit(page: { limit?: number; before?: number } = {}): Promise<{ value: AuditEntry[]; nextBefore: number | null }> {
    const q = new URLSearchParams();
    if (page.limit !== undefined) q.set('limit', String(page.limit));
    if (page.before !== undefined) q.set('before', String(page.before));
    return this.ok('GET', `/api/audit${q.size ? `?${q}` : ''}`);
  }

  async setConnector(name: string, definition: unknown): Promise<Connector> {
    return this.ok('PUT', `/api/connectors/${encodeURIComponent(name)}`, definition);
  }

  async connectors(): Promise<{ value: Connector[]; scheduledPulls: unknown }> {
    return this.ok('GET', '/api/connectors');
  }

  async importSnapshots(connector: string, snapshots: Array<{ document: unknown; source: string; kind?: string; region?: string }>): Promise<{ connector: string; snapshots: SnapshotSummary[] }> {
    return this.ok('POST', `/api/connectors/${encodeURIComponent(connector)}/snapshots`, { snapshots });
  }

  /** `POST /api/vulnerabilities/advisories`: loads an OSV feed (the parsed JSON document). */
  async importAdvisories(feed: unknown): Promise<{ advisories: number; stored: number; unchanged: number; withdrawn: number; total: number }> {
    return this.ok('POST', '/api/vulnerabilities/advisories', feed);
  }

  /** `GET /api/vulnerabilities`: DeviceTvmSoftwareVulnerabilities rows, of one machine or all. */
  async vulnerabilities(machine?: string): Promise<Row[]> {
    return (await this.ok('GET', `/api/vulnerabilities${machine ? `?machine=${encodeURIComponent(machine)}` : ''}`)).value;
  }

  async pull(connector: string): Promise<{ snapshots: SnapshotSummary[] }> {
    return this.ok('POST', `/api/connectors/${encodeURIComponent(connector)}/pull`);
  }

  async setPlan(setting: { scope: 'subscription' | 'connector'; id: string; plan: string; enabled: boolean; subPlan?: string }): Promise<PlanSetting> {
    return this.ok('PUT', '/api/plans', setting);
  }

  async plans(): Promise<PlanSetting[]> {
    return (await this.ok('GET', '/api/plans')).value;
  }

  async saveRun(result: RunResult, suite: unknown): Promise<void> {
    await this.ok('POST', '/api/runs', { result, suite });
  }

  async run(runId: string): Promise<RunResult> {
    return this.ok('GET', `/api/runs/${encodeURIComponent(runId)}`);
  }

  async runs(): Promise<Array<Record<string, any>>> {
    return (await this.ok('GET', '/api/runs')).value;
  }

  async bundle(runId: string): Promise<Record<string, unknown>> {
    return this.ok('GET', `/api/runs/${encodeURIComponent(runId)}/bundle`);
  }
}

/** The reply's own `ARCSIM_E_*` code when it has one; otherwise (a proxy, a route that is not there) ARCSIM_E_API_REPLY. */
function replyError(method: HttpMethod, path: string, status: number, body: any): ArcsimError {
  const code = typeof body?.code === 'string' && body.code.startsWith('ARCSIM_E_') ? body.code : 'ARCSIM_E_API_REPLY';
  return new ApiError(status, code, `${method} ${path}: HTTP ${status}: ${body?.message ?? ''}`.trim(), typeof body?.path === 'string' ? body.path : undefined,
    Array.isArray(body?.errors) ? body.errors : undefined);
}

/** The fields of a REST alert (MDC shape + arcsim block) a test run looks at. */
export function toRunAlert(a: Record<string, any>): RunAlert {
  const p = a.properties ?? {};
  const x = a.arcsim ?? {};
  return {
    systemAlertId: x.sourceSystemAlertId ?? p.systemAlertId,
    alertType: p.alertType,
    displayName: p.alertDisplayName ?? '',
    count: Number(p.extendedProperties?.count ?? 1),
    latencyMs: typeof x.latencyMs === 'number' ? x.latencyMs : null,
    products: Object.fromEntries(((x.copies ?? []) as Array<{ product: string; status: string }>).map((c) => [c.product, c.status])),
    incidentId: x.incidentId ?? null,
    techniques: [...new Set([...(p.techniques ?? []), ...(p.subTechniques ?? [])] as string[])].sort(),
    detonationIds: x.detonationIds ?? [],
  };
}

export function isOffline(err: unknown): boolean {
  return err instanceof ArcsimError && err.code === 'ARCSIM_E_AGENT_OFFLINE';
}

/**
 * The API of a control plane given in process (a `ControlPlane`, with admin rights) or by base URL;
 * over HTTP every call needs `apiKey` (an empty string counts as none), of a role strong enough for it.
 */
export function controlPlaneApi(target: ControlPlane | string, apiKey?: string): ControlPlaneApi {
  return typeof target === 'string'
    ? new ControlPlaneApi(httpTransport(target, apiKey), target, { keyed: !!apiKey })
    : new ControlPlaneApi(inProcessTransport(target), target.url(), { keyed: true });
}

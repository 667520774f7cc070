import { ArcsimError, type RunAlert, type RunResult, type SensorEvent } from '../protocol/index.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import type { AgentInfo } from './host-selector.ts';

/** One REST call: method, path (with query), optional JSON body -> status and parsed body. */
export type Transport = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** Talks to a control plane over HTTP; `adminKey` authorises the admin endpoints. */
export function httpTransport(baseUrl: string, adminKey?: string): Transport {
  return async (method, path, body) => {
    let res: Response;
    try {
      res = await fetch(new URL(path, baseUrl), {
        method,
        headers: { ...(adminKey ? { authorization: `Bearer ${adminKey}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new Error(`cannot reach the control plane at ${baseUrl}: ${(err as Error).message}`);
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

/** A failed API call, keeping the control plane's `{code, message}`. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Inventory answer: the assets, or `undefined` when the control plane has no inventory API yet. */
export type AssetsAnswer = { available: true; value: Array<Record<string, unknown>> } | { available: false };

/** The control-plane REST calls a test run makes. Everything goes through the public API. */
export class ControlPlaneApi {
  constructor(private readonly call: Transport, readonly label: string) {}

  private async ok(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<any> {
    const r = await this.call(method, path, body);
    if (r.status >= 400) throw new ApiError(r.status, r.body?.code, `${method} ${path}: ${r.body?.code ?? r.status} ${r.body?.message ?? ''}`.trim());
    return r.body;
  }

  async agents(): Promise<AgentInfo[]> {
    return (await this.ok('GET', '/api/agents')).value;
  }

  /** Sends a command and waits for the agent's answer. */
  async command(agentId: string, command: Record<string, unknown>, timeoutMs: number): Promise<{ ok: boolean; events?: number; notCollected?: Record<string, number>; message?: string }> {
    return this.ok('POST', `/api/agents/${encodeURIComponent(agentId)}/commands`, { command, timeout: `${Math.ceil(timeoutMs)}ms` });
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

  /** Open incidents with their alert ids (merged-away ones left out). */
  async incidents(): Promise<Array<{ incidentId: string; alertIds: string[] }>> {
    const value = (await this.ok('GET', '/api/incidents')).value as Array<Record<string, any>>;
    return value.filter((i) => !i.redirectIncidentId).map((i) => ({ incidentId: i.incidentId, alertIds: i.alerts.map((a: any) => a.systemAlertId) }));
  }

  async events(detonationId: string): Promise<SensorEvent[]> {
    return (await this.ok('GET', `/api/events?detonationId=${encodeURIComponent(detonationId)}&limit=100000`)).value;
  }

  async syncProfile(): Promise<string | null> {
    const r = await this.call('GET', '/api/sync');
    return r.status === 200 ? (r.body?.config?.profile ?? null) : null;
  }

  /** `GET /api/assets` (issue #6); a 404 means this control plane has no inventory API yet. */
  async assets(): Promise<AssetsAnswer> {
    const r = await this.call('GET', '/api/assets');
    if (r.status === 404) return { available: false };
    if (r.status >= 400) throw new ApiError(r.status, r.body?.code, `GET /api/assets: ${r.body?.message ?? r.status}`);
    return { available: true, value: Array.isArray(r.body?.value) ? r.body.value : Array.isArray(r.body) ? r.body : [] };
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
  return (err instanceof ApiError || err instanceof ArcsimError) && (err as { code?: string }).code === 'ARCSIM_E_AGENT_OFFLINE';
}

/** The API of a control plane given in process (a `ControlPlane`) or by base URL (then `adminKey` is needed). */
export function controlPlaneApi(target: ControlPlane | string, adminKey?: string): ControlPlaneApi {
  return typeof target === 'string' ? new ControlPlaneApi(httpTransport(target, adminKey), target) : new ControlPlaneApi(inProcessTransport(target), target.url());
}

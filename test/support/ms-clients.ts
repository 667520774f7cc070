/**
 * Runs Microsoft's own client libraries (from npm) against a running lab, in a child process so
 * that the lab's CA can be trusted the way a user would trust it (`NODE_EXTRA_CA_CERTS`) without
 * touching verification in the test process. One step per run:
 *
 *   node --import tsx test/support/ms-clients.ts STEP '{"url": ..., "key": ..., ...}'
 *
 * prints one JSON line `{result}` or `{error: {name, message, code, statusCode}}`, then
 * `{connections}`: every TCP connection the process attempted. A guard on `net.Socket#connect`
 * refuses any host that is not loopback (login.microsoftonline.com, a metadata endpoint), so a
 * client that wants to leave the machine fails loudly instead of hanging.
 */
import net from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const connections: string[] = [];
const connect = net.Socket.prototype.connect as (...args: unknown[]) => net.Socket;
net.Socket.prototype.connect = function guarded(this: net.Socket, ...args: unknown[]) {
  const first = args[0] as { host?: string; port?: number; path?: string } | number | string;
  const opts = Array.isArray(first) ? (first[0] as { host?: string; port?: number; path?: string }) : first;
  const host = typeof opts === 'object' && opts ? (opts.path ? 'unix' : opts.host ?? 'localhost') : typeof args[1] === 'string' ? args[1] : 'localhost';
  connections.push(String(host));
  if (host !== 'unix' && !LOOPBACK.has(String(host))) throw new Error(`non-loopback connection refused by the test guard: ${host}`);
  return connect.apply(this, args);
} as typeof net.Socket.prototype.connect;

type Args = { url: string; key: string; [k: string]: unknown };

/** @azure/core-auth's TokenCredential, structurally (that package comes in with the clients, not by name). */
type AccessToken = { token: string; expiresOnTimestamp: number };
type TokenCredential = { getToken(scopes: string | string[]): Promise<AccessToken | null> };

/** The arcsim API key as a static bearer token: no Entra ID, no managed identity, no network. */
const staticToken = (key: string): TokenCredential => ({
  getToken: async (): Promise<AccessToken> => ({ token: key, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

const steps: Record<string, (a: Args) => Promise<unknown>> = {
  async 'log-analytics'(a) {
    const { LogsQueryClient } = await import('@azure/monitor-query-logs');
    const client = new LogsQueryClient(staticToken(a.key), { endpoint: `${a.url}/v1`, retryOptions: { maxRetries: 0 } });
    const r = await client.queryWorkspace(String(a.workspace), String(a.query), { duration: String(a.duration ?? 'P1D') });
    if (r.status !== 'Success') return { status: r.status, partialError: (r as { partialError?: unknown }).partialError };
    return { status: r.status, tables: r.tables.map((t) => ({ name: t.name, columns: t.columnDescriptors.map((c) => ({ name: c.name, type: c.type })), rows: t.rows })) };
  },

  async 'resource-graph'(a) {
    const { ResourceGraphClient } = await import('@azure/arm-resourcegraph');
    const client = new ResourceGraphClient(staticToken(a.key), { endpoint: a.url, retryOptions: { maxRetries: 0 } });
    const r = await client.resources({ subscriptions: ['sub-1'], query: String(a.query), options: { resultFormat: 'objectArray' } });
    return { totalRecords: r.totalRecords, count: r.count, resultTruncated: r.resultTruncated, data: r.data };
  },

  async graph(a) {
    const { Client, PageIterator } = await import('@microsoft/microsoft-graph-client');
    const host = new URL(a.url).hostname;
    const client = Client.init({ baseUrl: `${a.url}/`, defaultVersion: 'v1.0', customHosts: new Set([host]), authProvider: (done) => done(null, a.key) });
    const first = await client.api('/security/alerts_v2').top(Number(a.top ?? 100)).orderby('createdDateTime asc').get();
    const listed: Array<Record<string, unknown>> = [];
    const it = new PageIterator(client, first, (alert: Record<string, unknown>) => { listed.push(alert); return true; });
    await it.iterate();
    let patched: unknown;
    if (a.patch) {
      const { id, body, key } = a.patch as { id: string; body: Record<string, unknown>; key: string };
      const responder = Client.init({ baseUrl: `${a.url}/`, defaultVersion: 'v1.0', customHosts: new Set([host]), authProvider: (done) => done(null, key) });
      patched = await responder.api(`/security/alerts_v2/${encodeURIComponent(id)}`).patch(body);
    }
    let failed: unknown;
    if (a.badFilter) {
      try {
        await client.api('/security/alerts_v2').filter(String(a.badFilter)).get();
      } catch (err) {
        const e = err as { name?: string; code?: string; statusCode?: number; message?: string; body?: unknown };
        failed = { name: e.name, code: e.code, statusCode: e.statusCode, message: e.message };
      }
    }
    return { listed, patched, failed };
  },

  async security(a) {
    const { SecurityCenter } = await import('@azure/arm-security');
    const client = new SecurityCenter(staticToken(a.key), String(a.subscription), { endpoint: a.url, $host: a.url, retryOptions: { maxRetries: 0 } });
    const listed: unknown[] = [];
    for await (const alert of client.alerts.list()) listed.push(alert);
    let dismissed: string | undefined;
    if (a.dismiss) {
      const { location, name, key } = a.dismiss as { location: string; name: string; key: string };
      const responder = new SecurityCenter(staticToken(key), String(a.subscription), { endpoint: a.url, $host: a.url, retryOptions: { maxRetries: 0 } });
      await responder.alerts.updateSubscriptionLevelStateToDismiss(location, name);
      dismissed = name;
    }
    return { listed, dismissed };
  },
};

const [step, json] = process.argv.slice(2);
const run = steps[step ?? ''];
let out: unknown;
if (!run) out = { error: { name: 'Usage', message: `unknown step ${step}; one of ${Object.keys(steps).join(', ')}` } };
else {
  try {
    out = { result: await run(JSON.parse(json ?? '{}') as Args) };
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string; statusCode?: number; details?: unknown };
    out = { error: { name: e.name, message: e.message, code: e.code, statusCode: e.statusCode, details: e.details } };
  }
}
process.stdout.write(`${JSON.stringify(out)}\n${JSON.stringify({ connections })}\n`);

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * POSTs a JSON body and resolves with the status and the parsed JSON reply ({} when the reply is
 * not JSON). `ca` (PEM) is then the only CA trusted for an https URL: a server certificate it did
 * not sign is refused in the handshake, before the body is sent. Uses node:http, which the WebSocket client loads anyway, rather than `fetch`: fetch
 * loads undici and compiles its WebAssembly parser, ~10 MB of RSS a long-running agent would keep
 * (docs/performance.md).
 */
export function postJson(url: URL, body: unknown, o: { timeoutMs?: number; ca?: string } = {}): Promise<{ status: number; body: Record<string, string> }> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const data = Buffer.from(JSON.stringify(body));
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': data.length }, timeout: timeoutMs, ...(o.ca ? { ca: o.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let parsed: Record<string, string> = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>;
        } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

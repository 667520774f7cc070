import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Webhook delivery: a JSON POST, signed so the receiver knows it came from this control plane and
 * was not changed, with an idempotency key so a redelivery (at-least-once) is recognised.
 *   X-Arcsim-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the sink's secret>
 *   Idempotency-Key: <stable per alert change, the same on every retry>
 */

export const SIGNATURE_HEADER = 'x-arcsim-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** `sha256=<hex>` of the body. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What a receiver does: recompute the HMAC over the raw body and compare in constant time. */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface WebhookResult {
  ok: boolean;
  status?: number;
  error?: string;
}

/** POSTs one JSON body; ok on any 2xx. Never throws: a refused connection or a timeout is a failed result. */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<WebhookResult> {
  try {
    const res = await fetch(url, {
      method: 'POST', body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs),
      headers: { 'content-type': 'application/json', 'user-agent': 'arcsim-sink', ...headers },
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? { ok: true, status: res.status } : { ok: false, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, error: e.cause?.code ?? e.cause?.message ?? e.name ?? e.message };
  }
}

import WebSocket from 'ws';
import { LIMITS } from '../protocol/limits.ts';
import type { Identity } from './identity.ts';
import { watchLiveness } from './keepalive.ts';

interface ConnectionHandlers {
  /** The socket opened (send `register` now). */
  open(): void;
  /** One text frame; returns the code of an `error` frame, which the close that may follow depends on. */
  frame(text: string): string | undefined;
  /** The upgrade was refused with this status and body (no socket). */
  refused(status: number, body: string): void;
  /** The socket closed; `lastError` is the code of the last `error` frame received on it. */
  closed(code: number, reason: string, lastError: string | undefined): void;
  /** The server stopped answering pings (the socket is terminated; `closed` follows). */
  dead(): void;
  /** A socket-level error (a `closed` follows). */
  error(err: Error): void;
}

/**
 * One WebSocket connection to the control plane: `/agent/v1`, authenticated at the upgrade with
 * the agent's identity, frames capped at the protocol's size, and its own ping liveness check.
 * With `ca` (PEM) and an https control plane, that CA is the only one trusted (pinned): a server
 * certificate it did not sign fails the TLS handshake, before the key is sent.
 */
export class Connection {
  private readonly ws: WebSocket;

  constructor(o: { controlPlane: string; identity: Identity; pingIntervalMs: number; ca?: string }, h: ConnectionHandlers) {
    const url = new URL('/agent/v1', o.controlPlane);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${o.identity.agentId}.${o.identity.agentKey}` },
      maxPayload: LIMITS.maxFrameBytes,
      handshakeTimeout: LIMITS.handshakeTimeoutMs,
      ...(o.ca ? { ca: o.ca } : {}),
    });
    this.ws = ws;
    let liveness: ReturnType<typeof watchLiveness> | undefined;
    let lastError: string | undefined;
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        h.refused(res.statusCode ?? 0, text);
        ws.terminate();
      });
    });
    ws.on('open', () => {
      liveness = watchLiveness(ws, o.pingIntervalMs, () => {
        h.dead();
        ws.terminate();
      });
      h.open();
    });
    ws.on('message', (data) => {
      liveness?.markAlive();
      const code = h.frame(data.toString());
      if (code) lastError = code;
    });
    ws.on('close', (code, reason) => {
      liveness?.stop();
      h.closed(code, reason.toString(), lastError);
    });
    ws.on('error', (err) => h.error(err));
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame when the socket is open; returns whether it was sent. */
  send(frame: string): boolean {
    if (!this.open) return false;
    this.ws.send(frame);
    return true;
  }

  /** Drops the socket at once (no close handshake). */
  terminate(): void {
    this.ws.terminate();
  }

  /** Closes with `code` and resolves once closed (terminating after `graceMs`). */
  async close(code = 1000, graceMs = 1000): Promise<void> {
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(code);
      setTimeout(() => { ws.terminate(); resolve(); }, graceMs).unref();
    });
  }
}

import WebSocket from 'ws';
import { LIMITS } from '../protocol/limits.ts';
import { decodeIdleFrame } from './idle-decoder.ts';
import type { Identity } from './identity.ts';

export type Deregistration =
  | { ok: true; machineId: string | null; already?: boolean }
  | { ok: false; reason: string };

/**
 * Tells the control plane this agent is going away (`arcsim agent uninstall`): a socket opened
 * with the agent's own key (the only thing an agent key opens), one `deregister` frame, and the
 * `deregistered` answer. The control plane deletes the machine and revokes the key. Never
 * throws: an unreachable control plane or a refusal is a result with the reason.
 */
export function deregister(identity: Identity, o: { timeoutMs?: number } = {}): Promise<Deregistration> {
  const url = new URL('/agent/v1', identity.controlPlane);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Deregistration) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(r);
    };
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${identity.agentId}.${identity.agentKey}` },
      maxPayload: LIMITS.maxFrameBytes,
      handshakeTimeout: LIMITS.handshakeTimeoutMs,
    });
    const timer = setTimeout(() => done({ ok: false, reason: `no answer from ${identity.controlPlane} within ${o.timeoutMs ?? 10_000} ms` }), o.timeoutMs ?? 10_000);
    ws.on('open', () => ws.send(JSON.stringify({ v: 1, type: 'deregister' })));
    ws.on('message', (data) => {
      // deregistered and error are both decided by the hand decoder; anything else is ignored here.
      const d = decodeIdleFrame(data.toString());
      if (!d?.ok) return;
      if (d.message.type === 'deregistered') done({ ok: true, machineId: d.message.machineId });
      else if (d.message.type === 'error') done({ ok: false, reason: `${d.message.code}: ${d.message.message}` });
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let code = '';
        try {
          code = (JSON.parse(text) as { code?: string }).code ?? '';
        } catch { /* not JSON */ }
        // Already revoked (deleted by an admin, or deregistered before): nothing is left to remove.
        if (code === 'ARCSIM_E_AGENT_REVOKED' || code === 'ARCSIM_E_NODE_INVALID') done({ ok: true, machineId: null, already: true });
        else done({ ok: false, reason: `HTTP ${res.statusCode}${code ? ` ${code}` : ''}` });
      });
    });
    ws.on('error', (err) => done({ ok: false, reason: err.message }));
    ws.on('close', () => done({ ok: false, reason: 'the control plane closed the connection without confirming' }));
  });
}

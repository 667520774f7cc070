/**
 * Sink delivery benchmark: `node --import tsx bench/sinks.ts [N]` (default 2000 alerts). Loopback only.
 *
 * Puts N new alerts into a fresh SQLite store (N outbox changes), then drains them through one
 * sink of each kind and prints changes per second: a webhook (one signed POST per change, to a
 * loopback HTTP receiver that answers 204) and syslog over TCP (octet-counted CEF, to a loopback
 * TCP listener that counts the frames). Exits 1 if a receiver got fewer than N changes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../control-plane/index.ts';
import { Sinks } from '../control-plane/sinks/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { systemClock } from '../lib/clock.ts';

const n = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'arcsim-bench-sinks-'));
const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
const now = Date.now();

let posts = 0;
const http = createHttpServer((req, res) => { req.resume(); req.on('end', () => { posts++; res.writeHead(204).end(); }); });
await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
let frames = 0;
const tcp = createTcpServer((s) => {
  let buf = Buffer.alloc(0);
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) break;
      const len = Number(buf.subarray(0, sp).toString());
      if (buf.length < sp + 1 + len) break;
      frames++;
      buf = buf.subarray(sp + 1 + len);
    }
  });
});
await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));

const sinks = new Sinks([
  { name: 'hook', type: 'webhook', url: `http://127.0.0.1:${(http.address() as { port: number }).port}/`, secret: 'bench-secret-0123456789', format: 'graph', timeoutMs: 10_000 },
  { name: 'tcp', type: 'syslog', transport: 'tcp', host: '127.0.0.1', port: (tcp.address() as { port: number }).port, format: 'cef', facility: 10, maxMessageBytes: 8096, appName: 'arcsim' },
], { store, clock: systemClock, logger: silentLogger(), baseUrl: () => 'http://127.0.0.1:7070' });
await sinks.start(); // both start before the alerts below: they carry all N

await store.transaction(async (tx) => {
  for (let i = 0; i < n; i++) {
    await tx.alerts.upsertAlert({
      systemAlertId: `bench-${i}`, dedupKey: `k${i}`, alertType: 'VM_SshBruteForceFailed', ruleId: 'r', agentId: 'a', resourceId: '/m/1',
      severity: 'Medium', status: 'Active', count: 1, startTime: now, endTime: now, timeGenerated: now, updatedAt: now, latencyMs: null,
      properties: {
        alertDisplayName: 'Failed SSH brute force attack', description: 'Many failed logons', intent: 'Probing', detectingProduct: 'MDC', techniques: ['T1110'],
        entities: [{ $id: '1', type: 'host', hostName: 'web-01', osFamily: 'Linux' }, { $id: '2', type: 'ip', address: '203.0.113.7' }],
        location: { subscription: 's', resourceGroup: 'rg', location: 'westeurope' },
      },
    }, 60_000);
  }
});

const t0 = performance.now();
for (let delivered = 0; delivered < 2 * n;) {
  const r = await sinks.deliver();
  delivered += r.hook! + r.tcp!;
  if (r.hook === 0 && r.tcp === 0) break;
}
const seconds = (performance.now() - t0) / 1000;
await new Promise((r) => setTimeout(r, 200)); // the last TCP bytes reach the listener
console.log(`sinks bench: ${n} alert changes; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`  both sinks drained in ${seconds.toFixed(2)} s (passes run the two sinks side by side)`);
const health = await sinks.health();
console.log(`  webhook: ${posts} POSTs received, pending ${health[0]!.pending}; syslog tcp: ${frames} frames received, pending ${health[1]!.pending}`);
console.log(`  ≈ ${Math.round(n / seconds)} changes/s per sink (the slower sink bounds the figure)`);
await sinks.close();
http.close();
tcp.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
if (posts < n || frames < n) process.exit(1);

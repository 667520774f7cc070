/**
 * Child-process entry (forked by replicas.ts, never run directly): one control-plane replica on the
 * shared PostgreSQL database, on a free loopback port, with the per-agent rate limit raised so the
 * bench measures the pipeline. Talks to its parent only over IPC.
 */
import { createControlPlane, openPostgresStore } from '../control-plane/index.ts';

export type ToReplica = { type: 'start'; connectionString: string } | { type: 'stop' };
export type FromReplica = { type: 'listening'; url: string } | { type: 'stopped' } | { type: 'failed'; message: string };

function send(m: FromReplica): void {
  process.send!(m);
}

async function start(connectionString: string): Promise<void> {
  const store = await openPostgresStore({ connectionString });
  const cp = createControlPlane({
    store, config: { port: 0, host: '127.0.0.1', limits: { maxEventsPerSecond: 1e9, eventsBurst: 1e9 }, inventory: { schedulePulls: false } },
  });
  send({ type: 'listening', url: await cp.listen() });
  process.on('message', (m: ToReplica) => {
    if (m.type !== 'stop') return;
    void (async () => {
      await cp.close();
      await store.close();
      send({ type: 'stopped' });
      process.disconnect();
    })();
  });
}

if (!process.send) {
  console.error('bench/replica-process.ts is started by bench/replicas.ts (npm run bench -- --store postgres --replicas N), not directly.');
  process.exitCode = 2;
} else {
  process.once('message', (m: ToReplica) => {
    if (m.type !== 'start') return;
    start(m.connectionString).catch((err: unknown) => {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      process.disconnect();
    });
  });
}

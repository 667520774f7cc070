// The SQLite checkpointer thread (sqlite-checkpointer.ts). Plain JavaScript on purpose: it needs
// only better-sqlite3, and loading the TypeScript loader into a thread would cost it ~10 MB and
// a second of start-up for twenty lines.
//
// It opens its own connection to the store's file and, every `intervalMs`, copies what the WAL
// holds into the database (a PASSIVE checkpoint: it never blocks the writer, which keeps
// appending meanwhile). When the WAL has grown past `maxWalPages` anyway (the writer never paused
// long enough for a passive checkpoint to catch up, so the WAL could not start over), it runs a
// RESTART checkpoint, which waits for the writer's current transaction and lets the next one
// write the WAL from its start.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @type {{ file: string; intervalMs: number; maxWalPages: number; busyTimeoutMs: number }} */
const o = workerData;
const db = new Database(o.file, { fileMustExist: true });
db.pragma(`busy_timeout = ${Math.floor(o.busyTimeoutMs)}`);
const port = parentPort;

/** One round: returns the WAL's pages after it (for the tests and the logs). */
function checkpoint() {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)');
  if (r && r.log > o.maxWalPages) return db.pragma('wal_checkpoint(RESTART)')[0];
  return r;
}

let timer;
let last = -1;
const tick = () => {
  try {
    const r = checkpoint();
    // Said only when pages were copied, so an idle store costs the main thread nothing.
    if (r && r.checkpointed > 0 && r.checkpointed !== last) port.postMessage({ type: 'checkpointed', log: r.log, checkpointed: r.checkpointed });
    last = r?.checkpointed ?? -1;
  } catch (err) {
    // SQLITE_BUSY and the like: the next round tries again.
    port.postMessage({ type: 'error', message: String(err?.message ?? err) });
  }
  timer = setTimeout(tick, o.intervalMs);
};

port.on('message', (m) => {
  if (m?.type !== 'close') return;
  clearTimeout(timer);
  try {
    checkpoint();
  } finally {
    db.close();
    port.postMessage({ type: 'closed' });
    port.close();
  }
});
port.postMessage({ type: 'ready' });
timer = setTimeout(tick, o.intervalMs);

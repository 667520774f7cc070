// The SQLite checkpointer thread (sqlite-checkpointer.ts). Plain JavaScript on purpose: it needs
// only better-sqlite3, and loading the TypeScript loader into a thread would cost it ~10 MB and
// a second of start-up for twenty lines.
//
// It opens its own connection to the store's file and, every `intervalMs`, copies what the WAL
// holds into the database (a PASSIVE checkpoint: it never takes the writer's lock, so the writer
// keeps appending meanwhile). It never runs a blocking (FULL, RESTART) checkpoint: one holds the
// writer's lock while it copies and syncs, and the control plane's next BEGIN IMMEDIATE stood
// still on its event loop for all of it (docs/performance.md, goal 4, "Sixth pass"). When the
// WAL has grown past `maxWalPages` (under a steady stream of commits a passive round never ends
// with the whole WAL copied, so the writer never starts it over), the thread says `wrap`; the
// store pauses its writer (its lock held, the event loop free) and asks for one more round
// (`finish`), which, with no new frames coming, copies the WAL to its end; the writer's next
// transaction then writes the WAL from the start.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @type {{ file: string; intervalMs: number; maxWalPages: number }} */
const o = workerData;
const db = new Database(o.file, { fileMustExist: true });
const port = parentPort;

/** One round: returns the WAL's pages and how many of them are in the database file now. */
function checkpoint() {
  return db.pragma('wal_checkpoint(PASSIVE)')[0];
}

let timer;
let last = -1;
const tick = () => {
  try {
    const r = checkpoint();
    // Said only when pages were copied, so an idle store costs the main thread nothing.
    if (r && r.checkpointed > 0 && r.checkpointed !== last) port.postMessage({ type: 'checkpointed', log: r.log, checkpointed: r.checkpointed });
    if (r && r.log > o.maxWalPages) port.postMessage({ type: 'wrap', log: r.log, checkpointed: r.checkpointed });
    last = r?.checkpointed ?? -1;
  } catch (err) {
    // SQLITE_BUSY and the like: the next round tries again.
    port.postMessage({ type: 'error', message: String(err?.message ?? err) });
  }
  timer = setTimeout(tick, o.intervalMs);
};

port.on('message', (m) => {
  if (m?.type === 'finish') {
    // The writer is paused until this answer: copy what the last rounds left, now.
    try {
      const r = checkpoint();
      port.postMessage({ type: 'finished', id: m.id, log: r?.log, checkpointed: r?.checkpointed });
    } catch (err) {
      port.postMessage({ type: 'finished', id: m.id });
      port.postMessage({ type: 'error', message: String(err?.message ?? err) });
    }
    return;
  }
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

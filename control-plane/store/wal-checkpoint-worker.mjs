// The WAL checkpointer's thread (wal-checkpointer.ts): its own connection to the store's file,
// copying committed WAL frames into the database file (and syncing it) off the writer's thread.
// Plain JavaScript: it needs nothing of the project but the file name.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const db = new Database(workerData.file, { fileMustExist: true });
// Never wait on a lock: a checkpoint that finds one busy copies what it can, the next one the rest.
db.pragma('busy_timeout = 0');

parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    // PASSIVE: never blocks the writer, who keeps appending to the WAL meanwhile.
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, walFrames: row.log, copied: row.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err) });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteCheckpointer, SQLITE_CHECKPOINT } from '../../control-plane/store/sqlite-checkpointer.ts';
import { openSqliteStore } from '../../control-plane/store/index.ts';

/**
 * Issue 16, goal 4: SQLite's automatic checkpoint ran inside the control plane's COMMITs (copy and
 * fsync on the event loop). The checkpointer turns it off on the writer's connection and
 * checkpoints from a thread with its own connection; if that thread fails, the writer's own
 * automatic checkpoint comes back.
 */

function walDb(): { dir: string; file: string; db: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-ckpt-'));
  const file = join(dir, 'a.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)');
  return { dir, file, db };
}

test('the writer no longer checkpoints; the thread copies the WAL into the database file', async () => {
  const { dir, file, db } = walDb();
  try {
    const ck = new SqliteCheckpointer(db, file, { intervalMs: 20 });
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'automatic checkpoint off on the writer');
    const before = statSync(file).size;
    const copied = ck.checkpointed();
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => { for (let i = 0; i < 2000; i++) insert.run('x'.repeat(500)); })();
    const r = await copied;
    assert.ok(r.checkpointed > 0, `pages copied by the thread: ${JSON.stringify(r)}`);
    assert.ok(statSync(file).size > before, 'the database file grew: only a checkpoint writes it in WAL mode');
    await ck.close();
    assert.equal(ck.failed, undefined);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 2000);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('past maxWalPages the writer pauses for one final round of the thread, and the WAL starts over', async () => {
  const { dir, file, db } = walDb();
  try {
    // No busy timeout on the writer: any lock the thread held across a BEGIN IMMEDIATE would throw SQLITE_BUSY here.
    db.pragma('busy_timeout = 0');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const maxWalPages = 200;
    const ck = new SqliteCheckpointer(db, file, { intervalMs: 2, maxWalPages });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    // The thread is up once it has copied a first transaction.
    const up = ck.checkpointed();
    insert.run('first');
    await up;
    let written = 1;
    const transaction = async () => {
      db.exec('BEGIN IMMEDIATE');
      for (let j = 0; j < 40; j++) insert.run(`${written}/${j} ${'x'.repeat(400)}`);
      db.exec('COMMIT');
      written++;
      // As the store does: when the thread wants the WAL to start over, the writer pauses for its final round.
      if (ck.wantsWrap()) await ck.finish();
      // Lets the thread's messages in (and the thread run, on a loaded machine).
      await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const walSize = () => statSync(`${file}-wal`).size;
    // Past maxWalPages (~40 transactions), the thread says so and the writer finishes the copy.
    const deadline = Date.now() + 30_000;
    while (ck.wraps === 0 && Date.now() < deadline) await transaction();
    assert.ok(ck.wraps > 0, `the writer started the WAL over (after ${written - 1} transactions)`);
    // From then on the WAL file stops growing: 400 more transactions (~2,000 pages) are written
    // over its start again and again. Without the wrap the file grows by all of them.
    const before = walSize();
    for (let i = 0; i < 400; i++) await transaction();
    const grown = walSize() - before;
    const pages = 400 * 40 * 400 / pageSize;
    assert.ok(grown < (pages / 2) * pageSize, `the WAL grew by ${grown} bytes over ~${Math.round(pages)} pages written (wraps ${ck.wraps})`);
    assert.ok(ck.wraps > 1, `the WAL started over again and again (wraps ${ck.wraps})`);
    await ck.close();
    assert.equal(ck.failed, undefined);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, (written - 1) * 40 + 1);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the thread never takes the writer\'s lock, even with the WAL past maxWalPages', async () => {
  const { dir, file, db } = walDb();
  const probe = new Database(file);
  try {
    // A WAL of ~300 pages that no writer starts over (the probe's transactions write nothing).
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => { for (let i = 0; i < 2400; i++) insert.run('x'.repeat(400)); })();
    const ck = new SqliteCheckpointer(db, file, { intervalMs: 1, maxWalPages: 50 });
    await ck.checkpointed();
    // Another writer with no busy timeout: a BEGIN IMMEDIATE fails at once whenever anyone holds the writer's lock.
    probe.pragma('busy_timeout = 0');
    let busy = 0;
    let tries = 0;
    const until = Date.now() + 500;
    while (Date.now() < until) {
      tries++;
      try {
        probe.exec('BEGIN IMMEDIATE');
        probe.exec('COMMIT');
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        busy++;
      }
    }
    assert.equal(busy, 0, `${busy} of ${tries} BEGIN IMMEDIATE found the writer's lock taken by the checkpointer`);
    await ck.close();
    assert.equal(ck.failed, undefined);
  } finally {
    probe.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The store's wiring: the thread's final rounds run in the store's lock between its transactions
// (a finish that never settled would hang every write here). That the WAL needs them at all shows
// only under writes the thread cannot catch up with (the ingest passes); here it may catch up alone.
test('a file store under bursts of writes keeps its WAL file from growing and keeps every write', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-ckpt-'));
  try {
    const file = join(dir, 'a.db');
    const store = openSqliteStore({ file, checkpointLimits: { intervalMs: 2, maxWalPages: 100 } });
    const value = 'v'.repeat(3000);
    // Writes in bursts of 10 queued at once, the loop polling between bursts (the thread's
    // messages come in then) but never idle long enough for the thread to catch up by itself.
    const write = async (n: number, prefix: string) => {
      for (let i = 0; i < n; i += 10) {
        await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => store.settings.setSetting(`${prefix}${i + j}`, `${i + j}:${value}`)));
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const walPages = () => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size / 4096 : 0);
    // Rounds of 100 writes (~400 pages) until one leaves the WAL file no larger: past maxWalPages
    // it keeps starting over (once the thread is up), so its file, which SQLite never shrinks,
    // stops growing. Had it never started over, every round would grow it by all its pages.
    const deadline = Date.now() + 30_000;
    let rounds = 0;
    let grown = Number.POSITIVE_INFINITY;
    while (grown > 0 && Date.now() < deadline) {
      const before = walPages();
      await write(100, `r${rounds++}-`);
      grown = walPages() - before;
    }
    assert.equal(grown, 0, `after ${rounds} rounds of 100 writes the WAL file still grew (${Math.round(walPages())} pages)`);
    // And it stays so.
    const held = walPages();
    await write(300, 'more-');
    assert.ok(walPages() - held < 100, `the WAL file grew from ${Math.round(held)} to ${Math.round(walPages())} pages over 300 more writes`);
    assert.equal(await store.settings.getSetting(`r${rounds - 1}-99`), `99:${value}`);
    assert.equal(await store.settings.getSetting('more-299'), `299:${value}`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a thread that cannot start gives the writer its automatic checkpoint back', async () => {
  const { dir, file, db } = walDb();
  try {
    // The thread opens a file that is not there (fileMustExist): it fails at once.
    const ck = new SqliteCheckpointer(db, join(dir, 'missing.db'), { intervalMs: 20 });
    await new Promise<void>((resolve) => { const poll = () => (ck.failed ? resolve() : setTimeout(poll, 10)); poll(); });
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), SQLITE_CHECKPOINT.inlineAutocheckpointPages);
    await ck.close();
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  void file;
});

test('a file store checkpoints on the thread by default and closes cleanly; `inline` keeps SQLite\'s own', async () => {
  for (const checkpoint of [undefined, 'inline'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'arcsim-ckpt-'));
    try {
      const store = openSqliteStore({ file: join(dir, 'a.db'), ...(checkpoint ? { checkpoint } : {}) });
      assert.equal(await store.events.countEvents(), 0);
      await store.close();
      const db = new Database(join(dir, 'a.db'));
      // Closed by its last connection: what the WAL held is in the database file either way.
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal((db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'events'").get() as { n: number }).n, 1);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WalCheckpointer } from '../../control-plane/store/wal-checkpointer.ts';
import { openSqliteStore } from '../../control-plane/store/index.ts';

const PAGE = 4096;

/** A WAL database whose own connection never checkpoints, with `rows` rows of ~1 KiB committed one transaction each. */
function walDatabase(dir: string, rows: number): { db: Database.Database; file: string } {
  const file = join(dir, 'w.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < rows; i++) db.transaction(() => insert.run('x'.repeat(1000)))();
  return { db, file };
}

async function settled(c: WalCheckpointer, n: number): Promise<void> {
  for (let i = 0; i < 500 && c.checkpoints < n; i++) await new Promise((r) => setTimeout(r, 10));
}

test('a commit starts a checkpoint on the thread: the WAL frames reach the database file, the writer never checkpointed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-wal-'));
  try {
    const { db, file } = walDatabase(dir, 200);
    // Before: only the schema pages are in the database file; 200 KiB of rows wait in the WAL.
    const before = statSync(file).size;
    assert.ok(statSync(`${file}-wal`).size > 200 * 1000, 'the rows are in the WAL');
    let now = 0;
    const c = new WalCheckpointer(file, 100, () => now);
    c.committed();
    await settled(c, 1);
    assert.equal(c.checkpoints, 1);
    assert.equal(c.lastResult?.ok, true);
    assert.ok((c.lastResult?.walFrames ?? 0) > 50, `WAL frames ${c.lastResult?.walFrames}`);
    assert.equal(c.lastResult?.copied, c.lastResult?.walFrames, 'nothing else was writing: every frame copied');
    assert.ok(statSync(file).size >= before + 200 * 1000, 'the rows are in the database file now');
    // Within the interval a commit starts none; after it, one.
    db.prepare('INSERT INTO t (v) VALUES (?)').run('y');
    now = 50;
    c.committed();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.checkpoints, 1, 'not before intervalMs');
    now = 150;
    c.committed();
    await settled(c, 2);
    assert.equal(c.checkpoints, 2);
    await c.close();
    c.committed(); // closed: ignored, no thread started again
    assert.equal(c.checkpoints, 2);
    db.close();
    assert.ok(!existsSync(`${file}-wal`), 'the last connection closed removed the WAL (everything was copied)');
    const again = new Database(file, { readonly: true });
    assert.equal((again.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 201);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** 12 commits of 40 ~3 KiB events (~500 WAL pages: under SQLite's own 1,000-page checkpoint) over ~200 ms; the database file's size before close, bytes. */
async function fill(file: string, walCheckpointer: boolean): Promise<number> {
  const store = openSqliteStore({ file, walCheckpointer });
  await store.agents.insertToken({ id: 't', tokenHash: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, revokedAt: null, uses: 0, maxUses: null });
  await store.agents.enrollAgent({ agentId: 'a1', keyHash: '', tokenId: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', hostname: 'h', enrolledAt: 0 }, 0);
  const big = 'z'.repeat(3000);
  let n = 0;
  for (let c = 0; c < 12; c++) {
    await store.transaction(async (tx) => {
      const events = Array.from({ length: 40 }, () => ({
        ReportId: `0190a000-0000-7000-8000-${String(++n).padStart(12, '0')}`, Table: 'DeviceProcessEvents', Timestamp: new Date(Date.UTC(2026, 0, 1) + n).toISOString(),
        DeviceId: 'a1', DeviceName: 'h', ActionType: 'ProcessCreated', FileName: 'x.exe', ProcessCommandLine: big,
      }));
      await tx.events.insertEvents('a1', events as never, 0);
    });
    await new Promise((r) => setTimeout(r, 15));
  }
  // The last checkpoint started may still be copying.
  for (let i = 0; walCheckpointer && i < 100 && statSync(file).size < 300 * PAGE; i++) await new Promise((r) => setTimeout(r, 10));
  const size = statSync(file).size;
  assert.equal(await store.events.countEvents(), 480);
  await store.close();
  assert.ok(!existsSync(`${file}-wal`), 'closed cleanly: the WAL is gone');
  const again = openSqliteStore({ file });
  assert.equal(await again.events.countEvents(), 480, 'every committed row is there after reopening');
  await again.close();
  return size;
}

test('the store checkpoints off its writer: committed pages reach the database file before SQLite would checkpoint them itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-wal-store-'));
  try {
    const withThread = await fill(join(dir, 'on.db'), true);
    const without = await fill(join(dir, 'off.db'), false);
    assert.ok(withThread >= 300 * PAGE, `with the checkpointer the database file holds the rows: ${withThread} bytes`);
    assert.ok(without < 100 * PAGE, `without it (walCheckpointer: false) they are still only in the WAL: ${without} bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from '../../cli/service.ts';
import { silentLogger } from '../../lib/logger.ts';
import { cleanup, tempDir } from '../helpers.ts';

// Issue 12 item 9, found case: arcsim.db was mode 0644. The store holds key hashes, enrollment
// tokens and every event: data files 0600, the data dir 0700 (created so, tightened if it exists).
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test('data dir 0700 and arcsim.db, -wal, -shm 0600, also when they existed with looser modes; the import dir is created 0700', async (t) => {
  const root = tempDir();
  t.after(() => cleanup(root));
  const fresh = join(root, 'fresh', 'data');
  const importDir = join(fresh, 'import');
  let svc = await startControlPlane({ dataDir: fresh, host: '127.0.0.1', port: 0, logger: silentLogger(), config: { inventory: { schedulePulls: false, importDir } } });
  await svc.cp.createToken({ subscription: 's', resourceGroup: 'rg' }); // a write, so -wal and -shm exist
  assert.equal(mode(fresh), '700');
  for (const f of ['arcsim.db', 'arcsim.db-wal', 'arcsim.db-shm']) assert.equal(mode(join(fresh, f)), '600', f);
  assert.equal(mode(importDir), '700');
  await svc.stop();

  const old = join(root, 'old');
  mkdirSync(old, { mode: 0o755 });
  chmodSync(old, 0o755);
  writeFileSync(join(old, 'arcsim.db'), '');
  chmodSync(join(old, 'arcsim.db'), 0o644);
  svc = await startControlPlane({ dataDir: old, host: '127.0.0.1', port: 0, logger: silentLogger(), config: { inventory: { schedulePulls: false } } });
  await svc.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  assert.equal(mode(old), '700');
  for (const f of ['arcsim.db', 'arcsim.db-wal', 'arcsim.db-shm']) assert.equal(mode(join(old, f)), '600', f);
  await svc.stop();
});

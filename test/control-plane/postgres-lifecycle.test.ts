import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createControlPlane, type ControlPlane } from '../../control-plane/index.ts';
import { openPostgresStore } from '../../control-plane/store/postgres-store.ts';
import { enroll, RawAgent, TEST_FACTS } from '../helpers.ts';
import { startTestPostgres } from '../support/postgres.ts';

/** Issue 12 key lifecycle on PostgreSQL with two control-plane replicas sharing one database. */

const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

async function replica(t: { after(fn: () => unknown): void }, connectionString: string): Promise<{ cp: ControlPlane; url: string }> {
  const store = await openPostgresStore({ connectionString });
  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1' } });
  const url = await cp.listen();
  t.after(async () => {
    await cp.close();
    await store.close();
  });
  return { cp, url };
}

test('PostgreSQL, two replicas: a max-uses-1 token enrolls exactly one of two simultaneous enrollments; a revoke on one replica reaches an agent on the other', { skip: postgres.skip }, async (t) => {
  const db = await postgres.pg!.createDatabase();
  const a = await replica(t, db);
  const b = await replica(t, db);
  const adminKey = (await a.cp.ensureAdminKey({ reset: true }))!;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` };

  for (let round = 0; round < 5; round++) {
    const res = await fetch(`${a.url}/api/tokens`, { method: 'POST', headers, body: JSON.stringify({ subscription: 's', resourceGroup: 'rg' }) });
    const { token } = await res.json();
    // The same token at the same time on both replicas.
    const answers = await Promise.all([a.url, b.url].map((url) => fetch(`${url}/api/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
    })));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 401], `round ${round}`);
    const refused = await answers.find((r) => r.status === 401)!.json();
    assert.equal(refused.code, 'ARCSIM_E_TOKEN_EXHAUSTED');
  }

  // An agent on replica B, revoked through replica A: B closes it at its next heartbeat.
  const token = await a.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const creds = await enroll(b.url, token.token, 'host-on-b');
  const agent = await RawAgent.connect(b.url, creds);
  t.after(() => agent.close());
  await agent.register({ ...TEST_FACTS, hostname: 'host-on-b' });
  const revoke = await fetch(`${a.url}/api/agents/host-on-b/revoke`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } });
  assert.equal(revoke.status, 200);
  agent.send({ v: 1, type: 'heartbeat', time: new Date().toISOString() });
  assert.equal((await agent.next('error')).code, 'ARCSIM_E_AGENT_REVOKED');
  assert.equal((await agent.closed).code, 4401);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock, systemClock } from '../../lib/clock.ts';
import { createControlPlane, openSqliteStore, type Store } from '../../control-plane/index.ts';
import { createEnrollmentToken, enrollAgent } from '../../control-plane/auth/enrollment.ts';
import { mergeAssets } from '../../control-plane/inventory/asset-merge.ts';
import { MachineFactsSchema, machineResourceId, toMachineName, type MachineFacts } from '../../protocol/index.ts';
import { stormFacts } from '../../bench/storm-messages.ts';
import { cleanup, enroll, RawAgent, startControlPlane, tempDir } from '../helpers.ts';

const EX = join(import.meta.dirname, '..', '..', 'examples', 'cspm');
const text = (f: string) => readFileSync(join(EX, f), 'utf8');
const json = (f: string) => JSON.parse(text(f));
const personas = json('persona-facts.json') as Record<string, MachineFacts>;

/**
 * The real SQLite store, with the rows its calls return counted (an array its length, an object one). Not a mock:
 * each call goes to the store unchanged; transactions hand a counted view of their `tx`.
 */
function counted<T extends object>(target: T, counter: { rows: number }): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj) as unknown;
      if (typeof value === 'function') {
        return (...args: unknown[]) => {
          const wrapped = args.map((a) => (typeof a === 'function' ? (tx: object) => (a as (x: object) => unknown)(counted(tx, counter)) : a));
          const r = (value as (...a: unknown[]) => unknown).apply(obj, wrapped);
          return r instanceof Promise ? r.then((v) => { counter.rows += Array.isArray(v) ? v.length : v && typeof v === 'object' ? 1 : 0; return v; }) : r;
        };
      }
      if (value && typeof value === 'object' && !Array.isArray(value)) return counted(value as object, counter);
      return value;
    },
  });
}

/** `n` machines stored as their agents registered them; the first `k` agents' credentials. */
async function seed(store: Store, n: number, k: number): Promise<Array<{ agentId: string; agentKey: string; index: number }>> {
  const token = await createEnrollmentToken(store, { subscription: 'sub', resourceGroup: 'rg' }, systemClock);
  const out: Array<{ agentId: string; agentKey: string; index: number }> = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const facts = MachineFactsSchema.parse(stormFacts(i));
    const e = await enrollAgent(store, token.token, facts.hostname, systemClock);
    const name = toMachineName(facts.hostname);
    await store.machines.upsertMachine({
      agentId: e.agentId, resourceId: machineResourceId('sub', 'rg', name), name, facts, sqlInstances: [], extensions: [],
      status: 'Connected', lastHeartbeat: now, lastStatusChange: now, registeredAt: now,
    });
    if (i < k) out.push({ agentId: e.agentId, agentKey: e.agentKey, index: i });
  }
  return out;
}

/** Store rows read per reconnect registration (same host back) with `stored` machines stored. */
async function rowsPerReconnect(stored: number): Promise<number> {
  const dir = tempDir();
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const agents = await seed(store, stored, 5);
  const counter = { rows: 0 };
  const cp = createControlPlane({ store: counted(store, counter), config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false } } });
  const url = await cp.listen();
  try {
    await cp.inventory.idle();
    counter.rows = 0;
    for (const a of agents) {
      const agent = await RawAgent.connect(url, a);
      await agent.register(stormFacts(a.index) as MachineFacts);
      agent.close();
      await agent.closed;
    }
    await cp.inventory.idle();
    return counter.rows / agents.length;
  } finally {
    await cp.close();
    await store.close();
    cleanup(dir);
  }
}

test('a reconnect registration reads as many store rows with 2,000 machines stored as with 10 (issue 12: no whole-inventory recompute)', async () => {
  const small = await rowsPerReconnect(10);
  const large = await rowsPerReconnect(2000);
  console.log(`store rows read per reconnect registration: ${small} with 10 stored, ${large} with 2,000 stored`);
  // Before: every registration listed every machine, CSPM resource and asset (>= 2,000 rows here).
  assert.ok(large <= small + 5, `rows per registration grew with the inventory: ${small} (10 stored) -> ${large} (2,000 stored)`);
  assert.ok(large < 100, `a registration read ${large} rows`);
});

/** A tiny seeded generator, so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test('registrations keep the merged inventory equal to a full recomputation after every step (Arc + AWS + GCP, clones, conflicts)', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const env = await startControlPlane({ clock, config: { inventory: { schedulePulls: false } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const cp = env.cp;
  await cp.inventory.putConnector('aws-lab', json('connector-aws-lab.json'));
  await cp.inventory.putConnector('gcp-lab', json('connector-gcp-lab.json'));
  await cp.inventory.importSnapshots('aws-lab', [{ document: json('aws-describe-instances.json'), source: 'test' }], 'test');
  await cp.inventory.importSnapshots('gcp-lab', [{ document: json('gcp-instances.json'), source: 'test' }], 'test');
  const token = (await cp.createToken({ subscription: 'sub', resourceGroup: 'rg', ttlMs: 3_600_000 })).token;

  const ec2 = personas['ec2-persona']!;
  const gcp = personas['gcp-persona']!;
  const weak = (f: MachineFacts): MachineFacts => ({ ...f, cloudMetadata: { provider: f.cloudMetadata.provider } });
  // Variants a host may register with: strong keys, weak keys only, a plain on-prem host, a clone's UUID.
  const variants = (i: number): MachineFacts[] => [
    ec2, gcp, weak(ec2), weak(gcp),
    MachineFactsSchema.parse(stormFacts(i)),
    { ...MachineFactsSchema.parse(stormFacts(i)), vmUuid: '00000000-0000-4000-8000-0000000c10e0' },
    { ...ec2, hostname: `other-${i}` },
  ];
  const random = rng(12);
  const creds: Array<{ agentId: string; agentKey: string }> = [];
  const steps: string[] = [];
  const seen = { strong: 0, probable: 0, conflicts: new Set<string>() };
  for (let step = 0; step < 40; step++) {
    // Mostly new agents early, mostly reconnects (same or changed facts) later.
    const reuse = creds.length > 0 && random() < Math.min(0.8, step / 30);
    const who = reuse ? creds[Math.floor(random() * creds.length)]! : await enroll(env.url, token, `h-${step}`);
    if (!reuse) creds.push(who);
    const vs = variants(creds.indexOf(who));
    const facts = vs[Math.floor(random() * vs.length)]!;
    steps.push(`${step}: agent ${creds.indexOf(who)} as ${facts.hostname}/${facts.cloudMetadata.provider}${facts.cloudMetadata.details ? '+ids' : ''}`);
    const agent = await RawAgent.connect(env.url, who);
    await agent.register(facts);
    agent.close();
    await agent.closed;
    await cp.inventory.idle();
    clock.advance(1000);

    const full = mergeAssets({
      machines: await env.store.machines.listMachines(),
      instances: await env.store.inventory.listCspmResources({ includeDeleted: true }),
      connectors: await env.store.inventory.listConnectors(),
    });
    const strip = (rows: Array<{ updatedAt: number }>) => rows.map(({ updatedAt: _u, ...rest }) => rest);
    const stored = (await env.store.inventory.listAssets()).sort((a, b) => a.assetKey.localeCompare(b.assetKey));
    assert.deepEqual(strip(stored), strip(full), `after step ${steps.at(-1)}\n${steps.join('\n')}`);
    if (stored.some((a) => a.confidence === 'strong')) seen.strong++;
    if (stored.some((a) => a.confidence === 'probable')) seen.probable++;
    for (const a of stored) for (const c of a.conflicts) seen.conflicts.add(c.kind);
  }
  console.log(`steps with a strong merge ${seen.strong}, with a probable one ${seen.probable}; conflicts seen: ${[...seen.conflicts].sort().join(', ')}; reconnects without recompute: ${cp.inventory.registrationsSkipped}`);
  // The sequence must have exercised the interesting cases, or the comparison proves little.
  assert.ok(seen.strong > 0, 'no strong merge happened');
  assert.ok(seen.conflicts.has('duplicate-instance-claim') && seen.conflicts.has('duplicate-vm-uuid'), 'clones were not exercised');
  assert.ok(cp.inventory.registrationsSkipped > 0, 'no reconnect skipped the recompute');
});

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

/**
 * `n` machines stored as their agents registered them; the first `k` agents' credentials, or with
 * `fresh`, `k` more agents enrolled whose machines are not stored yet (their first registration).
 */
async function seed(store: Store, n: number, k: number, fresh = false): Promise<Array<{ agentId: string; agentKey: string; index: number }>> {
  const token = await createEnrollmentToken(store, { subscription: 'sub', resourceGroup: 'rg' }, systemClock);
  const out: Array<{ agentId: string; agentKey: string; index: number }> = [];
  const now = Date.now();
  for (let i = 0; i < n + (fresh ? k : 0); i++) {
    const facts = MachineFactsSchema.parse(stormFacts(i));
    const e = await enrollAgent(store, token.token, facts.hostname, systemClock);
    if (i >= n) { out.push({ agentId: e.agentId, agentKey: e.agentKey, index: i }); continue; }
    const name = toMachineName(facts.hostname);
    await store.machines.upsertMachine({
      agentId: e.agentId, resourceId: machineResourceId('sub', 'rg', name), name, facts, sqlInstances: [], extensions: [],
      status: 'Connected', lastHeartbeat: now, lastStatusChange: now, registeredAt: now,
    });
    if (i < k && !fresh) out.push({ agentId: e.agentId, agentKey: e.agentKey, index: i });
  }
  return out;
}

type Registration = 'reconnect' | 'new' | 'changed';

/** What the agent sends: the stored facts (reconnect, new) or the same host with a new private IP (changed). */
function factsFor(kind: Registration, index: number): MachineFacts {
  const f = stormFacts(index) as MachineFacts;
  if (kind !== 'changed') return f;
  return { ...f, networkInterfaces: [{ ...f.networkInterfaces![0]!, ipAddresses: [`172.16.${(index >> 8) & 255}.${index & 255}`] }] };
}

/** Store rows read per registration of `kind` with `stored` machines stored (5 registrations, averaged). */
async function rowsPerRegistration(stored: number, kind: Registration = 'reconnect'): Promise<{ rows: number; incremental: number; skipped: number }> {
  const dir = tempDir();
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const agents = await seed(store, stored, 5, kind === 'new');
  const counter = { rows: 0 };
  const cp = createControlPlane({ store: counted(store, counter), config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false } } });
  const url = await cp.listen();
  try {
    await cp.inventory.idle();
    counter.rows = 0;
    for (const a of agents) {
      const agent = await RawAgent.connect(url, a);
      await agent.register(factsFor(kind, a.index));
      agent.close();
      await agent.closed;
    }
    await cp.inventory.idle();
    return { rows: counter.rows / agents.length, incremental: cp.inventory.registrationsMergedIncrementally, skipped: cp.inventory.registrationsSkipped };
  } finally {
    await cp.close();
    await store.close();
    cleanup(dir);
  }
}

test('a reconnect registration reads as many store rows with 2,000 machines stored as with 10 (issue 12: no whole-inventory recompute)', async () => {
  const small = (await rowsPerRegistration(10)).rows;
  const large = (await rowsPerRegistration(2000)).rows;
  console.log(`store rows read per reconnect registration: ${small} with 10 stored, ${large} with 2,000 stored`);
  // Before: every registration listed every machine, CSPM resource and asset (>= 2,000 rows here).
  assert.ok(large <= small + 5, `rows per registration grew with the inventory: ${small} (10 stored) -> ${large} (2,000 stored)`);
  assert.ok(large < 100, `a registration read ${large} rows`);
});

for (const kind of ['new', 'changed'] as const) {
  test(`a ${kind} machine's registration reads as many store rows with 2,000 machines stored as with 10 (issue 12 item 7: incremental merge)`, async () => {
    const small = await rowsPerRegistration(10, kind);
    const large = await rowsPerRegistration(2000, kind);
    console.log(`store rows read per ${kind}-machine registration: ${small.rows} with 10 stored, ${large.rows} with 2,000 stored`);
    // Each of the 5 registrations changed what the merge reads: none was skipped as a plain reconnect.
    assert.equal(large.skipped, 0);
    assert.equal(large.incremental, 5, 'every registration was merged incrementally');
    // A full recomputation lists every stored machine (>= 2,000 rows per registration here).
    assert.ok(large.rows <= small.rows + 5, `rows per registration grew with the inventory: ${small.rows} (10 stored) -> ${large.rows} (2,000 stored)`);
    assert.ok(large.rows < 50, `a registration read ${large.rows} rows`);
  });
}

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
  const at = (f: MachineFacts, hostname: string, ip: string): MachineFacts => ({
    ...f, hostname, machineFqdn: undefined, networkInterfaces: [{ name: 'eth0', macAddress: '02:00:00:00:00:01', ipAddresses: [ip] }],
  });
  // The two AWS instances no persona claims (examples/cspm/aws-describe-instances.json), by their weak keys.
  const web2 = at(weak(ec2), 'ip-10-0-1-50', '10.0.1.50');
  const db1 = at(weak(ec2), 'ip-10-0-2-40', '10.0.2.40');
  // Variants a host may register with (and change between): strong keys, weak keys only, a plain
  // on-prem host, a clone's UUID, a claim without the account id, a changed hostname or IP, a claim
  // of an instance the cloud does not list, a claim moved to another instance.
  const variants = (i: number): MachineFacts[] => [
    ec2, gcp, weak(ec2), weak(gcp), web2, db1,
    MachineFactsSchema.parse(stormFacts(i)),
    { ...MachineFactsSchema.parse(stormFacts(i)), vmUuid: '00000000-0000-4000-8000-0000000c10e0' },
    { ...ec2, hostname: `other-${i}` },
    at(web2, 'ip-10-0-1-50', '10.9.9.9'), at(web2, `renamed-${i}`, '10.0.1.50'),
    { ...web2, cloudMetadata: { provider: 'AWS', details: { instanceId: 'i-0b2c3d4e5f6071829' } } },
    { ...ec2, cloudMetadata: { provider: 'AWS', details: { ...ec2.cloudMetadata.details, instanceId: 'i-0c3d4e5f607182930' } } },
    { ...ec2, cloudMetadata: { provider: 'AWS', details: { ...ec2.cloudMetadata.details, instanceId: `i-0ffff${i}` } } },
  ];
  const random = rng(12);
  const creds: Array<{ agentId: string; agentKey: string }> = [];
  const steps: string[] = [];
  const seen = { strong: 0, probable: 0, conflicts: new Set<string>() };
  for (let step = 0; step < 80; step++) {
    // Mostly new agents early, mostly reconnects (same or changed facts) later.
    const reuse = creds.length > 0 && random() < Math.min(0.8, step / 40);
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
  console.log(`steps with a strong merge ${seen.strong}, with a probable one ${seen.probable}; conflicts seen: ${[...seen.conflicts].sort().join(', ')}; ` +
    `reconnects without recompute: ${cp.inventory.registrationsSkipped}, merged incrementally: ${cp.inventory.registrationsMergedIncrementally}`);
  // The sequence must have exercised the interesting cases, or the comparison proves little.
  assert.ok(seen.strong > 0, 'no strong merge happened');
  assert.ok(seen.conflicts.has('duplicate-instance-claim') && seen.conflicts.has('duplicate-vm-uuid'), 'clones were not exercised');
  assert.ok(seen.probable > 0, 'no weak-key (probable) merge happened');
  for (const kind of ['ambiguous-weak-match', 'instance-unknown-to-cloud']) assert.ok(seen.conflicts.has(kind), `${kind} was not exercised`);
  assert.ok(cp.inventory.registrationsSkipped > 0, 'no reconnect skipped the recompute');
  // New and changed machines went through the incremental merge, not the full recomputation.
  assert.ok(cp.inventory.registrationsMergedIncrementally > 40, `only ${cp.inventory.registrationsMergedIncrementally} registrations were merged incrementally`);
});

test('16 agents registering at once are stored and merged in shared transactions, not three each (issue 16, goal 4)', async () => {
  const dir = tempDir();
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const agents = await seed(store, 10, 16, true);
  // The real store; only the calls that open a transaction are counted: `transaction`, and a machine upsert outside one (atomic on its own).
  const tally = { transactions: 0 };
  const machines = new Proxy(store.machines, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj) as unknown;
      if (prop === 'upsertMachine') return (...args: unknown[]) => { tally.transactions++; return (value as (...a: unknown[]) => unknown).apply(obj, args); };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
    },
  });
  const counting = new Proxy(store, {
    get(obj, prop) {
      if (prop === 'machines') return machines;
      const value = Reflect.get(obj, prop, obj) as unknown;
      if (prop === 'transaction') return (...args: unknown[]) => { tally.transactions++; return (value as (...a: unknown[]) => unknown).apply(obj, args); };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
    },
  });
  const cp = createControlPlane({ store: counting, config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false } } });
  const url = await cp.listen();
  try {
    await cp.inventory.idle();
    const sockets = await Promise.all(agents.map((a) => RawAgent.connect(url, a)));
    tally.transactions = 0;
    const registered = await Promise.all(sockets.map((s, i) => s.register(factsFor('new', agents[i]!.index))));
    await cp.inventory.idle();
    // Provisioning follows `registered` on the next turn of the loop; let it open its transaction.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    assert.equal(new Set(registered.map((r) => r.machineId)).size, 16, 'each agent got its own machine');
    assert.equal(cp.inventory.registrationsMergedIncrementally, 16, 'every new machine was merged');
    console.log(`transactions for 16 registrations at once: ${tally.transactions}`);
    // One by one, each new machine took three: its upsert, its inventory merge, its provisioning (48 here).
    // Grouped: a store write, a merge and a provisioning per group (3 when all 16 arrive together).
    assert.ok(tally.transactions < 16, `${tally.transactions} transactions for 16 registrations`);
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
  } finally {
    await cp.close();
    await store.close();
    cleanup(dir);
  }
});

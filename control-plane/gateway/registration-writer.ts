import type { MachineFacts, MessageOf } from '../../protocol/index.ts';
import { machineResourceId, toMachineName } from '../../protocol/index.ts';
import type { AgentRow, MachineRow, Store, StoreTx } from '../store/index.ts';

/** One agent's `register`, as the session hands it over (after its claim). */
export interface RegistrationRequest {
  agent: AgentRow;
  facts: MachineFacts;
  sqlInstances: MessageOf<'register'>['sqlInstances'];
  extensions: MessageOf<'register'>['extensions'];
  /** The registration's time (the injected clock), ms. */
  now: number;
  /** Asked when the request's turn comes: true skips it unstored (revoked, or its socket closed meanwhile). */
  dropped(): boolean;
}

/** The stored machine and its row before (undefined for a first registration). */
export interface Registered {
  machine: MachineRow;
  before: MachineRow | undefined;
}

interface Pending {
  request: RegistrationRequest;
  resolve(r: Registered | null): void;
  reject(err: unknown): void;
}

/**
 * Writes agents' registrations in groups (issue 16, goal 4). Each registration stores its machine
 * (and merge keys), then the inventory merges it; one by one that was two transactions per agent,
 * and a storm of 10,000 agents spent its time in their commits. Here every registration waiting
 * when the store is free (up to `maxPerCommit`) is stored in one transaction, in arrival order,
 * exactly as it would be alone (a later one sees the earlier ones' rows, e.g. a machine name
 * already taken), and the inventory merges the group in one more (`merge`; the next group is stored
 * meanwhile, the merges run in order). A request's promise settles only after both, so `registered`
 * still means "stored and merged". If a group's transaction fails, each of its requests is tried
 * again alone, so one failure is its own agent's.
 */
export class RegistrationWriter {
  private readonly waiting: Pending[] = [];
  private running = false;

  constructor(private readonly deps: {
    store: Pick<Store, 'transaction'>;
    /** The inventory's merge of stored machines (one transaction for the group). */
    merge(registered: Registered[]): Promise<void>;
    /** Most registrations in one transaction, count. */
    maxPerCommit: number;
  }) {}

  /** Resolves with the stored machine once stored and merged, or `null` when dropped before its turn. */
  submit(request: RegistrationRequest): Promise<Registered | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Registrations handed in during this turn of the loop join the first group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      // The next group is stored while the inventory merges the one before (its merges run in order).
      while (this.waiting.length) {
        const group = this.waiting.splice(0, Math.max(1, this.deps.maxPerCommit));
        const stored = await this.store(group);
        void this.merge(group, stored);
      }
    } finally {
      this.running = false;
    }
  }

  /** Stores the group in one transaction; `undefined` for a request whose store failed (already rejected), `null` when dropped. */
  private async store(group: Pending[]): Promise<Array<Registered | null | undefined>> {
    try {
      return await this.deps.store.transaction(async (tx) => {
        const out: Array<Registered | null> = [];
        for (const p of group) out.push(p.request.dropped() ? null : await storeOne(tx, p.request));
        return out;
      });
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return [undefined];
      }
      // Nothing of the group was committed: each alone, so one failure is its own agent's.
      const out: Array<Registered | null | undefined> = [];
      for (const p of group) out.push((await this.store([p]))[0]);
      return out;
    }
  }

  /** Merges the group's stored machines (one inventory transaction), then settles each request. */
  private async merge(group: Pending[], stored: Array<Registered | null | undefined>): Promise<void> {
    const merged = stored.filter((r): r is Registered => !!r);
    try {
      if (merged.length) await this.deps.merge(merged);
    } catch (err) {
      if (merged.length === 1) {
        group.forEach((p, i) => (stored[i] ? p.reject(err) : stored[i] === null ? p.resolve(null) : undefined));
        return;
      }
      // Merged one by one, so one machine's failure is its own agent's (each is stored already).
      for (const [i, p] of group.entries()) {
        const r = stored[i];
        if (r === undefined) continue;
        if (r === null) { p.resolve(null); continue; }
        await this.deps.merge([r]).then(() => p.resolve(r), (e: unknown) => p.reject(e));
      }
      return;
    }
    group.forEach((p, i) => { if (stored[i] !== undefined) p.resolve(stored[i] ?? null); });
  }
}

/** One registration's store writes: the machine keeps its name and resource id, or gets new ones. */
async function storeOne(tx: StoreTx, r: RegistrationRequest): Promise<Registered> {
  const a = r.agent;
  const before = await tx.machines.getMachine(a.agentId);
  let resourceId = before?.resourceId;
  let name = before?.name;
  if (!resourceId || !name) {
    name = toMachineName(r.facts.hostname);
    resourceId = machineResourceId(a.subscription, a.resourceGroup, name);
    if (await tx.machines.isResourceIdTaken(resourceId, a.agentId)) {
      // Another agent already holds this name in the resource group: keep both, visibly.
      name = `${name.slice(0, 45)}-${a.agentId.slice(0, 8)}`;
      resourceId = machineResourceId(a.subscription, a.resourceGroup, name);
    }
  }
  const machine = await tx.machines.upsertMachine({
    agentId: a.agentId, resourceId, name, facts: r.facts, sqlInstances: r.sqlInstances,
    extensions: before?.extensions ?? r.extensions ?? [], status: 'Connected',
    lastHeartbeat: r.now, lastStatusChange: r.now, registeredAt: before?.registeredAt ?? r.now,
  });
  return { machine, before };
}

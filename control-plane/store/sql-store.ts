import type { Executor } from './executor.ts';
import { appliedMigrations } from './migrate.ts';
import { AgentsRepo } from './repositories/agents.ts';
import { AlertsRepo } from './repositories/alerts.ts';
import { EventsRepo, type DeferredEventData } from './repositories/events.ts';
import { IncidentsRepo } from './repositories/incidents.ts';
import { KeysRepo } from './repositories/keys.ts';
import { InventoryRepo } from './repositories/inventory.ts';
import { MachinesRepo } from './repositories/machines.ts';
import { RunsRepo } from './repositories/runs.ts';
import { SettingsRepo } from './repositories/settings.ts';
import { SinksRepo } from './repositories/sinks.ts';
import { VulnerabilitiesRepo } from './repositories/vulnerabilities.ts';
import { PortalRepo } from './repositories/portal.ts';
import type { Store, StoreTx } from './store.ts';

/** One repository per domain, all over the same executor. */
class SqlRepositories {
  readonly agents: AgentsRepo;
  readonly machines: MachinesRepo;
  readonly events: EventsRepo;
  readonly alerts: AlertsRepo;
  readonly incidents: IncidentsRepo;
  readonly inventory: InventoryRepo;
  readonly runs: RunsRepo;
  readonly settings: SettingsRepo;
  readonly keys: KeysRepo;
  readonly sinks: SinksRepo;
  readonly vulnerabilities: VulnerabilitiesRepo;
  readonly portal: PortalRepo;

  constructor(ex: Executor, deferred: DeferredEventData | undefined) {
    this.agents = new AgentsRepo(ex);
    this.machines = new MachinesRepo(ex);
    this.events = new EventsRepo(ex, deferred);
    this.alerts = new AlertsRepo(ex);
    this.incidents = new IncidentsRepo(ex);
    this.inventory = new InventoryRepo(ex);
    this.runs = new RunsRepo(ex);
    this.settings = new SettingsRepo(ex);
    this.keys = new KeysRepo(ex);
    this.sinks = new SinksRepo(ex);
    this.vulnerabilities = new VulnerabilitiesRepo(ex);
    this.portal = new PortalRepo(ex);
  }
}

/**
 * The store over a backend's executor: the repositories for calls on the store directly, and a
 * fresh set over the transaction's executor for each `transaction`.
 */
export class SqlStore extends SqlRepositories implements Store {
  readonly kind: Store['kind'];

  /** `deferred`: a scratch store's events whose data is written only when read (SqliteStoreOptions.scratch). */
  constructor(private readonly ex: Executor, private readonly closeBackend: () => Promise<void>, private readonly deferred?: DeferredEventData) {
    super(ex, deferred);
    this.kind = ex.dialect;
  }

  migrations(): Promise<number[]> {
    return appliedMigrations(this.ex);
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.ex.atomic((tx) => fn(new SqlRepositories(tx, this.deferred)));
  }

  close(): Promise<void> {
    return this.closeBackend();
  }
}

import type { Executor } from './executor.ts';
import { appliedMigrations } from './migrate.ts';
import { SqlRepositories } from './repositories/runs.ts';
import type { Store, StoreTx } from './store.ts';

/**
 * The store over a backend's executor: the repositories for calls on the store directly, and a
 * fresh set over the transaction's executor for each `transaction`.
 */
export class SqlStore extends SqlRepositories implements Store {
  readonly kind: Store['kind'];

  constructor(ex: Executor, private readonly closeBackend: () => Promise<void>) {
    super(ex);
    this.kind = ex.dialect;
  }

  migrations(): Promise<number[]> {
    return appliedMigrations(this.ex);
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.ex.atomic((tx) => fn(new SqlRepositories(tx)));
  }

  close(): Promise<void> {
    return this.closeBackend();
  }
}

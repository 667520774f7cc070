import type { Executor } from '../executor.ts';

/**
 * A repository holds one domain's SQL and runs it on an executor: the store's own, or a
 * transaction's (so the same class serves `store.alerts` and `tx.alerts`).
 */
export abstract class RepositoryBase {
  constructor(protected readonly ex: Executor) {}
}

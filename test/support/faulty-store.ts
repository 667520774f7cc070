import type { Store } from '../../control-plane/store/index.ts';

/** What SQLite / the OS say when a write fails: the same shape better-sqlite3 and node:fs throw. */
const FAULTS = {
  SQLITE_FULL: 'database or disk is full',
  SQLITE_BUSY: 'database is locked',
  ENOSPC: 'ENOSPC: no space left on device, write',
} as const;
export type StoreFaultCode = keyof typeof FAULTS;

export interface FaultyStore {
  /** The store to hand to createControlPlane. */
  store: Store;
  /** From now on every transaction (the ingest of a batch) throws this driver error before it commits anything. */
  fail(code: StoreFaultCode): void;
  /** Transactions commit again. */
  heal(): void;
  /** Transactions refused since created. */
  refused(): number;
}

/**
 * A fault hook around a real store (a test seam, not a mock: every call still reaches the real
 * database). While failing, `transaction` throws the error a full disk or a locked database
 * raises, so nothing of the batch is written; reads and the other writes go through untouched.
 */
export function faultyStore(real: Store): FaultyStore {
  let fault: StoreFaultCode | undefined;
  let refused = 0;
  const store: Store = Object.create(real, {
    transaction: {
      value<T>(fn: Parameters<Store['transaction']>[0]): Promise<T> {
        if (fault) {
          refused++;
          return Promise.reject(Object.assign(new Error(FAULTS[fault]), { code: fault }));
        }
        return real.transaction(fn) as Promise<T>;
      },
    },
  });
  return { store, fail: (code) => (fault = code), heal: () => (fault = undefined), refused: () => refused };
}

export type * from './store.ts';
export { openSqliteStore } from './sqlite-store.ts';
export { openPostgresStore, redactUrl, type PostgresStoreOptions } from './postgres-store.ts';

export type * from './store.ts';
export { openSqliteStore } from './sqlite-store.ts';

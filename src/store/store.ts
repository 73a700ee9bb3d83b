/**
 * The store's entry point: the port (./types.ts) and its SQLite/D1 implementation
 * (./sqlite/). Kept so that existing imports of `store/store` keep working.
 */
export type * from './types';
export { createStore, type Database } from './sqlite';

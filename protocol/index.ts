export * from './errors.ts';
export * from './events.ts';
export * from './limits.ts';
export * from './messages.ts';
export * from './resource-ids.ts';
export * from './faults.ts';
export * from './test-run.ts';
export * from './extensions.ts';

// Entry of the ingest worker thread (decode-pool.ts): the project runs as TypeScript through tsx,
// and a worker thread does not inherit a loader registered with tsx's API (bin/arcsim.js), so it
// registers one before loading the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');

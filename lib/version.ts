import { readFileSync } from 'node:fs';

/** arcsim's version, from package.json (also reported as the Arc agentVersion). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

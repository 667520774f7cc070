#!/usr/bin/env node
// Entry point for the `arcsim` CLI: the project runs as TypeScript through tsx,
// so register its loader before importing the real program.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv);

import { loadLibrary, type Scenario } from '../scenarios/index.ts';

/**
 * The shipped scenario library (schedule files name scenarios by slug). From the checkout it is
 * read from scenarios/library; scripts/build-agent.mjs replaces this module with one that holds
 * the library's files, since the agent bundle runs without the source tree.
 */
export function shippedLibrary(): Map<string, Scenario> {
  return loadLibrary();
}

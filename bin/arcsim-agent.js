#!/usr/bin/env node
// The agent from a checkout (`arcsim-agent run ...` = `arcsim agent run ...`): loads only the agent,
// not the control plane, to keep an idle agent's memory small (issue #3). Installed hosts run the
// one-file bundle itself (/opt/arcsim-agent/arcsim-agent.cjs); this is for a checkout.
//
// It runs the bundle dist/arcsim-agent.cjs (scripts/build-agent.mjs; built by `npm ci` /
// `npm install` through the `prepare` script): no tsx loader in the process, which alone costs
// ~37 MB. It falls back to running the TypeScript
// sources through tsx when the bundle is missing (scripts were skipped: `npm ci --ignore-scripts`)
// or older than one of its sources (edited since the last build), so it never runs stale code.
// ARCSIM_AGENT_FROM_SOURCE=1 forces the fallback.
import { readFileSync, statSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url);
const BUNDLE = new URL('dist/arcsim-agent.cjs', ROOT);

/** Why the bundle cannot be used, or undefined when it is current. */
function bundleProblem() {
  if (process.env.ARCSIM_AGENT_FROM_SOURCE === '1') return 'ARCSIM_AGENT_FROM_SOURCE=1';
  let built;
  let sources;
  try {
    built = statSync(BUNDLE).mtimeMs;
    sources = JSON.parse(readFileSync(new URL('dist/arcsim-agent.sources.json', ROOT), 'utf8'));
  } catch {
    return 'missing';
  }
  for (const s of sources) {
    let m;
    try {
      m = statSync(new URL(s, ROOT)).mtimeMs;
    } catch {
      return `stale (${s} is gone)`;
    }
    if (m > built) return `stale (${s} changed since it was built)`;
  }
  return undefined;
}

const problem = bundleProblem();
let agentMain;
if (!problem) {
  ({ agentMain } = await import(BUNDLE.href));
} else {
  if (problem !== 'missing' && problem !== 'ARCSIM_AGENT_FROM_SOURCE=1') {
    process.stderr.write(`arcsim-agent: dist/arcsim-agent.cjs is ${problem}; running from source with tsx (npm run build:agent rebuilds it)\n`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  ({ agentMain } = await import('../cli/agent-main.ts'));
}
await agentMain(process.argv);

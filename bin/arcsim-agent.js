#!/usr/bin/env node
// Entry point for the agent service (`arcsim-agent run ...` = `arcsim agent run ...`): loads only
// the agent, not the control plane, to keep an idle agent's memory small.
import { register } from 'tsx/esm/api';

register();
const { agentMain } = await import('../cli/agent-main.ts');
await agentMain(process.argv);

import { Command } from 'commander';
import { adminKeyOption, controlPlaneOption } from './options.ts';
import { apiOf } from './api.ts';

/**
 * `arcsim agent revoke | rotate | delete`: admin calls about one agent, by machine name or agent id.
 * Kept apart from cli/agent.ts, which the agent bundle runs: the agent never needs the admin API client.
 */
export function agentAdminCommands(): Command[] {
  const revoke = new Command('revoke')
    .argument('<agent>', 'machine name or agent id')
    .description("revoke an agent's key: it is disconnected now (close 4401 ARCSIM_E_AGENT_REVOKED), cannot reconnect, and stops (the machine stays; see delete)")
    .addOption(controlPlaneOption())
    .addOption(adminKeyOption())
    .action(async (ref: string, opts) => {
      const r = await apiOf(opts).revokeAgent(ref);
      process.stdout.write(`revoked agent ${r.agentId}${r.machine ? ` (machine ${r.machine})` : ''} at ${r.revokedAt}\n`);
    });
  const rotate = new Command('rotate')
    .argument('<agent>', 'machine name or agent id')
    .description('give a connected agent a new key over its socket; the old key stops working once the agent has stored the new one (offline: ARCSIM_E_AGENT_OFFLINE)')
    .addOption(controlPlaneOption())
    .addOption(adminKeyOption())
    .action(async (ref: string, opts) => {
      const r = await apiOf(opts).rotateAgent(ref);
      process.stdout.write(`rotated the key of agent ${r.agentId}${r.machine ? ` (machine ${r.machine})` : ''} at ${r.rotatedAt}\n`);
    });
  const remove = new Command('delete')
    .argument('<machine>', 'machine name')
    .description("delete a machine from the inventory (with its SQL instances and extensions) and revoke its agent's key; alerts and events stay")
    .addOption(controlPlaneOption())
    .addOption(adminKeyOption())
    .action(async (name: string, opts) => {
      const r = await apiOf(opts).deleteMachine(name);
      process.stdout.write(`deleted ${r.resourceId}; agent ${r.agentId} revoked\n`);
    });
  return [revoke, rotate, remove];
}

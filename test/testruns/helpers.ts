import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import type { ControlPlaneConfig } from '../../control-plane/index.ts';
import { DEFAULT_RULES_DIR } from '../../control-plane/detection/index.ts';
import type { MachineFacts } from '../../protocol/index.ts';
import { mdeExtensionFor } from '../../protocol/index.ts';
import { cleanup, enableExtensions, startControlPlane, tempDir, TEST_FACTS, type TestControlPlane } from '../helpers.ts';

export const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

export interface RunLab {
  env: TestControlPlane;
  agents: Agent[];
  adminKey: string;
  /**
   * Starts an agent with these facts. Its sensors are switched on as plans would do it: the MDE
   * extension for its OS and, with `sql`, the SQL extension (without them nothing is collected).
   */
  addAgent(name: string, facts?: Partial<MachineFacts>, sql?: boolean): Promise<Agent>;
}

/** A control plane on a real SQLite file and loopback port, with agents added on demand. */
export async function runLab(t: { after(fn: () => unknown): void }, config: ControlPlaneConfig = {}): Promise<RunLab> {
  const env = await startControlPlane({ config });
  const agents: Agent[] = [];
  t.after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await env.close();
    cleanup(env.dir);
  });
  const adminKey = (await env.cp.ensureAdminKey({ reset: true }))!;
  const token = await env.cp.createToken({ subscription: 'sub-runs', resourceGroup: 'rg-runs' });
  return {
    env, agents, adminKey,
    async addAgent(name, facts = {}, sql = false) {
      const machine: MachineFacts = { ...TEST_FACTS, hostname: name, ...facts };
      const sqlInstances = sql ? [{ instanceName: 'MSSQLSERVER', engine: 'sqlserver' as const, version: 'SQL Server 2022' }] : [];
      const agent = new Agent({
        controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agents', name), backoffMinMs: 20, backoffMaxMs: 100,
        facts: async () => ({ machine, sqlInstances }),
      });
      agents.push(agent);
      const registered = agent.waitRegistered();
      await agent.start();
      await registered;
      await enableExtensions(env.cp, agent.agentId!, [mdeExtensionFor(machine.osType), ...(sql ? ['AdvancedThreatProtection.Windows'] : [])]);
      return agent;
    },
  };
}

/** A copy of the shipped rules with the SSH brute-force threshold raised so the rule no longer fires. */
export function brokenRulesDir(): string {
  const dir = tempDir('arcsim-rules-');
  cpSync(DEFAULT_RULES_DIR, dir, { recursive: true });
  const file = join(dir, 'ssh_brute_force_failed.yml');
  const text = readFileSync(file, 'utf8');
  if (!text.includes('gte: 10')) throw new Error('the brute-force rule changed; update brokenRulesDir');
  writeFileSync(file, text.replace('gte: 10', 'gte: 50'));
  return dir;
}

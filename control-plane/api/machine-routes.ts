import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { protocolError } from '../../protocol/index.ts';
import { loadLibrary, type Scenario } from '../../scenarios/index.ts';
import type { MachineRow, Store } from '../store/index.ts';
import type { AgentLifecycle } from '../auth/agent-lifecycle.ts';
import type { CommandBody, CommandResult } from '../gateway/agent-session.ts';
import { toArcMachine, toArcSqlInstance } from './arc-machine.ts';
import { ROLE, durationMs, ERROR_RESPONSES, listOf } from './http.ts';

/** An ARM resource as Azure returns it; `properties` follow the resource type. */
const ArmResource = z.looseObject({
  id: z.string().optional(), name: z.string(), type: z.string(), location: z.string(), properties: z.looseObject({}),
});
const ArcMachine = ArmResource.meta({ id: 'ArcMachine', description: 'Microsoft.HybridCompute/machines, plus `arcsim` (agent id, heartbeat, SQL instances)' });
const ArcSqlInstance = ArmResource.meta({ id: 'ArcSqlInstance', description: 'Microsoft.AzureArcData/sqlServerInstances' });
const Extension = z.looseObject({ name: z.string(), type: z.string(), publisher: z.string().optional(), status: z.string() });
const MachineName = z.object({ name: z.string() });
const ExtensionParams = z.object({ name: z.string(), ext: z.string().describe('an extension name, e.g. MDE.Linux') });
const ExtensionBody = z.strictObject({ enabled: z.boolean() });
const ExtensionChange = z.looseObject({
  name: z.string(), enabled: z.boolean(), delivered: z.boolean().describe('pushed to the connected agent now'), message: z.string().optional(), machine: ArcMachine,
});
const IdentityConflict = z.looseObject({
  id: z.number().int(), agentId: z.string(), detectedAt: z.string(), differences: z.array(z.string()), remoteAddress: z.string().nullable().optional(),
  live: z.looseObject({}), refused: z.looseObject({}),
});

/** Longest a caller may wait for a library scenario to finish playing, ms. */
const MAX_SCENARIO_WAIT_MS = 10 * 60_000;

const DeletedMachine = z.object({ name: z.string(), agentId: z.string(), resourceId: z.string(), agentRevoked: z.literal(true) });
const ScenarioRun = z.strictObject({
  scenario: z.string().min(1).max(128).describe('slug or id of a scenario in the library (scenarios/library)'),
  variant: z.enum(['attack', 'benign']).default('attack'),
  seed: z.union([z.number().int(), z.string().max(128)]).optional(),
  /** Time-warp factor; 0 (default) plays at once with the original spacing in event time. */
  speed: z.number().nonnegative().max(1_000_000).default(0),
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  wait: z.boolean().default(false).describe("answer 200 once the agent has played it (and every event is stored); otherwise 202 once it is sent"),
  timeout: durationMs('2m').pipe(z.number().positive().max(MAX_SCENARIO_WAIT_MS, `at most ${MAX_SCENARIO_WAIT_MS / 60_000}m`)).describe('with wait: how long to wait (default 2m, at most 10m)'),
});
const ScenarioStarted = z.looseObject({
  detonationId: z.string(), scenario: z.string(), machine: z.string(), agentId: z.string(),
  ok: z.boolean().optional(), events: z.number().int().optional(), message: z.string().optional(),
});

export interface MachineRouteDeps {
  store: Store;
  lifecycle: Pick<AgentLifecycle, 'deleteMachine'>;
  connectedAgents(): string[];
  command(agentId: string, body: CommandBody, timeoutMs: number): Promise<CommandResult>;
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
}

/** Arc-connected machines, their extensions and SQL instances, and suspected clones. */
export const machineRoutes: FastifyPluginAsyncZod<MachineRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['machines'];
  let library: Map<string, Scenario> | undefined; // loaded on first use, once
  const scenarioNamed = (ref: string): Scenario => {
    library ??= loadLibrary();
    const found = library.get(ref) ?? [...library.values()].find((s) => s.id === ref);
    if (!found) throw protocolError('ARCSIM_E_NOT_FOUND', `no scenario "${ref}" in the library; it has: ${[...library.keys()].join(', ')}`, 'body.scenario');
    return found;
  };

  const locationOf = async (m: MachineRow) => (await store.agents.getAgent(m.agentId))?.location ?? 'eastus';
  const arcMachine = async (m: MachineRow) =>
    toArcMachine(m, await locationOf(m), { identityConflicts: (await store.machines.listIdentityConflicts(m.agentId)).length });
  const machineNamed = async (name: string) => {
    const m = (await store.machines.listMachines()).find((x) => x.name === name);
    if (!m) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${name}`);
    return m;
  };

  app.get('/api/machines', { schema: { tags, summary: 'Arc machines', security: ROLE.reader, response: { 200: listOf(ArcMachine), ...ERROR_RESPONSES } } },
    async () => ({ value: await Promise.all((await store.machines.listMachines()).map(arcMachine)) }));

  app.get('/api/machines/:name', { schema: { tags, summary: 'One Arc machine', security: ROLE.reader, params: MachineName, response: { 200: ArcMachine, ...ERROR_RESPONSES } } },
    async (req) => arcMachine(await machineNamed(req.params.name)));

  // Deletes the machine from the inventory (with its SQL instances and extensions) and revokes its
  // agent's key, disconnecting it; alerts and events naming it stay as history.
  app.delete('/api/machines/:name', {
    schema: {
      tags, summary: "Delete a machine: its inventory record goes and its agent's key is revoked (alerts and events stay)", security: ROLE.admin,
      params: MachineName, response: { 200: DeletedMachine, ...ERROR_RESPONSES },
    },
  }, async (req) => ({ ...(await deps.lifecycle.deleteMachine(req.params.name)), agentRevoked: true as const }));

  // Plays a library scenario on the machine's connected agent (the run-scenario command, built here
  // from the library so callers name it instead of sending the whole document).
  app.post('/api/machines/:name/scenarios', {
    schema: {
      tags, summary: "Play a library scenario (by slug or id) on the machine's connected agent", security: ROLE.contributor,
      params: MachineName, body: ScenarioRun, response: { 200: ScenarioStarted, 202: ScenarioStarted, ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    const m = await machineNamed(req.params.name);
    const scenario = scenarioNamed(req.body.scenario);
    if (!deps.connectedAgents().includes(m.agentId)) throw protocolError('ARCSIM_E_AGENT_OFFLINE', `the agent of ${m.name} is not connected`);
    const { variant, seed, speed, inputs, wait, timeout } = req.body;
    const detonationId = randomUUID();
    const started = { detonationId, scenario: scenario.slug, machine: m.name, agentId: m.agentId };
    const result = deps.command(m.agentId, {
      action: 'run-scenario', scenario: scenario as unknown as Record<string, unknown>, variant, detonationId, seed, speed, inputs,
    }, wait ? timeout : MAX_SCENARIO_WAIT_MS);
    if (!wait) {
      result.catch((err) => req.log.warn({ err, detonationId }, 'scenario run failed'));
      return reply.status(202).send(started);
    }
    const r = await result;
    return reply.status(200).send({ ...started, ok: r.ok, events: r.events, message: r.message });
  });

  app.get('/api/machines/:name/extensions', {
    schema: { tags, summary: "A machine's extensions", security: ROLE.reader, params: MachineName, response: { 200: listOf(Extension), ...ERROR_RESPONSES } },
  }, async (req) => {
    const m = await machineNamed(req.params.name);
    return { value: toArcMachine(m, await locationOf(m)).properties.extensions };
  });

  // Installs (enabled: true) or removes an extension; pushed at once to the agent if it is connected,
  // and sent again in `registered` on every reconnect.
  app.put('/api/machines/:name/extensions/:ext', {
    schema: {
      tags, summary: 'Install or remove an extension', security: ROLE.contributor, params: ExtensionParams, body: ExtensionBody,
      response: { 200: ExtensionChange, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const { name, ext } = req.params;
    const r = await deps.setExtension(name, ext, req.body.enabled);
    return { name: ext, enabled: req.body.enabled, delivered: r.delivered, message: r.message, machine: await arcMachine(r.machine) };
  });

  app.get('/api/sql-instances', { schema: { tags, summary: 'SQL Server instances on Arc machines', security: ROLE.reader, response: { 200: listOf(ArcSqlInstance), ...ERROR_RESPONSES } } }, async () => {
    const value = [];
    for (const m of await store.machines.listMachines()) {
      const location = await locationOf(m);
      for (const s of m.sqlInstances) value.push(toArcSqlInstance(m, s, location));
    }
    return { value };
  });

  app.get('/api/identity-conflicts', {
    schema: { tags, summary: 'Agents refused because another host presented the same identity', security: ROLE.reader, response: { 200: listOf(IdentityConflict), ...ERROR_RESPONSES } },
  }, async () => ({
    value: (await store.machines.listIdentityConflicts()).map((c) => ({
      id: c.id, agentId: c.agentId, detectedAt: new Date(c.detectedAt).toISOString(), differences: c.differences,
      remoteAddress: c.remoteAddress,
      live: { hostname: c.existingFacts.hostname, vmUuid: c.existingFacts.vmUuid },
      refused: { hostname: c.newcomerFacts.hostname, vmUuid: c.newcomerFacts.vmUuid },
    })),
  }));
};

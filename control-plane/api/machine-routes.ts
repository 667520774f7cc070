import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { MachineRow, Store } from '../store/index.ts';
import { toArcMachine, toArcSqlInstance } from './arc-machine.ts';
import { ROLE, ERROR_RESPONSES, listOf } from './http.ts';

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

export interface MachineRouteDeps {
  store: Store;
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
}

/** Arc-connected machines, their extensions and SQL instances, and suspected clones. */
export const machineRoutes: FastifyPluginAsyncZod<MachineRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['machines'];

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

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CommandSchema, protocolError } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import type { CommandBody, CommandResult } from '../gateway/agent-session.ts';
import type { AgentLifecycle } from '../auth/agent-lifecycle.ts';
import { ROLE, durationMs, ERROR_RESPONSES, listOf } from './http.ts';

export interface AgentRouteDeps {
  store: Store;
  connectedAgents(): string[];
  /** Sends a command to a connected agent and waits for its result. */
  command(agentId: string, body: CommandBody, timeoutMs: number): Promise<CommandResult>;
  lifecycle: Pick<AgentLifecycle, 'revoke' | 'rotate'>;
}

/** Longest a REST caller may wait for one command, ms (a long playback at speed 1 runs minutes). */
const MAX_COMMAND_WAIT_MS = 10 * 60_000;

const CommandRequest = z.strictObject({
  command: CommandSchema.shape.command,
  /** How long to wait for the agent's answer, e.g. `30s` (default 2m, at most 10m). */
  timeout: durationMs('2m').pipe(z.number().max(MAX_COMMAND_WAIT_MS, `at most ${MAX_COMMAND_WAIT_MS / 60_000}m`)),
});
const AgentParams = z.object({ agentId: z.string() });
const EventsQuery = z.strictObject({
  detonationId: z.string().min(1).optional(),
  agentId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});
const Agent = z.looseObject({
  agentId: z.string(), connected: z.boolean().describe('has a WebSocket open to this replica now'),
  machine: z.object({ name: z.string(), resourceId: z.string(), status: z.string() }),
  droppedEvents: z.number().int().describe("events the agent's spool dropped because it was full (its total, from its last heartbeat)"),
  facts: z.looseObject({}), sqlInstances: z.array(z.looseObject({})),
  extensions: z.array(z.object({ name: z.string(), publisher: z.string().optional(), status: z.string() })),
});
const AgentRef = z.object({ agent: z.string().min(1).max(255).describe('agent id or machine name') });
const RevokedAgent = z.object({ agentId: z.string(), machine: z.string().nullable(), revokedAt: z.string() });
const RotatedAgent = z.object({ agentId: z.string(), machine: z.string().nullable(), rotatedAt: z.string() });
const CommandAnswer = z.looseObject({ id: z.string(), ok: z.boolean(), message: z.string().optional() }).describe("the agent's command-result");
const Events = z.looseObject({ count: z.number().int(), value: z.array(z.looseObject({})).describe('events in MDE advanced hunting columns') });

/**
 * Admin endpoints a test-run orchestrator needs: the agents with their facts and whether they are
 * connected now, a command sent to one and its answer awaited, and the stored events of a run.
 */
export const agentRoutes: FastifyPluginAsyncZod<AgentRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['agents'];

  app.get('/api/agents', { schema: { tags, summary: 'Agents, their facts and whether they are connected', security: ROLE.reader, response: { 200: listOf(Agent), ...ERROR_RESPONSES } } }, async () => {
    const connected = new Set(deps.connectedAgents());
    const machines = await store.machines.listMachines();
    const revoked = new Set<string>();
    for (const m of machines) if ((await store.agents.getAgent(m.agentId))?.revokedAt != null) revoked.add(m.agentId);
    return {
      value: machines.map((m) => ({
        agentId: m.agentId,
        connected: connected.has(m.agentId),
        revoked: revoked.has(m.agentId),
        machine: { name: m.name, resourceId: m.resourceId, status: m.status },
        droppedEvents: m.droppedEvents ?? 0,
        facts: m.facts,
        sqlInstances: m.sqlInstances,
        extensions: m.extensions,
      })),
    };
  });

  app.post('/api/agents/:agentId/commands', {
    schema: {
      tags, summary: "Send a command to a connected agent and wait for its answer", security: ROLE.contributor,
      params: AgentParams, body: CommandRequest, response: { 200: CommandAnswer, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const { agentId } = req.params;
    const { command, timeout: timeoutMs } = req.body;
    if (!deps.connectedAgents().includes(agentId)) {
      const known = await store.machines.getMachine(agentId);
      throw known ? protocolError('ARCSIM_E_AGENT_OFFLINE', `agent ${agentId} is not connected`) : protocolError('ARCSIM_E_NOT_FOUND', `no agent ${agentId}`);
    }
    const { v: _v, type: _t, ...result } = await deps.command(agentId, command, timeoutMs);
    return result;
  });

  app.post('/api/agents/:agent/revoke', {
    schema: {
      tags, summary: "Revoke an agent's key: it is disconnected now (close 4401, ARCSIM_E_AGENT_REVOKED) and refused at every later upgrade",
      security: ROLE.admin, params: AgentRef, response: { 200: RevokedAgent, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const r = await deps.lifecycle.revoke(req.params.agent);
    return { ...r, revokedAt: new Date(r.revokedAt).toISOString() };
  });

  app.post('/api/agents/:agent/rotate', {
    schema: {
      tags, summary: "Give a connected agent a new key over its socket; the old key stops working once the agent has stored the new one (offline: 409 ARCSIM_E_AGENT_OFFLINE)",
      security: ROLE.admin, params: AgentRef, response: { 200: RotatedAgent, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const r = await deps.lifecycle.rotate(req.params.agent);
    return { ...r, rotatedAt: new Date(r.rotatedAt).toISOString() };
  });

  app.get('/api/events', {
    schema: { tags, summary: 'Stored events of a detonation or an agent', security: ROLE.reader, querystring: EventsQuery, response: { 200: Events, ...ERROR_RESPONSES } },
  }, async (req) => {
    const value = await store.events.listEvents(req.query);
    return { count: value.length, value };
  });
};

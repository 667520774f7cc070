import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CommandSchema, protocolError } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import type { Store } from '../store/index.ts';
import type { CommandBody, CommandResult } from '../gateway/agent-session.ts';
import { parse } from './http.ts';

export interface AgentRouteDeps {
  store: Store;
  connectedAgents(): string[];
  /** Sends a command to a connected agent and waits for its result. */
  command(agentId: string, body: CommandBody, timeoutMs: number): Promise<CommandResult>;
  requireAdmin(req: FastifyRequest): Promise<void>;
}

/** Longest a REST caller may wait for one command, ms (a long playback at speed 1 runs minutes). */
const MAX_COMMAND_WAIT_MS = 10 * 60_000;

const CommandRequest = z.strictObject({
  command: CommandSchema.shape.command,
  /** How long to wait for the agent's answer, e.g. `30s` (default 2m, at most 10m). */
  timeout: z.string().default('2m'),
});
const EventsQuery = z.strictObject({
  detonationId: z.string().min(1).optional(),
  agentId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});

/**
 * Admin endpoints a test-run orchestrator needs: the agents with their facts and whether they are
 * connected now, a command sent to one and its answer awaited, and the stored events of a run.
 */
export function registerAgentRoutes(app: FastifyInstance, deps: AgentRouteDeps): void {
  const { store } = deps;
  const guard = { preHandler: deps.requireAdmin };

  app.get('/api/agents', guard, async () => {
    const connected = new Set(deps.connectedAgents());
    const machines = await store.listMachines();
    return {
      value: machines.map((m) => ({
        agentId: m.agentId,
        connected: connected.has(m.agentId),
        machine: { name: m.name, resourceId: m.resourceId, status: m.status },
        facts: m.facts,
        sqlInstances: m.sqlInstances,
        extensions: m.extensions,
      })),
    };
  });

  app.post('/api/agents/:agentId/commands', guard, async (req) => {
    const { agentId } = req.params as { agentId: string };
    const body = parse(CommandRequest, req.body, 'body');
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(body.timeout);
    } catch (err) {
      throw protocolError('ARCSIM_E_VALIDATION', (err as Error).message, 'body.timeout');
    }
    if (timeoutMs > MAX_COMMAND_WAIT_MS) throw protocolError('ARCSIM_E_VALIDATION', `at most ${MAX_COMMAND_WAIT_MS / 60_000}m`, 'body.timeout');
    if (!deps.connectedAgents().includes(agentId)) {
      const known = await store.getMachine(agentId);
      throw known ? protocolError('ARCSIM_E_AGENT_OFFLINE', `agent ${agentId} is not connected`) : protocolError('ARCSIM_E_NOT_FOUND', `no agent ${agentId}`);
    }
    const { v: _v, type: _t, ...result } = await deps.command(agentId, body.command as CommandBody, timeoutMs);
    return result;
  });

  app.get('/api/events', guard, async (req) => {
    const q = parse(EventsQuery, req.query, 'query');
    const value = await store.listEvents(q);
    return { count: value.length, value };
  });
}

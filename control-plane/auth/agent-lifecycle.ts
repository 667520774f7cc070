import { protocolError, type ArcsimError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentRow, MachineRow, Store } from '../store/index.ts';
import { hashSecret, newSecret } from './secrets.ts';

/** What the lifecycle needs from the WebSocket gateway (the composition root hands it over). */
export interface LiveAgents {
  /** Ends every open socket of the agent with `error`'s close code (but the one deregistering, which closes itself). */
  disconnect(agentId: string, error: ArcsimError): void;
  /** Sends the agent its next key on its live socket; resolves when it has stored it. Throws ARCSIM_E_AGENT_OFFLINE when not connected. */
  rotateKey(agentId: string, agentKey: string, timeoutMs: number): Promise<void>;
}

/** How long an agent has to store its new key and acknowledge it, ms. */
export const ROTATE_ACK_TIMEOUT_MS = 10_000;

/**
 * Agent keys after enrollment: revoke (the agent is disconnected at once with
 * ARCSIM_E_AGENT_REVOKED and refused at every later upgrade), rotate (a new key over the live
 * socket, the old one dropped once the agent has stored the new one), and delete a machine (its
 * inventory record goes, its key is revoked; alerts and events stay as history).
 */
export class AgentLifecycle {
  constructor(private readonly o: {
    store: Pick<Store, 'agents' | 'machines'>;
    clock: Clock;
    logger: Logger;
    live: LiveAgents;
    /** The inventory changed (a machine was deleted): merge assets again. */
    inventoryChanged(): Promise<void>;
  }) {}

  /** The agent named by its id or by its machine's name; ARCSIM_E_NOT_FOUND otherwise. */
  async resolve(ref: string): Promise<{ agent: AgentRow; machine: MachineRow | undefined }> {
    const { store } = this.o;
    const byId = await store.agents.getAgent(ref);
    if (byId) return { agent: byId, machine: await store.machines.getMachine(ref) };
    const machine = (await store.machines.listMachines()).find((m) => m.name === ref);
    const agent = machine && (await store.agents.getAgent(machine.agentId));
    if (!agent) throw protocolError('ARCSIM_E_NOT_FOUND', `no agent with id or machine name ${ref}`, 'params.agent');
    return { agent, machine };
  }

  /** Revokes the agent's key and disconnects it now. Revoking a revoked agent again changes nothing. */
  async revoke(ref: string, reason = 'revoked'): Promise<{ agentId: string; machine: string | null; revokedAt: number }> {
    const { agent, machine } = await this.resolve(ref);
    await this.o.store.agents.revokeAgent(agent.agentId, this.o.clock.now(), reason);
    this.disconnectRevoked([agent.agentId]);
    const now = (await this.o.store.agents.getAgent(agent.agentId))!;
    this.o.logger.warn('agent key revoked', { agentId: agent.agentId, machine: machine?.name, reason: now.revokedReason });
    return { agentId: agent.agentId, machine: machine?.name ?? null, revokedAt: now.revokedAt! };
  }

  /** Closes the sockets of agents whose keys were revoked (e.g. by a cascading token revoke). */
  disconnectRevoked(agentIds: string[]): void {
    for (const id of agentIds) this.o.live.disconnect(id, protocolError('ARCSIM_E_AGENT_REVOKED', `agent ${id}`));
  }

  /**
   * Rotates the agent's key over its live socket. The new key's hash is stored as pending first,
   * so an agent that stored the key but whose acknowledgement was lost can still connect with it
   * (which completes the rotation). Offline: ARCSIM_E_AGENT_OFFLINE and nothing changes.
   */
  async rotate(ref: string): Promise<{ agentId: string; machine: string | null; rotatedAt: number }> {
    const { store, clock, live } = this.o;
    const { agent, machine } = await this.resolve(ref);
    if (agent.revokedAt != null) throw protocolError('ARCSIM_E_NOT_FOUND', `agent ${agent.agentId} is revoked; it has no key to rotate`, 'params.agent');
    const agentKey = newSecret('arcsim_agent');
    const keyHash = hashSecret(agentKey);
    await store.agents.setPendingKey(agent.agentId, keyHash);
    await live.rotateKey(agent.agentId, agentKey, ROTATE_ACK_TIMEOUT_MS);
    const promoted = await store.agents.promoteKey(agent.agentId, keyHash);
    // Not promoted here: the agent already reconnected with the new key (which promoted it), or it was revoked meanwhile.
    if (!promoted && (await store.agents.getAgent(agent.agentId))?.keyHash !== keyHash) {
      throw protocolError('ARCSIM_E_AGENT_REVOKED', `agent ${agent.agentId} was revoked during the rotation`);
    }
    this.o.logger.info('agent key rotated', { agentId: agent.agentId, machine: machine?.name });
    return { agentId: agent.agentId, machine: machine?.name ?? null, rotatedAt: clock.now() };
  }

  /**
   * Deletes a machine by name: its key is revoked and its sockets closed first (so it cannot
   * register it again), then the machine (with its SQL instances and extensions) is deleted and the
   * inventory merged again. Alerts and events stay.
   */
  async deleteMachine(name: string): Promise<{ name: string; agentId: string; resourceId: string }> {
    const machine = (await this.o.store.machines.listMachines()).find((m) => m.name === name);
    if (!machine) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${name}`, 'params.name');
    await this.remove(machine.agentId, 'machine deleted');
    return { name: machine.name, agentId: machine.agentId, resourceId: machine.resourceId };
  }

  /** The agent asked to be deregistered (uninstall): like deleting its machine; the machine's resource id, or null when it had none. */
  async deregister(agentId: string): Promise<string | null> {
    const machine = await this.o.store.machines.getMachine(agentId);
    await this.remove(agentId, 'deregistered');
    return machine?.resourceId ?? null;
  }

  private async remove(agentId: string, reason: string): Promise<void> {
    const { store, clock, logger } = this.o;
    await store.agents.revokeAgent(agentId, clock.now(), reason);
    this.disconnectRevoked([agentId]);
    const deleted = await store.machines.deleteMachine(agentId);
    if (deleted) await this.o.inventoryChanged();
    logger.warn('machine removed', { agentId, reason });
  }
}

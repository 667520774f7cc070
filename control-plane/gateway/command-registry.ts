import { randomUUID } from 'node:crypto';
import { protocolError, type MessageOf } from '../../protocol/index.ts';

export type CommandResult = MessageOf<'command-result'>;

interface Pending {
  agentId: string;
  resolve(r: CommandResult): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  deadline: number;
}

/**
 * Commands waiting for their `command-result`, kept per control plane rather than per socket:
 * an agent that loses its connection mid-playback reconnects and answers on the new socket, and
 * the caller still gets the answer (a test run's "drop the connection" fault relies on it).
 * Ids are unique across sessions so a late answer can never resolve someone else's command.
 */
export class CommandRegistry {
  private readonly pending = new Map<string, Pending>();

  /** `reconnectGraceMs`: how long a disconnected agent has to come back and answer. */
  constructor(private readonly reconnectGraceMs = 15_000) {}

  /** Registers a command and returns its id and the promise of its result. */
  create(agentId: string, action: string, timeoutMs: number): { id: string; result: Promise<CommandResult> } {
    const id = `cmd-${randomUUID()}`;
    const result = new Promise<CommandResult>((resolve, reject) => {
      const timer = this.timer(id, timeoutMs, `command ${id} (${action}) timed out after ${timeoutMs} ms`);
      this.pending.set(id, { agentId, resolve, reject, timer, deadline: Date.now() + timeoutMs });
    });
    return { id, result };
  }

  /** Resolves a command from the agent's answer; false when the id is unknown or belongs to another agent. */
  resolve(agentId: string, msg: CommandResult): boolean {
    const p = this.pending.get(msg.id);
    if (!p || p.agentId !== agentId) return false;
    clearTimeout(p.timer);
    this.pending.delete(msg.id);
    p.resolve(msg);
    return true;
  }

  /** The agent's socket closed: its commands now wait at most the reconnect grace. */
  disconnected(agentId: string): void {
    const limit = Date.now() + this.reconnectGraceMs;
    for (const [id, p] of this.pending) {
      if (p.agentId !== agentId || p.deadline <= limit) continue;
      clearTimeout(p.timer);
      p.deadline = limit;
      p.timer = this.timer(id, this.reconnectGraceMs, `agent ${agentId} disconnected and did not answer ${id} within ${this.reconnectGraceMs} ms`);
    }
  }

  /** Fails one command (e.g. it could not be sent). */
  fail(id: string, error: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.reject(error);
  }

  /** Fails every pending command (shutdown). */
  close(): void {
    for (const id of [...this.pending.keys()]) this.fail(id, protocolError('ARCSIM_E_SHUTDOWN'));
  }

  private timer(id: string, ms: number, message: string): NodeJS.Timeout {
    const t = setTimeout(() => this.fail(id, protocolError('ARCSIM_E_COMMAND_TIMEOUT', message)), ms);
    t.unref();
    return t;
  }
}

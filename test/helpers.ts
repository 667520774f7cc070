import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createControlPlane, openSqliteStore, type ControlPlane, type ControlPlaneConfig, type Store } from '../control-plane/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { MachineFacts } from '../protocol/index.ts';
import { Agent } from '../agent/index.ts';
import type { Scenario } from '../scenarios/index.ts';
import type { CommandBody, CommandResult } from '../control-plane/gateway/agent-session.ts';
import { createApiKey } from '../control-plane/auth/api-keys.ts';
import type { Role } from '../control-plane/auth/roles.ts';
import { systemClock } from '../lib/clock.ts';

/** Every migration version shipped, in order: what a fresh store must have applied. */
export const MIGRATION_VERSIONS = readdirSync(join(import.meta.dirname, '..', 'control-plane', 'store', 'migrations', 'sqlite'))
  .filter((f) => /^\d+_.+\.sql$/.test(f)).map((f) => Number(f.split('_')[0])).sort((a, b) => a - b);

export interface TestControlPlane {
  cp: ControlPlane;
  store: Store;
  url: string;
  dir: string;
  dbFile: string;
  close(): Promise<void>;
}

/** A new stored API key of `role` (as `arcsim key create --role` makes one), in clear text. */
export async function apiKeyFor(env: { store: Store }, role: Role = 'reader'): Promise<string> {
  return (await createApiKey(env.store, { role, name: `test-${role}` }, 'test', systemClock)).key;
}

/** `fetch` that sends `Authorization: Bearer <key>` (every /api read needs a key). */
export function keyedFetch(key: string): typeof fetch {
  return (input, init = {}) => fetch(input, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${key}` } });
}

export function tempDir(prefix = 'arcsim-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A control plane on a real SQLite file and a free loopback port. */
export async function startControlPlane(options: { clock?: Clock; config?: ControlPlaneConfig; dir?: string } = {}): Promise<TestControlPlane> {
  const dir = options.dir ?? tempDir();
  const dbFile = join(dir, 'arcsim.db');
  const store = openSqliteStore({ file: dbFile });
  const cp = createControlPlane({ store, clock: options.clock, config: { port: 0, host: '127.0.0.1', ...options.config } });
  const url = await cp.listen();
  return {
    cp, store, url, dir, dbFile,
    async close() {
      await cp.close();
      await store.close();
    },
  };
}

export const TEST_FACTS: MachineFacts = {
  hostname: 'lab-host-01',
  machineFqdn: 'lab-host-01.contoso.test',
  osName: 'linux',
  osType: 'linux',
  osVersion: '6.1.0-18-amd64',
  osSku: 'Debian GNU/Linux 12',
  vmUuid: '4C4C4544-0042-3510-8052-B4C04F4B4E32',
  agentVersion: '0.1.0',
  detectedProperties: { coreCount: '2', logicalCoreCount: '4', totalPhysicalMemoryInGigabytes: '8', cloudprovider: 'N/A', mssqldiscovered: 'false' },
  cloudMetadata: { provider: 'N/A' },
};

/**
 * Installs extensions on an agent's machine through the control plane (stored, pushed to the
 * agent, re-sent on reconnect). Agents collect nothing without them: MDE.Linux enables the
 * endpoint sensor (Device* tables), WindowsAgent.SqlServer / AdvancedThreatProtection.Windows
 * the SQL one (SqlEvents). Resolves once the agent has applied them (when it is connected).
 */
export async function enableExtensions(cp: ControlPlane, agentId: string, names: string[] = ['MDE.Linux']): Promise<void> {
  const machine = await cp.store.machines.getMachine(agentId);
  if (!machine) throw new Error(`agent ${agentId} has no registered machine yet`);
  for (const name of names) {
    const r = await cp.setExtension(machine.name, name, true);
    if (cp.session(agentId) && !r.delivered) throw new Error(`extension ${name} not applied by the agent: ${r.message}`);
  }
}

export async function enroll(url: string, token: string, hostname = 'lab-host-01'): Promise<{ agentId: string; agentKey: string }> {
  const res = await fetch(`${url}/api/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, hostname }) });
  if (res.status !== 201) throw new Error(`enroll failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { agentId: string; agentKey: string };
}

/** A protocol-level test client: a real socket, frames as parsed JSON, waiting by type. */
export class RawAgent {
  readonly frames: Array<Record<string, any>> = [];
  private waiters: Array<{ type: string; resolve(f: Record<string, any>): void }> = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket, readonly agentId: string) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      const i = this.waiters.findIndex((w) => w.type === frame.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(url: string, creds: { agentId: string; agentKey: string }): Promise<RawAgent> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/agent/v1`, { headers: { authorization: `Bearer ${creds.agentId}.${creds.agentKey}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawAgent(ws, creds.agentId);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame of `type` (already received or still to come). */
  next(type: string, timeoutMs = 5000): Promise<Record<string, any>> {
    const i = this.frames.findIndex((f) => f.type === type);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ type, resolve: (f) => { clearTimeout(timer); resolve(f); } });
    });
  }

  async register(facts: MachineFacts = TEST_FACTS): Promise<Record<string, any>> {
    this.send({ v: 1, type: 'register', machine: facts, sqlInstances: [] });
    return this.next('registered');
  }

  close(): void {
    this.ws.close();
  }
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface AgentLab {
  env: TestControlPlane;
  agent: Agent;
  machineId: string;
  /** Plays a scenario on the agent through a control-plane command; returns its detonation id and result. */
  play(scenario: Scenario, options?: Partial<Omit<Extract<CommandBody, { action: 'run-scenario' }>, 'action' | 'scenario'>>): Promise<{ detonationId: string; result: CommandResult }>;
  close(): Promise<void>;
}

/**
 * A control plane (real SQLite file, loopback port) and an enrolled, registered agent ready to
 * play scenarios. `agentClock` fixes the agent's "now" (event time), for scenarios whose outcome
 * depends on the hour.
 */
export async function startAgentLab(options: { agentClock?: Clock; facts?: MachineFacts; config?: ControlPlaneConfig } = {}): Promise<AgentLab> {
  const env = await startControlPlane({ config: options.config });
  const token = await env.cp.createToken({ subscription: 'sub-lab', resourceGroup: 'rg-lab' });
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), clock: options.agentClock,
    facts: async () => ({ machine: options.facts ?? TEST_FACTS, sqlInstances: [] }),
  });
  const registered = agent.waitRegistered();
  await agent.start();
  const reg = await registered;
  // Every sensor on (as with Defender for Servers, Defender for SQL and Defender for Containers enabled), so each table is collected.
  await enableExtensions(env.cp, agent.agentId!, ['MDE.Linux', 'AdvancedThreatProtection.Windows', 'microsoft.azuredefender.kubernetes']);
  return {
    env, agent, machineId: reg.machineId,
    async play(scenario, opts = {}) {
      const detonationId = opts.detonationId ?? randomUUID();
      const result = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: scenario as unknown as Record<string, unknown>, ...opts, detonationId });
      return { detonationId, result };
    },
    async close() {
      await agent.stop();
      await env.close();
      cleanup(env.dir);
    },
  };
}

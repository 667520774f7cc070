import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Agent } from '../agent/index.ts';
import type { MachineFacts, SqlInstanceFacts, RunResult } from '../protocol/index.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import type { Logger } from '../lib/logger.ts';
import { controlPlaneApi, createProgress, loadSuiteFile, renderMatrix, runSuite, silentProgress } from '../testruns/index.ts';
import { startControlPlane, untilSignal } from './service.ts';
import { table } from './format.ts';
import { LAB_RESOURCE_GROUP, LAB_SUBSCRIPTION } from './lab.ts';
import { writeReports } from './run.ts';

/** One agent the lab starts on this machine: the real host (no `facts`) or a persona. */
export interface LabHost {
  /** State directory name under the lab's data dir. */
  name: string;
  /** Facts to register instead of the real host's (a persona). */
  facts?: () => Promise<{ machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }>;
}

export interface SuiteLabOptions {
  dataDir: string;
  host: string;
  port: number;
  suiteFile: string;
  hosts: LabHost[];
  /** Runs after the agents registered and before the suite: import CSPM snapshots, enable plans (issue #6). */
  prepare?: (cp: ControlPlane) => Promise<void>;
  keepData?: boolean;
  exit: boolean;
  logger: Logger;
  out: (text: string) => void;
  /** Where the progress bar goes (stderr in the CLI). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  reports?: { junit?: string; report?: string; navigator?: string; json?: string };
}

/**
 * The issue-#7 lab: control plane on SQLite, one agent per `hosts` entry on this machine, an
 * optional `prepare` step (CSPM import, plans), then the suite run in process through the REST
 * API, the matrix and the inventory printed. Serves the API until Ctrl-C unless `exit`.
 * Resolves with the suite's exit code (0 only if every expectation held) and the result.
 */
export async function runSuiteLab(o: SuiteLabOptions): Promise<{ code: number; result: RunResult }> {
  const dataDir = resolve(o.dataDir);
  if (!o.keepData) rmSync(dataDir, { recursive: true, force: true });
  const suite = loadSuiteFile(o.suiteFile); // refused before anything starts
  const svc = await startControlPlane({ dataDir, host: o.host, port: o.port, logger: o.logger });
  const agents: Agent[] = [];
  try {
    o.out(`arcsim lab: control plane on ${svc.url}, SQLite store ${join(dataDir, 'arcsim.db')}\n`);
    if (svc.adminKey) o.out(`admin API key (shown once): ${svc.adminKey}\n`);
    const token = await svc.cp.createToken({ subscription: LAB_SUBSCRIPTION, resourceGroup: LAB_RESOURCE_GROUP, ttlMs: 3_600_000 });
    await Promise.all(o.hosts.map(async (h) => {
      const agent = new Agent({ controlPlane: svc.url, token: token.token, stateDir: join(dataDir, 'agents', h.name), logger: o.logger, facts: h.facts });
      agents.push(agent);
      const registered = agent.waitRegistered();
      await agent.start();
      const reg = await withTimeout(registered, 15_000, `agent ${h.name} did not register within 15 s`);
      o.out(`agent ${h.name} registered as ${reg.machineId}\n`);
    }));
    if (o.prepare) await o.prepare(svc.cp);

    const api = controlPlaneApi(svc.cp);
    const progress = o.progressStream ? createProgress(o.progressStream, 'suite') : silentProgress;
    o.out(`\nRunning ${suite.name} (${o.suiteFile})\n`);
    const result = await runSuite(suite, { api, progress });
    o.out('\n' + renderMatrix(result));
    if (o.reports) writeReports(result, o.reports);

    const inventory = await svc.cp.adminRequest('GET', '/api/assets');
    if (inventory.status === 200) {
      o.out('\nInventory (GET /api/assets)\n' + JSON.stringify(inventory.body.value ?? inventory.body, null, 2) + '\n');
    } else {
      const machines = await svc.store.listMachines();
      o.out('\nMachines (no merged inventory API on this control plane yet)\n' + table(machines.map((m) => ({
        name: m.name, cloud: m.facts.cloudMetadata.provider, persona: m.facts.persona ?? '', sql: m.sqlInstances.length, id: m.resourceId,
      })), ['name', 'cloud', 'persona', 'sql', 'id']) + '\n');
    }
    const code = result.ok ? 0 : 1;
    if (!o.exit) {
      o.out(`\nServing the API on ${svc.url} (runs: ${svc.url}/api/runs); Ctrl-C to stop.\n`);
      await untilSignal();
    }
    return { code, result };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await svc.stop();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(message)), ms);
    p.then((v) => { clearTimeout(timer); res(v); }, (e) => { clearTimeout(timer); rej(e); });
  });
}

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createLogger } from '../lib/logger.ts';
import { Agent } from '../agent/index.ts';
import { loadLibrary, type Scenario } from '../scenarios/index.ts';
import { toMdcAlert } from '../control-plane/index.ts';
import { mdeExtensionFor } from '../protocol/index.ts';
import { portOption, positiveIntOption } from './options.ts';
import { startControlPlane, untilSignal, type StartedControlPlane } from './service.ts';
import { table } from '../lib/text-table.ts';
import { LAB_RESOURCE_GROUP, LAB_SUBSCRIPTION, runSuiteLab } from './lab-suite.ts';
import { MULTI_CLOUD_SUITE, multiCloudHosts, prepareMultiCloud } from './lab-multicloud.ts';

export interface LabOptions {
  dataDir: string;
  host: string;
  port: number;
  rounds: number;
  keepData: boolean;
  exit: boolean;
  verbose: boolean;
  out: (text: string) => void;
}

interface Check {
  scenario: string;
  alertType: string;
  expected: number;
  alerts: number;
  count: number;
  ok: boolean;
}

/**
 * The library lab (`arcsim lab --library`): control plane on SQLite, one agent on this host (its
 * real facts), every library scenario and its benign twin played `rounds` times, then the machines
 * and alerts. Returns the exit code: 0 when each expected alert exists exactly once and the benign
 * twins raised nothing.
 */
export async function runLab(o: LabOptions): Promise<number> {
  const dataDir = resolve(o.dataDir);
  if (!o.keepData) rmSync(dataDir, { recursive: true, force: true });
  const logger = createLogger({ format: 'pretty', level: o.verbose ? 'info' : 'warn', component: 'lab' });
  const library = [...loadLibrary().values()];

  const svc: StartedControlPlane = await startControlPlane({ dataDir, host: o.host, port: o.port, logger });
  const { cp, store } = svc;
  let agent: Agent | undefined;
  try {
    o.out(`arcsim lab: control plane on ${svc.url}, SQLite store ${join(dataDir, 'arcsim.db')}\n`);
    if (svc.adminKey) o.out(`admin API key (shown once): ${svc.adminKey}\n`);

    const token = await cp.createToken({ subscription: LAB_SUBSCRIPTION, resourceGroup: LAB_RESOURCE_GROUP, ttlMs: 3_600_000 });
    agent = new Agent({ controlPlane: svc.url, token: token.token, stateDir: join(dataDir, 'agent'), logger });
    const registered = agent.waitRegistered();
    await agent.start();
    const reg = await withTimeout(registered, 15_000, 'the agent did not register within 15 s');
    o.out(`agent ${agent.agentId} registered this host as ${reg.machineId}\n`);
    // Sensors run only where their extension is installed: MDE for endpoint events, the Defender for SQL
    // extension for SQL audit events (the SQL scenarios stand in for a SQL Server on this host), the
    // Defender for Containers extension for Kubernetes audit events (the cluster scenario stands in for a cluster).
    const machine = (await store.machines.getMachine(agent.agentId!))!;
    for (const ext of [mdeExtensionFor(machine.facts.osType), 'AdvancedThreatProtection.Windows', 'microsoft.azuredefender.kubernetes']) {
      const r = await cp.setExtension(machine.name, ext, true);
      if (!r.delivered) throw new Error(`could not install ${ext} on ${machine.name}: ${r.message}`);
    }
    o.out(`installed extensions ${mdeExtensionFor(machine.facts.osType)} (endpoint sensor), AdvancedThreatProtection.Windows (SQL sensor) and microsoft.azuredefender.kubernetes (Kubernetes audit sensor) on ${machine.name}\n\n`);

    // Play every scenario (attack, then benign twin) `rounds` times; remember which detonation was which.
    const attacks = new Map<string, string[]>();
    const benign = new Map<string, string[]>();
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of library) {
        for (const variant of ['attack', 'benign'] as const) {
          if (variant === 'benign' && !s.benign) continue;
          const detonationId = randomUUID();
          const started = Date.now();
          const result = await cp.command(agent.agentId!, { action: 'run-scenario', scenario: s as unknown as Record<string, unknown>, variant, detonationId }, 60_000);
          if (!result.ok) throw new Error(`scenario ${s.slug} (${variant}) failed on the agent: ${result.message}`);
          (variant === 'attack' ? attacks : benign).set(s.slug, [...((variant === 'attack' ? attacks : benign).get(s.slug) ?? []), detonationId]);
          o.out(`  round ${round}/${o.rounds}  ${variant.padEnd(6)}  ${s.slug.padEnd(32)} ${String(result.events).padStart(3)} events  ${Date.now() - started} ms\n`);
        }
      }
    }

    const checks = await checkExpectations(store, library, attacks);
    const benignAlerts = (await Promise.all([...benign.values()].flat().map((d) => store.alerts.listAlerts({ detonationId: d })))).flat();
    const machines = await store.machines.listMachines();
    const alerts = await store.alerts.listAlerts();

    o.out('\nMachines (Microsoft.HybridCompute/machines)\n');
    o.out(table(machines.map((m) => ({
      name: m.name, status: m.status, os: m.facts.osSku ?? m.facts.osName, cloud: m.facts.cloudMetadata.provider,
      cores: m.facts.detectedProperties.logicalCoreCount, memoryGB: m.facts.detectedProperties.totalPhysicalMemoryInGigabytes,
      vmUuid: m.facts.vmUuid ?? '(not readable)', id: m.resourceId,
    })), ['name', 'status', 'os', 'cloud', 'cores', 'memoryGB', 'vmUuid', 'id']) + '\n');

    o.out('\nAlerts (Microsoft.Security/locations/alerts)\n');
    o.out(table(alerts.map((a) => {
      const m = toMdcAlert(a, svc.url).properties as Record<string, any>;
      return {
        alertType: a.alertType, alertDisplayName: m.alertDisplayName, severity: a.severity, status: a.status,
        product: m.productName, count: a.count, entity: m.compromisedEntity, endTimeUtc: m.endTimeUtc,
      };
    }), ['alertType', 'alertDisplayName', 'severity', 'status', 'count', 'product', 'entity', 'endTimeUtc']) + '\n');

    o.out('\nExpectations\n');
    o.out(table(checks.map((c) => ({
      result: c.ok ? 'PASS' : 'FAIL', scenario: c.scenario, alertType: c.alertType, 'alerts (expected)': `${c.alerts} (${c.expected})`, count: c.count,
    })), ['result', 'scenario', 'alertType', 'alerts (expected)', 'count']) + '\n');

    const ok = checks.every((c) => c.ok) && benignAlerts.length === 0;
    const events = await store.events.countEvents();
    o.out(
      `\n${ok ? 'PASS' : 'FAIL'}: ${checks.filter((c) => c.ok).length}/${checks.length} expected alerts raised exactly once` +
        ` (${o.rounds} round${o.rounds > 1 ? 's' : ''}, repeats folded into the count); benign twins raised ${benignAlerts.length};` +
        ` ${events} events stored; ${machines.length} machine${machines.length === 1 ? '' : 's'}.\n`,
    );

    if (o.exit) return ok ? 0 : 1;
    o.out(`\nServing the API on ${svc.url} (try ${svc.url}/api/alerts with "Authorization: Bearer <the admin key>", or sign in at ${svc.url}/portal); Ctrl-C to stop.\n`);
    await untilSignal();
    return ok ? 0 : 1;
  } finally {
    await agent?.stop();
    await svc.stop();
  }
}

async function checkExpectations(
  store: StartedControlPlane['store'], library: Scenario[], attacks: Map<string, string[]>,
): Promise<Check[]> {
  const checks: Check[] = [];
  for (const s of library) {
    const detonations = attacks.get(s.slug) ?? [];
    const linked = new Map<string, { alertType: string; count: number }>();
    for (const d of detonations) for (const a of await store.alerts.listAlerts({ detonationId: d })) linked.set(a.systemAlertId, a);
    for (const exp of s.expect.alerts) {
      const matching = [...linked.values()].filter((a) => a.alertType === exp.alertType);
      checks.push({
        scenario: s.slug, alertType: exp.alertType, expected: exp.count, alerts: matching.length,
        count: matching.reduce((n, a) => n + a.count, 0), ok: matching.length === exp.count,
      });
    }
  }
  return checks;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    p.then((v) => { clearTimeout(timer); resolvePromise(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

export function labCommand(): Command {
  return new Command('lab')
    .description('the full lab (what "npm start" runs): control plane on SQLite, four agents on this machine (the real host on-prem, ' +
      'an EC2 persona with SQL Server, a GCP persona, a node of the EKS cluster eks-lab), the AWS and GCP CSPM snapshots (EC2, GCE, EKS, GKE) merged with them, Defender plans, ' +
      'the examples/multi-cloud.yaml suite, its matrix (a column per host, the cluster\'s included), the merged inventory and the Kubernetes clusters; --library instead plays every library scenario on this host')
    .option('--data-dir <dir>', 'lab data directory (cleared at start unless --keep-data)', '.arcsim/lab')
    .option('--keep-data', 'do not clear the data directory first')
    .option('--host <addr>', 'address to listen on (loopback: the lab serves plain http; use "arcsim control-plane" with TLS for a network)', '127.0.0.1')
    .addOption(new Option('--port <port>', 'TCP port (0 = any free port)').default(7070).argParser(portOption))
    .option('--exit', 'exit after the report with the suite\'s exit code (0 only when every cell passed; with --library: every expected alert exactly once)')
    .option('--verbose', 'log control-plane and agent activity')
    .option('--suite <file>', 'the suite to run on the four agents', 'examples/multi-cloud.yaml')
    .option('--junit <file>', 'also write the run as JUnit XML')
    .option('--report <file>', 'also write the Markdown report')
    .option('--navigator <file>', 'also write the ATT&CK Navigator layer')
    .option('--json <file>', 'also write the run result as JSON')
    .option('--library', 'instead: one agent on this host plays every library scenario and its benign twin (--rounds times) and checks that each expected alert is raised exactly once')
    .addOption(new Option('--rounds <n>', 'with --library: times to play each scenario; repeats fold into one alert with a higher count').default(2).argParser(positiveIntOption))
    .action(async (opts, cmd: Command) => {
      if (opts.library) {
        if (cmd.getOptionValueSource('suite') === 'cli') cmd.error('error: --library and --suite are alternatives: give one');
        process.exitCode = await runLab({
          dataDir: opts.dataDir, host: opts.host, port: opts.port, rounds: opts.rounds, keepData: !!opts.keepData,
          exit: !!opts.exit, verbose: !!opts.verbose, out: (t) => process.stdout.write(t),
        });
        return;
      }
      const logger = createLogger({ format: 'pretty', level: opts.verbose ? 'info' : 'warn', component: 'lab' });
      // The default suite is the shipped one, found from the package (npm start may run from anywhere).
      const suiteFile = cmd.getOptionValueSource('suite') === 'cli' ? opts.suite : MULTI_CLOUD_SUITE;
      const { code } = await runSuiteLab({
        dataDir: opts.dataDir, host: opts.host, port: opts.port, suiteFile, hosts: multiCloudHosts(), prepare: prepareMultiCloud,
        keepData: !!opts.keepData, exit: !!opts.exit, logger, out: (t) => process.stdout.write(t), progressStream: process.stderr,
        reports: { junit: opts.junit, report: opts.report, navigator: opts.navigator, json: opts.json },
      });
      process.exitCode = code;
    });
}

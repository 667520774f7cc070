import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { createLogger } from '../lib/logger.ts';
// Not agent/index.ts: that would load the inventory code (and systeminformation) with the service.
import { Agent } from '../agent/agent.ts';
import type { AgentConfig } from '../agent/agent-config.ts';
import { childInventoryRunner, childSoftwareRunner } from '../agent/inventory-child.ts';
import type { Inventory, InventoryOptions } from '../agent/inventory.ts';
import { caFileOption, controlPlaneOption, positiveIntOption } from './options.ts';
import { loadPinnedCa } from '../agent/pinned-ca.ts';
import { untilSignal } from './signals.ts';
import { table } from '../lib/text-table.ts';
import { agentInstallCommands } from './agent-install.ts';

const DEFAULT_STATE_DIR = join(homedir(), '.arcsim', 'agent');

/** Options every command that takes an inventory shares. */
function addInventoryOptions(cmd: Command): Command {
  return cmd
    .option('--persona <file>', 'YAML persona overriding chosen facts (cloud, instance, hostname, IPs, SQL instances); see examples/personas/')
    .option('--config <file>', 'agent config YAML (spool size, events/s, metadata URLs, declared SQL instances)');
}

// The config and persona loaders (YAML, their schemas) are imported only when a file is given,
// so the agent service without --config / --persona never evaluates them.
async function readConfig(opts: { config?: string }): Promise<AgentConfig> {
  return opts.config ? (await import('../agent/agent-config.ts')).loadAgentConfig(opts.config) : {};
}

async function inventoryOptions(opts: { persona?: string }, config: AgentConfig): Promise<InventoryOptions> {
  return {
    sysRoot: config.sysRoot, awsImdsUrl: config.awsImdsUrl, gcpMetadataUrl: config.gcpMetadataUrl,
    metadataTimeoutMs: config.metadataTimeoutMs, sqlInstances: config.sqlInstances, kubernetes: config.kubernetes,
    persona: opts.persona ? (await import('../agent/persona.ts')).loadPersona(opts.persona) : undefined,
  };
}

/** The inventory of this host, taken in this process (systeminformation is loaded here on first use). */
async function collectHere(opts: { persona?: string; config?: string }): Promise<Inventory> {
  const { collectInventory } = await import('../agent/inventory.ts');
  return collectInventory(await inventoryOptions(opts, await readConfig(opts)));
}

export interface AgentCommandOptions {
  /**
   * Script whose `collect-inventory` subcommand prints the inventory (bin/arcsim-agent.js): when
   * set, `run` takes every inventory in a short-lived child process running it with the same
   * `--config` / `--persona`, so the long-running agent never loads systeminformation. The agent
   * service sets it; `arcsim agent run` (the full CLI) takes it in-process.
   */
  inventoryEntry?: string;
  /** Child inventory timeout, ms (default 60 s). */
  inventoryTimeoutMs?: number;
  /** The agent bundle `install` installs; default: built now from the sources (scripts/build-agent.mjs). */
  artifact?: string;
}

export function agentCommand(o: AgentCommandOptions = {}): Command {
  const cmd = new Command('agent').description('the host agent: registers this machine and plays scenarios as synthetic events');
  addInventoryOptions(
    cmd
      .command('run', { isDefault: true })
      .description('enroll (once), connect, register this host and heartbeat until stopped (the default)')
      .addOption(controlPlaneOption({ required: true }))
      .addOption(caFileOption())
      .addOption(new Option('--token <token>', 'enrollment token (first start, and to re-enroll if the control plane forgets the agent)').env('ARCSIM_TOKEN'))
      .option('--state-dir <dir>', 'identity (0600), spool and extension state; the dir is 0700', DEFAULT_STATE_DIR)
      .addOption(new Option('--spool-max-events <n>', 'on-disk spool bound; when full the oldest events are dropped').argParser(positiveIntOption))
      .addOption(new Option('--eps <n>', 'events sent per second at most').argParser(positiveIntOption))
      .option('--log-format <fmt>', 'json | pretty', 'pretty')
      .option('--schedule <file>', 'YAML file of cron-scheduled scenario runs (see docs/scenarios.md)'),
  ).action(async (opts) => {
    const logger = createLogger({ format: opts.logFormat === 'json' ? 'json' : 'pretty', component: 'agent' });
    const config = await readConfig(opts);
    const caFile: string | undefined = opts.caFile ?? config.caFile;
    const agent = new Agent({
      controlPlane: opts.controlPlane, ca: caFile ? loadPinnedCa(caFile) : undefined, token: opts.token, stateDir: opts.stateDir, logger,
      inventory: await inventoryOptions(opts, config),
      inventoryRunner: o.inventoryEntry
        ? childInventoryRunner({
          entry: o.inventoryEntry, timeoutMs: o.inventoryTimeoutMs,
          args: ['collect-inventory', ...(opts.config ? ['--config', opts.config] : []), ...(opts.persona ? ['--persona', opts.persona] : [])],
        })
        : undefined,
      spoolMaxEvents: opts.spoolMaxEvents ?? config.spoolMaxEvents,
      eventsPerSecond: opts.eps ?? config.eventsPerSecond,
      eventsBurst: config.eventsBurst,
      pingIntervalMs: config.pingIntervalMs,
      schedules: opts.schedule ? (await import('../agent/schedule-file.ts')).loadScheduleFile(opts.schedule) : undefined,
      // DeviceTvmSoftwareInventory: the installed software, hourly, sent when it changed (the service reads it in a child).
      softwareInventory: {
        runner: o.inventoryEntry
          ? childSoftwareRunner({
            entry: o.inventoryEntry, timeoutMs: o.inventoryTimeoutMs,
            args: ['collect-software', ...(opts.persona ? ['--persona', opts.persona] : [])],
          })
          : undefined,
      },
    });
    agent.on('registered', (m) => logger.info('registered', { machineId: m.machineId, heartbeatIntervalSec: m.heartbeatIntervalSec, extensions: m.extensions.map((e: { name: string }) => e.name) }));
    agent.on('disconnected', (code) => logger.warn('disconnected', { code }));
    const fatal = new Promise<Error>((resolve) => agent.once('fatal', resolve));
    await agent.start();
    const outcome = await Promise.race([untilSignal(), fatal]);
    await agent.stop();
    if (outcome instanceof Error) throw outcome;
  });

  addInventoryOptions(
    cmd
      .command('inventory')
      .description('print exactly what this agent would register (machine facts, cloud, SQL instances), without connecting')
      .option('--json', 'print the register payload as JSON'),
  ).action(async (opts) => {
    const inv = await collectHere(opts);
    if (opts.json) {
      process.stdout.write(JSON.stringify({ machine: inv.machine, sqlInstances: inv.sqlInstances }, null, 2) + '\n');
      for (const n of inv.notes) process.stderr.write(`note: ${n}\n`);
      return;
    }
    const m = inv.machine;
    const rows: Array<Record<string, unknown>> = [
      { property: 'hostname', value: m.hostname }, { property: 'machineFqdn', value: m.machineFqdn },
      { property: 'osName', value: m.osName }, { property: 'osType', value: m.osType }, { property: 'osVersion', value: m.osVersion },
      { property: 'osSku', value: m.osSku }, { property: 'vmUuid', value: m.vmUuid ?? '(not readable)' }, { property: 'agentVersion', value: m.agentVersion },
      ...Object.entries(m.detectedProperties).map(([k, v]) => ({ property: `detectedProperties.${k}`, value: v })),
      { property: 'cloudMetadata.provider', value: m.cloudMetadata.provider },
      ...Object.entries(m.cloudMetadata.details ?? {}).map(([k, v]) => ({ property: `cloudMetadata.details.${k}`, value: v })),
      ...(m.networkInterfaces ?? []).map((n) => ({ property: `nic ${n.name}`, value: `${n.ipAddresses.join(', ')}${n.macAddress ? ` (${n.macAddress})` : ''}` })),
      ...(m.persona ? [{ property: 'persona', value: m.persona }] : []),
    ];
    process.stdout.write('Machine (Microsoft.HybridCompute/machines)\n' + table(rows, ['property', 'value']) + '\n');
    process.stdout.write('\nSQL instances (Microsoft.AzureArcData/sqlServerInstances)\n');
    process.stdout.write(inv.sqlInstances.length
      ? table(inv.sqlInstances.map((s) => ({ ...s })), ['instanceName', 'engine', 'version', 'edition', 'tcpStaticPorts', 'discoveredBy']) + '\n'
      : '(none found)\n');
    if (inv.notes.length) process.stdout.write('\n' + inv.notes.map((n) => `note: ${n}`).join('\n') + '\n');
  });

  // What the agent service runs in a child process for each inventory (agent/inventory-child.ts).
  addInventoryOptions(
    cmd
      .command('collect-inventory', { hidden: true })
      .description('internal: print the inventory (machine, sqlInstances, notes) as one JSON document; the agent service runs it in a child process'),
  ).action(async (opts) => {
    const inv = await collectHere(opts);
    process.stdout.write(JSON.stringify({ machine: inv.machine, sqlInstances: inv.sqlInstances, notes: inv.notes }) + '\n');
  });

  // What the agent service runs in a child process to read the installed software (DeviceTvmSoftwareInventory).
  cmd
    .command('collect-software', { hidden: true })
    .description('internal: print the installed software (a line {digest, count, notes}, then one JSON item per line); the agent service runs it in a child process')
    .option('--persona <file>', 'a persona whose software list replaces the host\'s')
    .action(async (opts) => {
      const persona = opts.persona ? (await import('../agent/persona.ts')).loadPersona(opts.persona) : undefined;
      const { collectSoftware } = await import('../agent/software-inventory.ts');
      const declared = persona?.software;
      const r = await collectSoftware(declared ? { declared, platform: 'aix' } : {});
      process.stdout.write((await import('../agent/software-rows.ts')).snapshotLines(r));
    });

  cmd
    .command('enroll')
    .description('exchange an enrollment token for this agent\'s identity (written to STATE_DIR/identity.json, 0600) without connecting')
    .addOption(controlPlaneOption({ required: true }))
    .addOption(caFileOption())
    .addOption(new Option('--token <token>', 'enrollment token').env('ARCSIM_TOKEN').makeOptionMandatory())
    .option('--state-dir <dir>', 'where the identity is written', DEFAULT_STATE_DIR)
    .option('--force', 'enroll again even when an identity exists (the old one is forgotten)')
    .action(async (opts) => {
      const { enrollOnly } = await import('../agent/enroll.ts');
      const r = await enrollOnly({
        controlPlane: opts.controlPlane, ca: opts.caFile ? loadPinnedCa(opts.caFile) : undefined, token: opts.token, stateDir: opts.stateDir, force: !!opts.force,
      });
      process.stdout.write(r.already ? `already enrolled as ${r.agentId} (use --force to enroll again)\n` : `enrolled as ${r.agentId}\n`);
    });

  for (const c of agentInstallCommands(o.artifact)) cmd.addCommand(c);
  return cmd;
}

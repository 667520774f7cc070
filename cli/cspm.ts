import { readFileSync } from 'node:fs';
import { Argument, Command, Option } from 'commander';
import { protocolError } from '../protocol/index.ts';
import { SNAPSHOT_KINDS } from '../control-plane/inventory/snapshot-formats.ts';
import type { ControlPlaneApi } from '../testruns/api-client.ts';
import { adminKeyOption, apiKeyOption, controlPlaneOption } from './options.ts';
import { apiOf } from './api.ts';
import { table } from '../lib/text-table.ts';

function readJson(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw protocolError('ARCSIM_E_SNAPSHOT_JSON', `${file}: ${(err as Error).message}`, file);
  }
}

export function cspmCommand(): Command {
  const cmd = new Command('cspm').description('CSPM cloud connectors (AWS accounts, GCP projects): define them, import cloud snapshots, pull');
  const connector = cmd.command('connector').description('define and list connectors');
  connector
    .command('set <name> <definition.json>')
    .description('create or replace a connector from a JSON definition (see examples/cspm/connector-*.json)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (name: string, file: string, opts) => {
      const c = await apiOf(opts).setConnector(name, readJson(file));
      process.stdout.write(`connector ${c.name}: ${c.provider} ${c.accountId} in /subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}\n`);
    });
  connector
    .command('list')
    .description('list connectors')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const r = await apiOf(opts).connectors();
      if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(table(r.value, ['name', 'provider', 'accountId', 'subscription', 'resourceGroup']) + '\n');
    });
  cmd
    .command('import <files...>')
    .description('import cloud outputs (aws ec2 describe-instances / describe-security-groups, aws eks describe-cluster, gcloud compute instances / firewall-rules list, gcloud container clusters list --format=json), all or nothing')
    .requiredOption('--connector <name>', 'connector to import into')
    .addOption(new Option('--kind <kind>', 'snapshot kind (default: recognised from the shape; needed for an empty gcloud list)').choices([...SNAPSHOT_KINDS]))
    .option('--region <region>', 'AWS region the files cover (scopes "missing means deleted"; region of security groups)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (files: string[], opts) => {
      const snapshots = files.map((f) => ({ document: readJson(f), source: f, kind: opts.kind, region: opts.region }));
      const r = await apiOf(opts).importSnapshots(opts.connector, snapshots);
      if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(table(r.snapshots, ['kind', 'resources', 'added', 'changed', 'deleted']) + '\n');
    });
  cmd
    .command('pull <connector>')
    .description("run a connector's configured pull now: the aws/gcloud CLI with argv the control plane builds (no shell), or files in its import directory")
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (name: string, opts) => {
      const r = await apiOf(opts).pull(name);
      process.stdout.write(table(r.snapshots, ['kind', 'resources', 'added', 'changed', 'deleted']) + '\n');
    });
  return cmd;
}

const PLAN_ALIASES: Record<string, string> = {
  servers: 'VirtualMachines', sql: 'SqlServerVirtualMachines', containers: 'Containers',
  VirtualMachines: 'VirtualMachines', SqlServerVirtualMachines: 'SqlServerVirtualMachines', Containers: 'Containers',
};

export function planCommand(): Command {
  const cmd = new Command('plan').description('Defender plans per subscription or connector (Defender for Servers P1/P2, Defender for SQL servers on machines, Defender for Containers)');
  cmd
    .command('set')
    .description('turn a plan on or off: servers (VirtualMachines), sql (SqlServerVirtualMachines) or containers (Containers); turning servers on deploys MDE to connected machines, containers the Defender sensor to Kubernetes nodes')
    .addArgument(new Argument('<plan>').choices(Object.keys(PLAN_ALIASES)))
    .addArgument(new Argument('<state>').choices(['on', 'off']))
    .option('--subscription <id>', 'subscription scope')
    .option('--connector <name>', 'connector scope')
    .addOption(new Option('--sub-plan <p>', 'Defender for Servers sub-plan').choices(['P1', 'P2']))
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (plan: string, state: string, opts, command: Command) => {
      const name = PLAN_ALIASES[plan]!;
      if (!!opts.subscription === !!opts.connector) command.error('error: give exactly one of --subscription or --connector');
      const r = await apiOf(opts).setPlan({
        scope: opts.subscription ? 'subscription' : 'connector', id: opts.subscription ?? opts.connector, plan: name, enabled: state === 'on', subPlan: opts.subPlan,
      });
      process.stdout.write(`${r.plan}${r.subPlan ? ` (${r.subPlan})` : ''} ${r.enabled ? 'on' : 'off'} for ${r.scope} ${r.id}\n`);
    });
  cmd
    .command('list')
    .description('list plan settings')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const plans = await apiOf(opts).plans();
      if (opts.json) return void process.stdout.write(JSON.stringify(plans, null, 2) + '\n');
      process.stdout.write(table(plans, ['scope', 'id', 'plan', 'subPlan', 'enabled', 'updatedAt']) + '\n');
    });
  return cmd;
}

/** The `kind` of each entry of an asset's list (sources, conflicts), joined for a table cell. */
const kinds = (list: unknown, sep: string) => (Array.isArray(list) ? list.map((x: { kind?: unknown }) => String(x.kind)).join(sep) : '');

export function inventoryCommand(): Command {
  const cmd = new Command('inventory').description('read the merged inventory: assets, recommendations, secure score, billing');
  // Read-only endpoints: any API key does (a reader key is enough).
  const sub = <T>(name: string, desc: string, read: (api: ControlPlaneApi) => Promise<T>, columns: string[], rows: (r: T) => Array<Record<string, unknown>>) =>
    cmd.command(name).description(desc).addOption(controlPlaneOption()).addOption(apiKeyOption()).addOption(adminKeyOption()).option('--json', 'print JSON').action(async (opts) => {
      const r = await read(apiOf(opts));
      // --json prints the API's answer as it is: `{"value": [...]}`.
      if (opts.json) return void process.stdout.write(JSON.stringify({ value: r }, null, 2) + '\n');
      process.stdout.write(table(rows(r), columns) + '\n');
    });
  sub('assets', 'assets with their sources, merge confidence and conflicts', async (api) => {
    const r = await api.assets();
    if (!r.available) throw protocolError('ARCSIM_E_NOT_FOUND', 'this control plane serves no assets (GET /api/assets is 404)');
    return r.value;
  }, ['name', 'confidence', 'sources', 'arcStatus', 'alerts', 'conflicts'],
  (assets) => assets.map((a) => ({ ...a, sources: kinds(a.sources, '+'), alerts: Array.isArray(a.openAlerts) ? a.openAlerts.length : 0, conflicts: kinds(a.conflicts, ',') })));
  sub('recommendations', 'unhealthy recommendations', (api) => api.recommendations(), ['severity', 'displayName', 'resource', 'firstSeen'],
    (recs) => recs.map((x) => ({ ...x, resource: x.details.name ?? x.resourceId })));
  sub('score', 'secure score per subscription', (api) => api.secureScore(), ['subscription', 'score', 'current', 'max', 'unhealthy'], (r) => r);
  sub('billing', 'billed sources per plan, and machines billed twice', (api) => api.billing(), ['assetKey', 'plan', 'sourceKind', 'billed', 'reason'], (r) => r);
  return cmd;
}

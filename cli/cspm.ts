import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { protocolError } from '../protocol/index.ts';
import { SNAPSHOT_KINDS } from '../control-plane/inventory/snapshot-formats.ts';
import { adminKey, call, cpOption, keyOption } from './api-client.ts';
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
    .addOption(cpOption())
    .addOption(keyOption())
    .action(async (name: string, file: string, opts) => {
      const c = await call(opts.controlPlane, adminKey(opts), 'PUT', `/api/connectors/${encodeURIComponent(name)}`, readJson(file));
      process.stdout.write(`connector ${c.name}: ${c.provider} ${c.accountId} in /subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}\n`);
    });
  connector
    .command('list')
    .description('list connectors')
    .addOption(cpOption())
    .addOption(keyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const r = await call(opts.controlPlane, adminKey(opts), 'GET', '/api/connectors');
      if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(table(r.value, ['name', 'provider', 'accountId', 'subscription', 'resourceGroup']) + '\n');
    });
  cmd
    .command('import <files...>')
    .description('import cloud outputs (aws ec2 describe-instances / describe-security-groups, gcloud compute instances / firewall-rules list --format=json), all or nothing')
    .requiredOption('--connector <name>', 'connector to import into')
    .addOption(new Option('--kind <kind>', 'snapshot kind (default: recognised from the shape; needed for an empty gcloud list)').choices([...SNAPSHOT_KINDS]))
    .option('--region <region>', 'AWS region the files cover (scopes "missing means deleted"; region of security groups)')
    .addOption(cpOption())
    .addOption(keyOption())
    .option('--json', 'print JSON')
    .action(async (files: string[], opts) => {
      const snapshots = files.map((f) => ({ document: readJson(f), source: f, kind: opts.kind, region: opts.region }));
      const r = await call(opts.controlPlane, adminKey(opts), 'POST', `/api/connectors/${encodeURIComponent(opts.connector)}/snapshots`, { snapshots });
      if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(table(r.snapshots, ['kind', 'resources', 'added', 'changed', 'deleted']) + '\n');
    });
  cmd
    .command('pull <connector>')
    .description("run a connector's configured pull (commands / files) now")
    .addOption(cpOption())
    .addOption(keyOption())
    .action(async (name: string, opts) => {
      const r = await call(opts.controlPlane, adminKey(opts), 'POST', `/api/connectors/${encodeURIComponent(name)}/pull`);
      process.stdout.write(table(r.snapshots, ['kind', 'resources', 'added', 'changed', 'deleted']) + '\n');
    });
  return cmd;
}

const PLAN_ALIASES: Record<string, string> = { servers: 'VirtualMachines', sql: 'SqlServerVirtualMachines', VirtualMachines: 'VirtualMachines', SqlServerVirtualMachines: 'SqlServerVirtualMachines' };

export function planCommand(): Command {
  const cmd = new Command('plan').description('Defender plans per subscription or connector (Defender for Servers P1/P2, Defender for SQL servers on machines)');
  cmd
    .command('set <plan> <on|off>')
    .description('turn a plan on or off: servers (VirtualMachines) or sql (SqlServerVirtualMachines); turning servers on deploys MDE to connected machines')
    .option('--subscription <id>', 'subscription scope')
    .option('--connector <name>', 'connector scope')
    .addOption(new Option('--sub-plan <p>', 'Defender for Servers sub-plan').choices(['P1', 'P2']))
    .addOption(cpOption())
    .addOption(keyOption())
    .action(async (plan: string, state: string, opts) => {
      const name = PLAN_ALIASES[plan];
      if (!name) throw new Error(`unknown plan ${plan}: servers, sql, VirtualMachines or SqlServerVirtualMachines`);
      if (state !== 'on' && state !== 'off') throw new Error('the plan state is on or off');
      if (!!opts.subscription === !!opts.connector) throw new Error('give exactly one of --subscription or --connector');
      const body = { scope: opts.subscription ? 'subscription' : 'connector', id: opts.subscription ?? opts.connector, plan: name, enabled: state === 'on', subPlan: opts.subPlan };
      const r = await call(opts.controlPlane, adminKey(opts), 'PUT', '/api/plans', body);
      process.stdout.write(`${r.plan}${r.subPlan ? ` (${r.subPlan})` : ''} ${r.enabled ? 'on' : 'off'} for ${r.scope} ${r.id}\n`);
    });
  cmd
    .command('list')
    .description('list plan settings')
    .addOption(cpOption())
    .addOption(keyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const r = await call(opts.controlPlane, adminKey(opts), 'GET', '/api/plans');
      if (opts.json) return void process.stdout.write(JSON.stringify(r.value, null, 2) + '\n');
      process.stdout.write(table(r.value, ['scope', 'id', 'plan', 'subPlan', 'enabled', 'updatedAt']) + '\n');
    });
  return cmd;
}

export function inventoryCommand(): Command {
  const cmd = new Command('inventory').description('read the merged inventory: assets, recommendations, secure score, billing');
  const get = (path: string, columns: string[], map: (r: any) => Array<Record<string, unknown>>) => async (opts: any) => {
    const r = await call(opts.controlPlane, opts.adminKey ?? process.env.ARCSIM_ADMIN_KEY ?? '', 'GET', path);
    if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    process.stdout.write(table(map(r), columns) + '\n');
  };
  const sub = (name: string, desc: string, path: string, columns: string[], map: (r: any) => Array<Record<string, unknown>>) =>
    cmd.command(name).description(desc).addOption(cpOption()).option('--json', 'print JSON').action(get(path, columns, map));
  sub('assets', 'assets with their sources, merge confidence and conflicts', '/api/assets', ['name', 'confidence', 'sources', 'arcStatus', 'alerts', 'conflicts'],
    (r) => r.value.map((a: any) => ({ ...a, sources: a.sources.map((s: any) => s.kind).join('+'), alerts: a.openAlerts.length, conflicts: a.conflicts.map((c: any) => c.kind).join(',') })));
  sub('recommendations', 'unhealthy recommendations', '/api/recommendations', ['severity', 'displayName', 'resource', 'firstSeen'],
    (r) => r.value.map((x: any) => ({ ...x, resource: x.details.name ?? x.resourceId })));
  sub('score', 'secure score per subscription', '/api/secure-score', ['subscription', 'score', 'current', 'max', 'unhealthy'], (r) => r.value);
  sub('billing', 'billed sources per plan, and machines billed twice', '/api/billing', ['assetKey', 'plan', 'sourceKind', 'billed', 'reason'], (r) => r.value);
  return cmd;
}

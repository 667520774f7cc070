import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { protocolError } from '../protocol/index.ts';
import { adminKeyOption, apiKeyOption, controlPlaneOption } from './options.ts';
import { apiOf } from './api.ts';
import { table } from '../lib/text-table.ts';

/** `arcsim vuln`: vulnerability management (OSV advisory feeds, findings on the machines). */
export function vulnCommand(): Command {
  const cmd = new Command('vuln').description('vulnerability management: load OSV advisory feeds offline, list the findings on the machines (DeviceTvmSoftwareVulnerabilities)');
  cmd
    .command('import <file>')
    .description('load an OSV advisory feed (JSON: an array of OSV records, one record, or {"vulns": [...]}), e.g. a distribution\'s OSV export; the machines are assessed again')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (file: string, opts) => {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw protocolError('ARCSIM_E_OSV_FEED', `${file}: ${(err as Error).message}`, file);
      }
      const r = await apiOf(opts).importAdvisories(doc);
      if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(`${file}: ${r.advisories} advisories read (${r.withdrawn} withdrawn left out), ${r.stored} stored, ${r.unchanged} unchanged; ${r.total} held\n`);
    });
  cmd
    .command('list')
    .description('the findings: one row per installed software and CVE (DeviceTvmSoftwareVulnerabilities)')
    .option('--machine <name>', 'only this Arc machine')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const rows = await apiOf(opts).vulnerabilities(opts.machine);
      if (opts.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      process.stdout.write(table(rows, ['DeviceName', 'SoftwareName', 'SoftwareVersion', 'CveId', 'VulnerabilitySeverityLevel', 'RecommendedSecurityUpdate']) + '\n');
    });
  return cmd;
}

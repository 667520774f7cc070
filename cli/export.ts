import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { adminKeyOption, apiKeyOption, controlPlaneOption } from './options.ts';
import { apiOf } from './api.ts';

const FORMATS = ['graph', 'sentinel', 'ocsf', 'cef'] as const;

/**
 * `arcsim export --format F [--since T] [--out F]`: alerts and incidents for a SIEM, through
 * `GET /api/export`. JSON formats print one record per line (NDJSON: alerts, then incidents); CEF
 * one line per alert.
 */
export function exportCommand(): Command {
  return new Command('export')
    .description('export alerts and incidents once: Microsoft Graph alerts_v2/incidents (graph), Sentinel SecurityAlert/SecurityIncident rows (sentinel), OCSF 1.8.0 Detection/Incident Findings (ocsf), or ArcSight CEF lines (cef, alerts only); JSON formats as one record per line (needs a reader key)')
    .addOption(new Option('--format <format>', 'record format').choices(FORMATS).makeOptionMandatory())
    .option('--since <time>', 'only alerts and incidents changed since then: ISO 8601 time or a duration back from now (24h, 7d)')
    .option('--out <file>', 'write to this file (mode 0600) instead of stdout')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (opts) => {
      const r = await apiOf(opts).exportRecords(opts.format, opts.since);
      const lines = [...r.alerts, ...r.incidents].map((rec) => (typeof rec === 'string' ? rec : JSON.stringify(rec)));
      const text = lines.length ? `${lines.join('\n')}\n` : '';
      if (opts.out) {
        writeFileSync(opts.out, text, { mode: 0o600 });
        process.stderr.write(`${r.alerts.length} alert(s), ${r.incidents.length} incident(s) as ${r.format} written to ${opts.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}

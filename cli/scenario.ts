import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadLibrary, loadScenarioFile, LIBRARY_DIR } from '../scenarios/index.ts';
import { ArcsimError } from '../protocol/errors.ts';
import { table } from './format.ts';

export function scenarioCommand(): Command {
  const cmd = new Command('scenario').description('scenario files: list and validate');
  cmd
    .command('list')
    .description('list the scenarios of a library directory')
    .option('--dir <dir>', 'scenario directory', LIBRARY_DIR)
    .option('--json', 'print JSON')
    .action((opts) => {
      const lib = [...loadLibrary(resolve(opts.dir)).values()];
      if (opts.json) return void process.stdout.write(JSON.stringify(lib, null, 2) + '\n');
      const rows = lib.map((s) => ({
        slug: s.slug, name: s.name, techniques: s.techniques.join(','), platforms: s.platforms.join(','),
        expects: s.expect.alerts.map((a) => a.alertType).join(','), benign: s.benign ? 'yes' : 'no',
      }));
      process.stdout.write(table(rows, ['slug', 'techniques', 'platforms', 'expects', 'benign', 'name']) + '\n');
    });
  cmd
    .command('validate <files...>')
    .description('validate scenario files; prints each error with its code and path, exits 1 if any fails')
    .action((files: string[]) => {
      let failed = 0;
      for (const f of files) {
        try {
          const s = loadScenarioFile(f);
          process.stdout.write(`ok    ${f} (${s.slug})\n`);
        } catch (err) {
          failed++;
          const e = err as ArcsimError;
          process.stdout.write(`FAIL  ${e.code ?? "error"}: ${e.message}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
  return cmd;
}

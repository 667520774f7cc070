import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { runCoverage, toCoverageLayer, toCoverageMarkdown, toCoverageTable } from '../testruns/coverage/index.ts';

export function coverageCommand(): Command {
  return new Command('coverage')
    .description('which of your rules would catch each Atomic Red Team test: imports every technique file (atomics/Txxxx/Txxxx.yaml), plays each test as synthetic events (nothing is executed), runs the rules offline and reports per technique and per test which rules fired')
    .requiredOption('--atomics <dir>', "an Atomic Red Team atomics/ folder (or one technique file)")
    .option('--rules <dir...>', 'directories of Sigma rule files, read recursively, rule by rule: every rule that loads is used, the refused ones are counted (default: the shipped rules)')
    .option('--json', 'print JSON instead of the table: {"techniques": [{"id", "name", "detected", "rules", "tests": [...]}], "totals", "rules", "refusedFiles", "refusedRules", ...}')
    .option('--navigator <file>', 'write an ATT&CK Navigator layer (format 4.5): detected green, played but not detected orange, no playable test grey')
    .option('--report <file>', 'write a Markdown report (per technique, per test, rules that fired)')
    .action(async (opts: { atomics: string; rules?: string[]; json?: boolean; navigator?: string; report?: string }) => {
      const result = await runCoverage({ atomicsDir: opts.atomics, rulesDirs: opts.rules });
      if (opts.navigator) writeFileSync(opts.navigator, JSON.stringify(toCoverageLayer(result), null, 2) + '\n');
      if (opts.report) writeFileSync(opts.report, toCoverageMarkdown(result));
      process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : toCoverageTable(result));
    });
}

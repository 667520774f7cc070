import { DEFAULT_RULES_DIR, reportRulesDirs } from '../control-plane/detection/index.ts';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { ArcsimErrors, type RunResult } from '../protocol/index.ts';
import {
  createProgress, loadSuiteFile, parseBundle, renderMatrix, renderReplay, replayBundle, runSuite, silentProgress,
  toJUnit, toMarkdown, toNavigatorLayer,
} from '../testruns/index.ts';
import { table } from '../lib/text-table.ts';
import { adminKeyOption, apiKeyOption, controlPlaneOption } from './options.ts';
import { apiOf, keyOf } from './api.ts';

const write = (file: string, text: string) => (file === '-' ? process.stdout.write(text) : writeFileSync(file, text));

/** Writes the reports asked for on the command line. */
export function writeReports(result: RunResult, opts: { junit?: string; report?: string; navigator?: string; json?: string }): void {
  if (opts.junit) write(opts.junit, toJUnit(result));
  if (opts.report) write(opts.report, toMarkdown(result));
  if (opts.navigator) write(opts.navigator, JSON.stringify(toNavigatorLayer(result), null, 2) + '\n');
  if (opts.json) write(opts.json, JSON.stringify(result, null, 2) + '\n');
}

/** Prints every suite error (code, path, message), one per line. */
export function printSuiteErrors(err: unknown): boolean {
  if (!(err instanceof ArcsimErrors)) return false;
  for (const e of err.errors) process.stderr.write(`arcsim: ${e.code}${e.path ? ` at ${e.path}` : ''}: ${e.message}\n`);
  process.stderr.write(`arcsim: the suite was refused (${err.errors.length} error${err.errors.length > 1 ? 's' : ''}); nothing was run\n`);
  return true;
}

export function runCommand(): Command {
  const cmd = new Command('run')
    .description('multi-cloud test runs: play a suite of scenarios on the matching connected agents and check the expected outcomes\n' +
      '(exit 0 only if every expectation held); also show, export and replay stored runs')
    .argument('[suite]', 'suite file (YAML); see docs/test-runs.md')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--junit <file>', 'write JUnit XML (one testcase per matrix cell)')
    .option('--report <file>', 'write a Markdown report (matrix, per-alert latencies, ATT&CK coverage)')
    .option('--navigator <file>', 'write an ATT&CK Navigator layer (v4.5) of the techniques exercised and detected')
    .option('--json <file>', 'write the JSON result (- for stdout, which then carries only the JSON)')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--validate', 'only validate the suite file, run nothing')
    // Options after a subcommand name belong to the subcommand (`run show ID --control-plane URL`).
    .enablePositionalOptions()
    .action(async (suiteFile: string | undefined, opts) => {
      if (!suiteFile) return void cmd.help({ error: true });
      let suite;
      try {
        suite = loadSuiteFile(suiteFile);
      } catch (err) {
        if (printSuiteErrors(err)) return void (process.exitCode = 1);
        throw err;
      }
      if (opts.validate) {
        process.stdout.write(`ok  ${suiteFile}: ${suite.scenarios.length} scenario runs, ${Object.keys(suite.hosts).length} host selectors, ${suite.incidents.length} incident checks\n`);
        return;
      }
      const api = apiOf(opts);
      const progress = opts.progress ? createProgress(process.stderr) : silentProgress;
      const result = await runSuite(suite, { api, progress });
      if (opts.json !== '-') process.stdout.write(renderMatrix(result));
      writeReports(result, opts);
      if (opts.json !== '-') process.stdout.write(`stored as ${result.runId} (arcsim run show ${result.runId})\n`);
      process.exitCode = result.ok ? 0 : 1;
    });

  cmd.command('list')
    .description('list stored test runs, newest first')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const runs = await apiOf(opts).runs();
      if (opts.json) return void process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
      process.stdout.write(table(runs.map((r) => ({
        runId: r.runId, suite: r.suite, startedAt: r.startedAt, result: r.ok ? 'PASS' : 'FAIL',
        cells: `${r.summary.pass}/${r.summary.cells} pass, ${r.summary.fail} fail, ${r.summary.notRun} not run, ${r.summary.notChecked} not checked, ${r.summary.notApplicable ?? 0} not applicable`,
      })), ['runId', 'suite', 'startedAt', 'result', 'cells']) + '\n');
    });

  cmd.command('show <id>')
    .description('show a stored test run: its matrix (or JSON), and write its reports again')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print the JSON result')
    .option('--junit <file>', 'write JUnit XML')
    .option('--report <file>', 'write the Markdown report')
    .option('--navigator <file>', 'write the ATT&CK Navigator layer')
    .action(async (id: string, opts) => {
      const result = await apiOf(opts).run(id);
      if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(renderMatrix(result));
      writeReports(result, { junit: opts.junit, report: opts.report, navigator: opts.navigator });
      process.exitCode = result.ok ? 0 : 1;
    });

  cmd.command('export <id>')
    .description('export a stored run as a bundle (suite, result, events, alerts) for replay elsewhere')
    .requiredOption('--out <file>', 'bundle file to write (JSON)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (id: string, opts) => {
      const bundle = await apiOf(opts).bundle(id);
      writeFileSync(opts.out, JSON.stringify(bundle) + '\n');
      const b = bundle as { events: unknown[]; alerts: unknown[] };
      process.stdout.write(`wrote ${opts.out}: ${b.events.length} events, ${b.alerts.length} alerts\n`);
    });

  cmd.command('replay <bundle>')
    .description('replay a bundle\'s events through a rule set offline, or through the agent path to another control plane, and print what changed (exit 1 if any cell changed or fails)')
    .option('--rules <dir>', 'offline: directory of Sigma rule files, read recursively, rule by rule (default: the shipped rules)')
    .option('--strict', 'offline: fail when any rule is refused (default: print the refused count and go on)')
    .option('--to <url>', 'live: the control plane to replay against (with --token)')
    .option('--token <token>', 'live: an enrollment token of that control plane')
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--state-dir <dir>', 'live: where the replay agents keep identity and spool', join(tmpdir(), 'arcsim-replay'))
    .option('--json', 'print JSON')
    .action(async (file: string, opts, command: Command) => {
      if (opts.to && !opts.token) command.error('error: --to needs --token (an enrollment token of that control plane)');
      if (opts.to && !keyOf(opts)) command.error('error: --to needs --api-key (a reader key of that control plane, to read the alerts the replay raised)');
      if (opts.to && opts.rules) command.error('error: --rules is for offline replay; the control plane given with --to uses its own rules');
      let bundle;
      try {
        bundle = parseBundle(JSON.parse(readFileSync(file, 'utf8')), file);
      } catch (err) {
        if (printSuiteErrors(err)) return void (process.exitCode = 1);
        throw err;
      }
      const target = opts.to ? { url: opts.to, token: opts.token, apiKey: keyOf(opts)!, stateDir: opts.stateDir } : undefined;
      let rules;
      if (!target) {
        const report = reportRulesDirs([opts.rules ?? DEFAULT_RULES_DIR]);
        if (report.refused.length) {
          if (opts.strict) throw (report.refused[0] as { error?: Error }).error ?? new Error(report.refused[0]!.message!);
          process.stderr.write(`${report.refused.length} of ${report.results.length} rule(s) refused, the others loaded; see which and why: arcsim rules check ${opts.rules ?? DEFAULT_RULES_DIR}\n`);
        }
        rules = report.set;
      }
      const cells = await replayBundle(bundle, { rulesDir: opts.rules, rules, target });
      const against = target ? `control plane ${target.url}` : opts.rules ?? 'the shipped rules';
      if (opts.json) process.stdout.write(JSON.stringify(cells, null, 2) + '\n');
      else process.stdout.write(`Replay of ${bundle.result.runId} (${bundle.result.suite.name}) against ${against}\n${renderReplay(cells)}`);
      process.exitCode = cells.some((c) => c.changed || c.after.status !== 'pass') ? 1 : 0;
    });
  return cmd;
}

import { Command } from 'commander';
import { reportRulesDirs, type RuleResult } from '../control-plane/detection/index.ts';

/** `arcsim rules check --json` output, exactly as issue 13 specifies it. */
export interface RulesCheckJson {
  loaded: number;
  refused: number;
  rules: Array<{ file: string; id: string | null; title: string | null; status: 'loaded' | 'refused'; code: string | null; message: string | null }>;
}

export function rulesCheckJson(results: RuleResult[]): RulesCheckJson {
  return {
    loaded: results.filter((r) => r.status === 'loaded').length,
    refused: results.filter((r) => r.status === 'refused').length,
    rules: results.map((r) => ({
      file: r.file, id: r.id ?? null, title: r.title ?? null, status: r.status, code: r.code ?? null,
      message: r.status === 'refused' ? `line ${r.line}: ${r.message}` : null,
    })),
  };
}

export function rulesCommand(): Command {
  const rules = new Command('rules').description('work with Sigma rule files');
  rules.addCommand(new Command('check')
    .description('load Sigma rules (files or directories, read recursively) as arcsim would, and report each rule as loaded or refused\n' +
      '(code, construct or field, file and line); exit 0 only when none is refused')
    .argument('<path...>', 'rule files or directories, loaded as one rule set (a correlation may refer to a rule of another path)')
    .option('--json', 'print {"loaded", "refused", "rules": [{"file", "id", "title", "status", "code", "message"}]}')
    .option('--refused', 'list only the refused rules (text output)')
    .action((paths: string[], opts) => {
      const report = reportRulesDirs(paths);
      if (report.refused.length) process.exitCode = 1;
      if (opts.json) {
        process.stdout.write(JSON.stringify(rulesCheckJson(report.results)) + '\n');
        return;
      }
      const lines: string[] = [];
      for (const r of report.results) {
        if (r.status === 'loaded') {
          if (!opts.refused) lines.push(`loaded   ${r.file}  ${r.id ?? ''}  ${r.title ?? ''}`);
        } else {
          lines.push(`REFUSED  ${r.file}:${r.line}  ${r.code}  ${r.message}`);
        }
      }
      lines.push(`${report.results.length - report.refused.length} loaded, ${report.refused.length} refused`);
      process.stdout.write(lines.join('\n') + '\n');
    }));
  return rules;
}

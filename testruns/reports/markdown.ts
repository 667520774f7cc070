import type { RunResult } from '../../protocol/index.ts';
import { cellText, matrixRows } from './matrix.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const mdTable = (head: string[], rows: string[][]) =>
  [`| ${head.map(cell).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

/** The Markdown report: summary, the matrix, failure details, per-alert latencies, ATT&CK coverage. */
export function toMarkdown(r: RunResult): string {
  const s = r.summary;
  const out: string[] = [];
  out.push(`# arcsim test run: ${r.suite.name}`, '');
  if (r.suite.description) out.push(r.suite.description.trim(), '');
  out.push(`- Run: \`${r.runId}\`, ${r.startedAt} (${(r.durationMs / 1000).toFixed(1)} s)`);
  out.push(`- Control plane: ${r.controlPlane}, sync profile \`${r.syncProfile ?? 'unknown'}\``);
  out.push(`- Result: **${r.ok ? 'PASS' : 'FAIL'}** — ${s.pass}/${s.cells} cells passed, ${s.fail} failed, ${s.notRun} not run, ${s.notChecked} not checked, ${s.notApplicable ?? 0} not applicable (the scenario is not for the host's OS)`, '');

  out.push('## Matrix', '');
  const { columns, rows } = matrixRows(r);
  out.push(mdTable(['scenario run', ...columns], rows.map((row) => [row.row!, ...columns.map((c) => row[c]!)])), '');

  const bad = r.cells.filter((c) => c.status !== 'pass' && c.status !== 'not-applicable');
  if (bad.length) {
    out.push('## What did not hold', '');
    for (const c of bad) {
      out.push(`- **${c.rowId} × ${c.host}** — ${cellText(c)}`);
      for (const k of c.checks.filter((x) => x.status !== 'pass')) out.push(`  - ${k.name}: ${k.detail}`);
    }
    out.push('');
  }

  out.push('## Alerts and detection latency', '');
  const alertRows = r.cells.filter((c) => c.kind === 'scenario').flatMap((c) => c.alerts.map((a) => [
    c.rowId, c.host, a.alertType, String(a.count), a.latencyMs === null ? '—' : `${a.latencyMs} ms`,
    Object.entries(a.products).map(([p, st]) => `${p}: ${st}`).join(', '), a.incidentId ?? '—',
  ]));
  out.push(alertRows.length ? mdTable(['run', 'host', 'alertType', 'occurrences', 'latency', 'products', 'incident'], alertRows) : '_No alert was raised._', '');

  out.push('## ATT&CK coverage', '');
  const attack = r.cells.filter((c) => c.kind === 'scenario' && c.variant === 'attack' && c.detonationIds.length > 0);
  const techs = [...new Set([...r.coverage.exercised, ...r.coverage.detected])].sort();
  out.push(techs.length ? mdTable(['technique', 'exercised by', 'detected', 'alerts'], techs.map((t) => [
    t,
    [...new Set(attack.filter((c) => c.techniques.includes(t)).map((c) => c.scenario!))].join(', ') || '—',
    r.coverage.detected.includes(t) ? 'yes' : '**no**',
    [...new Set(attack.flatMap((c) => c.alerts.filter((a) => a.techniques.includes(t)).map((a) => a.alertType)))].join(', ') || '—',
  ])) : '_No attack was played._', '');
  const hit = r.coverage.exercised.filter((t) => r.coverage.detected.includes(t)).length;
  out.push(`${hit} of ${r.coverage.exercised.length} exercised techniques detected.`, '');
  return out.join('\n');
}

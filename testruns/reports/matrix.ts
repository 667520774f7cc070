import type { Cell, RunResult } from '../../protocol/index.ts';
import { table } from '../../lib/text-table.ts';

/** The text a matrix cell shows: PASS, or the status and its reasons. */
export function cellText(c: Cell): string {
  if (c.status === 'pass') return 'PASS';
  if (c.status === 'not-run') return 'NOT RUN';
  if (c.status === 'not-applicable') return 'N/A';
  if (c.status === 'not-checked') return c.reasons.map((r) => r.toUpperCase()).join(', ') || 'NOT CHECKED';
  return `FAIL: ${c.reasons.join(', ')}`;
}

/** Rows (scenario runs and incident checks) × columns (hosts), each cell joined with `; ` when a row has two cells on one column. */
export function matrixRows(r: RunResult): { columns: string[]; rows: Array<Record<string, string>> } {
  const columns = [...new Set(r.cells.map((c) => c.host))];
  const rows = r.rows.map((row) => {
    const label = row.kind === 'scenario' ? `${row.rowId}${row.variant === 'benign' ? ' (benign)' : ''}` : row.rowId;
    const out: Record<string, string> = { row: row.syncProfile ? `${label} [sync ${row.syncProfile}]` : label };
    for (const col of columns) {
      const cells = r.cells.filter((c) => c.rowId === row.rowId && c.host === col);
      out[col] = cells.length ? cells.map(cellText).join('; ') : '—';
    }
    return out;
  });
  return { columns, rows };
}

/** The console report: matrix, failure details, summary line. */
export function renderMatrix(r: RunResult): string {
  const { columns, rows } = matrixRows(r);
  const lines = [`Test run ${r.runId}: ${r.suite.name} (control plane ${r.controlPlane}, sync ${r.syncProfile ?? 'unknown'})`, ''];
  lines.push(table(rows, ['row', ...columns]), '');
  const bad = r.cells.filter((c) => c.status !== 'pass' && c.status !== 'not-applicable');
  const na = r.cells.filter((c) => c.status === 'not-applicable');
  if (na.length) {
    lines.push('Not applicable (N/A)');
    for (const c of na) lines.push(`  ${c.rowId} × ${c.host}: ${c.checks.map((k) => k.detail).join('; ')}`);
    lines.push('');
  }
  if (bad.length) {
    lines.push('Details');
    for (const c of bad) {
      for (const k of c.checks.filter((x) => x.status !== 'pass')) lines.push(`  ${c.rowId} × ${c.host}: ${k.name}: ${k.reason ?? k.status}: ${k.detail}`);
    }
    lines.push('');
  }
  const s = r.summary;
  lines.push(`${r.ok ? 'PASS' : 'FAIL'}: ${s.pass}/${s.cells} cells passed, ${s.fail} failed, ${s.notRun} not run, ${s.notChecked} not checked, ${s.notApplicable ?? 0} not applicable; ` +
    `ATT&CK ${r.coverage.detected.filter((t) => r.coverage.exercised.includes(t)).length}/${r.coverage.exercised.length} exercised techniques detected; ${(r.durationMs / 1000).toFixed(1)} s.`);
  return lines.join('\n') + '\n';
}

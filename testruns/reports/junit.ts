import type { Cell, RunResult } from '../../protocol/index.ts';

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
  // XML 1.0 forbids most control characters even when escaped.
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/**
 * JUnit XML (the Ant/Jenkins schema CI tools read): one <testsuite> per matrix column (host),
 * one <testcase> per cell. A failed cell is <failure type="reason">, a cell that was not run or
 * could not be checked is <skipped> (it never counts as a pass; the exit code says so too).
 * Hand-built: the format is a dozen elements, an XML library would be the larger risk.
 */
export function toJUnit(r: RunResult): string {
  const columns = [...new Set(r.cells.map((c) => c.host))];
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const out = [`<?xml version="1.0" encoding="UTF-8"?>`];
  const failures = r.cells.filter((c) => c.status === 'fail').length;
  const skipped = r.cells.filter((c) => c.status === 'not-run' || c.status === 'not-checked' || c.status === 'not-applicable').length;
  out.push(`<testsuites name="${esc(r.suite.name)}" tests="${r.cells.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${secs(r.durationMs)}">`);
  columns.forEach((col, i) => {
    const cells = r.cells.filter((c) => c.host === col);
    const f = cells.filter((c) => c.status === 'fail').length;
    const s = cells.filter((c) => c.status === 'not-run' || c.status === 'not-checked' || c.status === 'not-applicable').length;
    const time = cells.reduce((n, c) => n + c.durationMs, 0);
    out.push(`  <testsuite name="${esc(col)}" id="${i}" package="arcsim.${esc(r.suite.name)}" tests="${cells.length}" failures="${f}" errors="0" skipped="${s}" time="${secs(time)}" timestamp="${esc(r.startedAt.replace(/\.\d+Z$/, ''))}" hostname="${esc(col)}">`);
    out.push(`    <properties><property name="runId" value="${esc(r.runId)}"/><property name="syncProfile" value="${esc(r.syncProfile ?? '')}"/></properties>`);
    for (const c of cells) out.push(testcase(c, secs));
    out.push('  </testsuite>');
  });
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

function testcase(c: Cell, secs: (ms: number) => string): string {
  const name = `${c.rowId}${c.variant === 'benign' ? ' (benign)' : ''}`;
  const open = `    <testcase classname="${esc(c.host)}" name="${esc(name)}" time="${secs(c.durationMs)}"`;
  const details = c.checks.map((k) => `${k.status.toUpperCase()} ${k.name}: ${k.detail}`).join('\n');
  if (c.status === 'pass') return `${open}>\n      <system-out>${esc(details)}</system-out>\n    </testcase>`;
  if (c.status === 'fail') {
    return `${open}>\n      <failure message="${esc(c.reasons.join(', '))}" type="${esc(c.reasons[0] ?? 'fail')}">${esc(details)}</failure>\n    </testcase>`;
  }
  return `${open}>\n      <skipped message="${esc(c.reasons.join(', ') || c.status)}"/>\n      <system-out>${esc(details)}</system-out>\n    </testcase>`;
}

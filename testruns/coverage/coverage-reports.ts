import { table } from '../../lib/text-table.ts';
import type { CoverageResult, CoverageTechnique } from './coverage.ts';

/** Layer colours: a played test raised an alert; tests played, none detected; no test arcsim can play. */
export const COVERAGE_COLORS = { detected: '#31a354', missed: '#e6550d', notPlayed: '#bdbdbd' } as const;

const played = (t: CoverageTechnique) => t.tests.filter((x) => x.status === 'played');
/** Rule ids as titles, for the human-readable outputs (JSON keeps the ids). */
const titler = (r: CoverageResult) => {
  const titles = new Map(r.rules.map((x) => [x.id, x.title]));
  return (ids: string[]) => ids.map((id) => titles.get(id) ?? id);
};
const detectedTests = (t: CoverageTechnique) => t.tests.filter((x) => x.detected);

/**
 * An ATT&CK Navigator layer, layer format 4.5 (mitre-attack/attack-navigator,
 * layers/spec/v4.5/layerformat.md): one technique object per Atomic technique file (sub-techniques
 * as T1059.001), coloured detected / not detected / not played, scored with the share of its
 * played tests that were detected (0-100), the rules in the comment.
 */
export function toCoverageLayer(r: CoverageResult, name = 'arcsim coverage: Atomic Red Team × rules'): Record<string, unknown> {
  const title = titler(r);
  const techniques = r.techniques.map((t) => {
    const p = played(t);
    const d = detectedTests(t);
    const base = { techniqueID: t.id, enabled: true, showSubtechniques: true };
    if (p.length === 0) {
      return { ...base, color: COVERAGE_COLORS.notPlayed, comment: `${t.tests.length} Atomic test(s), none arcsim can play (${t.tests.map((x) => x.reason).filter(Boolean)[0] ?? 'refused'})` };
    }
    return {
      ...base,
      score: Math.round((d.length / p.length) * 100),
      color: t.detected ? COVERAGE_COLORS.detected : COVERAGE_COLORS.missed,
      comment: t.detected
        ? `${d.length} of ${p.length} played Atomic test(s) detected, by ${title(t.rules).join('; ')}`
        : `${p.length} Atomic test(s) played, none detected`,
      metadata: [
        { name: 'tests played', value: String(p.length) },
        { name: 'tests detected', value: String(d.length) },
        ...t.rules.map((id) => ({ name: 'rule', value: `${title([id])[0]} (${id})` })),
      ],
    };
  });
  return {
    name,
    versions: { attack: '16', navigator: '5.1.0', layer: '4.5' },
    domain: 'enterprise-attack',
    description: `Atomic Red Team tests played by arcsim (synthetic events, nothing executed) against the rules of ${r.rulesDirs.join(', ')}: ${r.totals.testsDetected} of ${r.totals.testsPlayed} played tests detected.`,
    filters: { platforms: ['Windows', 'Linux'] },
    sorting: 3,
    layout: { layout: 'side', aggregateFunction: 'max', showID: true, showName: true, showAggregateScores: false, countUnscored: false, expandedSubtechniques: 'annotated' },
    hideDisabled: false,
    techniques,
    gradient: { colors: [COVERAGE_COLORS.missed, COVERAGE_COLORS.detected], minValue: 0, maxValue: 100 },
    legendItems: [
      { label: 'detected by at least one rule', color: COVERAGE_COLORS.detected },
      { label: 'played, not detected', color: COVERAGE_COLORS.missed },
      { label: 'no Atomic test arcsim can play', color: COVERAGE_COLORS.notPlayed },
    ],
    metadata: [
      { name: 'tests played', value: String(r.totals.testsPlayed) },
      { name: 'tests detected', value: String(r.totals.testsDetected) },
      { name: 'rules loaded', value: String(r.totals.rulesLoaded) },
      { name: 'rules refused', value: String(r.totals.rulesRefused) },
    ],
    showTacticRowBackground: false,
    selectTechniquesAcrossTactics: true,
    selectSubtechniquesWithParent: false,
    selectVisibleTechniques: false,
  };
}

/** One line of totals, as the table and the Markdown print it. */
export function coverageSummary(r: CoverageResult): string {
  const t = r.totals;
  return `${t.techniquesDetected} of ${t.techniquesPlayed} techniques detected (${t.techniques} technique files, ${t.techniquesPlayed} with a playable test); `
    + `${t.testsDetected} of ${t.testsPlayed} tests detected (${t.testsRefused} of ${t.tests} tests refused by the importer); `
    + `${t.events} events, ${t.alerts} alerts, ${t.rulesFired} of ${t.rulesLoaded} rules fired (${t.rulesRefused} refused)`
    + `${t.otherPlatformHits ? `, ${t.otherPlatformHits} hits of rules for another OS not counted` : ''}; ${(t.durationMs / 1000).toFixed(1)} s`;
}

/** The default output: one row per technique, then the totals. */
export function toCoverageTable(r: CoverageResult): string {
  const title = titler(r);
  const rows = r.techniques.map((t) => ({
    technique: t.id,
    name: t.name.length > 40 ? `${t.name.slice(0, 39)}…` : t.name,
    played: `${played(t).length}/${t.tests.length}`,
    detected: played(t).length ? `${detectedTests(t).length}` : '-',
    rules: t.rules.length > 2 ? `${title(t.rules.slice(0, 2)).join(', ')} +${t.rules.length - 2}` : title(t.rules).join(', '),
  }));
  const out = [table(rows, ['technique', 'name', 'played', 'detected', 'rules']), '', coverageSummary(r)];
  if (r.refusedFiles.length) out.push(`${r.refusedFiles.length} technique file(s) refused: ${r.refusedFiles.map((f) => f.file).join(', ')} (see --json or --report)`);
  return out.join('\n') + '\n';
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const mdTable = (head: string[], rows: string[][]) =>
  [`| ${head.map(cell).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');

/** The Markdown report: totals, per technique, per test (rules that fired or why it was refused), rules. */
export function toCoverageMarkdown(r: CoverageResult): string {
  const title = titler(r);
  const out: string[] = ['# arcsim coverage: Atomic Red Team × rules', ''];
  out.push(`- Atomics: \`${r.atomicsDir}\``, `- Rules: ${r.rulesDirs.map((d) => `\`${d}\``).join(', ')}`, `- ${coverageSummary(r)}`, '');
  out.push('Every test is played as synthetic events (the process each executor would start, with its command line); nothing is executed.', '');
  out.push('## Techniques', '');
  out.push(mdTable(['technique', 'name', 'tests played', 'tests detected', 'rules'], r.techniques.map((t) => [
    t.id, t.name, `${played(t).length} / ${t.tests.length}`, played(t).length ? String(detectedTests(t).length) : '—', title(t.rules).join(', ') || '—',
  ])), '');
  out.push('## Tests', '');
  out.push(mdTable(['technique', '#', 'test', 'platform', 'result', 'rules or reason'], r.techniques.flatMap((t) => t.tests.map((x) => [
    t.id, String(x.number), x.name, x.platform ?? '—',
    x.status === 'refused' ? 'refused' : x.detected ? 'detected' : 'not detected',
    x.status === 'refused' ? x.reason ?? '' : `${title(x.rules).join(', ') || '—'}${x.otherPlatformRules.length ? ` (other OS, not counted: ${x.otherPlatformRules.join(', ')})` : ''}`,
  ]))), '');
  out.push('## Rules that fired', '');
  out.push(r.rules.length ? mdTable(['rule', 'title', 'tests'], r.rules.map((x) => [x.id, x.title, String(x.tests)])) : '_No rule fired._', '');
  if (r.refusedFiles.length) {
    out.push('## Technique files refused', '');
    for (const f of r.refusedFiles) out.push(`- \`${f.file}\`: ${f.reason}`);
    out.push('');
  }
  if (r.refusedRules.length) {
    out.push('## Rules refused', '', `${r.refusedRules.length} rule(s) did not load (the others were used); \`arcsim rules check ${r.rulesDirs.join(' ')}\` lists them with the reason.`, '');
  }
  return out.join('\n');
}

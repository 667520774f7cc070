import type { RunResult } from '../../protocol/index.ts';

/** Colours of the layer: detected, exercised but not detected. */
const DETECTED = '#31a354';
const MISSED = '#e6550d';

/**
 * An ATT&CK Navigator layer (layer format 4.5): every technique an attack run exercised, scored
 * 1 when an alert of the run detected it and 0 when none did (colours to match), with the
 * scenarios and alert types in the comment. Techniques only seen on alerts are included as detected.
 */
export function toNavigatorLayer(r: RunResult): Record<string, unknown> {
  const attack = r.cells.filter((c) => c.kind === 'scenario' && c.variant === 'attack' && c.detonationIds.length > 0);
  const ids = [...new Set([...r.coverage.exercised, ...r.coverage.detected])].sort();
  const techniques = ids.map((id) => {
    const by = [...new Set(attack.filter((c) => c.techniques.includes(id)).map((c) => c.scenario!))];
    const alerts = [...new Set(attack.flatMap((c) => c.alerts.filter((a) => a.techniques.includes(id)).map((a) => a.alertType)))];
    const detected = r.coverage.detected.includes(id);
    return {
      techniqueID: id,
      score: detected ? 1 : 0,
      color: detected ? DETECTED : MISSED,
      comment: `${by.length ? `exercised by ${by.join(', ')}` : 'not exercised by a scenario'}; ${detected ? `detected by ${alerts.join(', ')}` : 'not detected'}`,
      enabled: true,
      metadata: [{ name: 'run', value: r.runId }],
      showSubtechniques: true,
    };
  });
  return {
    name: `arcsim ${r.suite.name}`,
    versions: { attack: '16', navigator: '5.1.0', layer: '4.5' },
    domain: 'enterprise-attack',
    description: `Techniques exercised and detected in arcsim test run ${r.runId} (${r.startedAt}).`,
    filters: { platforms: ['Linux', 'Windows'] },
    sorting: 0,
    layout: { layout: 'side', aggregateFunction: 'average', showID: true, showName: true, showAggregateScores: false, countUnscored: false },
    hideDisabled: false,
    techniques,
    gradient: { colors: [MISSED, DETECTED], minValue: 0, maxValue: 1 },
    legendItems: [{ label: 'exercised and detected', color: DETECTED }, { label: 'exercised, not detected', color: MISSED }],
    metadata: [{ name: 'runId', value: r.runId }, { name: 'controlPlane', value: r.controlPlane }],
    showTacticRowBackground: false,
    selectTechniquesAcrossTactics: true,
    selectSubtechniquesWithParent: false,
    selectVisibleTechniques: false,
  };
}

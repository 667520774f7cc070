import type { AssessmentRow, Store } from '../../store/index.ts';
import { RECOMMENDATION_BY_KEY, secureScores } from '../../inventory/recommendations.ts';
import { PLANS } from '../../inventory/plans.ts';

export interface RecommendationView {
  key: string;
  displayName: string;
  severity: 'High' | 'Medium' | 'Low';
  remediation: string;
  unhealthy: AssessmentRow[];
  healthy: number;
  notApplicable: number;
}

/**
 * Recommendations with their affected resources and the secure score per subscription, from the
 * stored assessments (one per recommendation and resource: the fleet's size, never the alerts').
 */
export async function posture(store: Store): Promise<{ recommendations: RecommendationView[]; scores: ReturnType<typeof secureScores> }> {
  const rows = await store.inventory.listAssessments();
  const byKey = new Map<string, RecommendationView>();
  for (const r of rows) {
    const rec = RECOMMENDATION_BY_KEY.get(r.assessmentKey);
    const v = byKey.get(r.assessmentKey) ?? {
      key: r.assessmentKey, displayName: rec?.displayName ?? r.assessmentKey, severity: rec?.severity ?? 'Low', remediation: rec?.remediation ?? '',
      unhealthy: [], healthy: 0, notApplicable: 0,
    };
    if (r.details.notApplicable) v.notApplicable++;
    else if (r.status === 'Unhealthy') v.unhealthy.push(r);
    else v.healthy++;
    byKey.set(r.assessmentKey, v);
  }
  const rank = { High: 0, Medium: 1, Low: 2 } as const;
  const recommendations = [...byKey.values()].sort((a, b) => rank[a.severity] - rank[b.severity] || b.unhealthy.length - a.unhealthy.length || a.displayName.localeCompare(b.displayName));
  return { recommendations, scores: secureScores(rows) };
}

/** The Defender plans switched on, by scope. */
export async function plansOn(store: Store): Promise<Array<{ scope: string; plan: string; subPlan: string | null }>> {
  return (await store.inventory.listPlans()).filter((p) => p.enabled).map((p) => ({
    scope: `${p.scopeKind === 'connector' ? 'Connector' : 'Subscription'} ${p.scope}`,
    plan: PLANS[p.plan as keyof typeof PLANS]?.displayName ?? p.plan,
    subPlan: p.subPlan,
  }));
}

import type { AssessmentRow, Store } from '../../store/index.ts';
import { RECOMMENDATION_BY_KEY, secureScoresOf, type SecureScore } from '../../inventory/recommendations.ts';
import { PLANS } from '../../inventory/plans.ts';

export interface RecommendationView {
  key: string;
  displayName: string;
  severity: 'High' | 'Medium' | 'Low';
  remediation: string;
  /** Unhealthy (applicable) resources: how many, and the window of them asked for (by resource id). */
  unhealthyCount: number;
  unhealthy: AssessmentRow[];
  healthy: number;
  notApplicable: number;
}

const RANK = { High: 0, Medium: 1, Low: 2 } as const;

/**
 * Recommendations with their counts and the secure score per subscription, from assessment counts
 * grouped in SQL (never every assessment row), most severe first, then most unhealthy, then by name.
 * `unhealthy` is left empty: fillAffected reads a page of it for the recommendations shown.
 */
export async function posture(store: Store): Promise<{ recommendations: RecommendationView[]; scores: SecureScore[] }> {
  const counts = await store.inventory.assessmentCounts();
  const byKey = new Map<string, RecommendationView>();
  for (const c of counts) {
    const rec = RECOMMENDATION_BY_KEY.get(c.assessmentKey);
    const v = byKey.get(c.assessmentKey) ?? {
      key: c.assessmentKey, displayName: rec?.displayName ?? c.assessmentKey, severity: rec?.severity ?? 'Low', remediation: rec?.remediation ?? '',
      unhealthyCount: 0, unhealthy: [], healthy: 0, notApplicable: 0,
    };
    if (c.notApplicable) v.notApplicable += c.count;
    else if (c.status === 'Unhealthy') v.unhealthyCount += c.count;
    else v.healthy += c.count;
    byKey.set(c.assessmentKey, v);
  }
  const recommendations = [...byKey.values()].sort((a, b) => RANK[a.severity] - RANK[b.severity] || b.unhealthyCount - a.unhealthyCount || a.displayName.localeCompare(b.displayName));
  return { recommendations, scores: secureScoresOf(counts) };
}

/** Fills each view's `unhealthy` with its unhealthy resources `offset`..`offset + limit` (by resource id), in one query. */
export async function fillAffected(store: Store, views: RecommendationView[], page: { offset: number; limit: number }): Promise<void> {
  const byKey = new Map(views.map((v) => [v.key, v]));
  for (const row of await store.inventory.unhealthyAssessments([...byKey.keys()], page)) byKey.get(row.assessmentKey)?.unhealthy.push(row);
}

/** The Defender plans switched on, by scope. */
export async function plansOn(store: Store): Promise<Array<{ scope: string; plan: string; subPlan: string | null }>> {
  return (await store.inventory.listPlans()).filter((p) => p.enabled).map((p) => ({
    scope: `${p.scopeKind === 'connector' ? 'Connector' : 'Subscription'} ${p.scope}`,
    plan: PLANS[p.plan as keyof typeof PLANS]?.displayName ?? p.plan,
    subPlan: p.subPlan,
  }));
}

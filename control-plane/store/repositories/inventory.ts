import { sql, sqlPer, Where, type DialectSql } from '../sql.ts';
import {
  bit, toAssessment, toAsset, toConnector, toCspmResource, toPlan, toSnapshot,
  type AssessmentCols, type AssetCols, type ConnectorCols, type CspmResourceCols, type PlanCols, type SnapshotCols,
} from '../row-decoding.ts';
import type {
  AssessmentCount, AssessmentRow, AssetPageQuery, AssetRow, ConnectorRow, CspmResourceRow, InventoryRepository, PlanRow, SnapshotLogRow,
} from '../store.ts';
import { RepositoryBase } from './base.ts';
import { instanceMergeKeys } from '../merge-keys.ts';
import { MERGE_KEYS_Q, writeMergeKeys } from './merge-keys.ts';

/** An asset's sources as one JSON column, so an asset and its sources come from one statement (one snapshot). */
const assetSources = (d: DialectSql): string =>
  `${d.jsonArray({ kind: 'x.source_kind', id: 'x.source_id' }, 'asset_sources x WHERE x.asset_id = a.asset_id', 'x.source_kind, x.source_id')} AS sources`;

const Q = {
  upsertConnector: sql(`INSERT INTO connectors (name, provider, account_id, subscription, resource_group, location, config, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, account_id = excluded.account_id,
                          subscription = excluded.subscription, resource_group = excluded.resource_group, location = excluded.location,
                          config = excluded.config, updated_at = excluded.updated_at`),
  getConnector: sql(`SELECT * FROM connectors WHERE name = ?`),
  listConnectors: sql(`SELECT * FROM connectors ORDER BY name`),
  upsertResource: sql(`INSERT INTO cspm_resources (connector, kind, native_id, resource_id, name, region, state, data, first_seen, last_seen, deleted_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (connector, kind, native_id) DO UPDATE SET resource_id = excluded.resource_id, name = excluded.name,
                         region = excluded.region, state = excluded.state, data = excluded.data, last_seen = excluded.last_seen,
                         deleted_at = excluded.deleted_at`),
  addSnapshot: sql(`INSERT INTO cspm_snapshots (connector, kind, source, taken_at, resources, added, changed, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  snapshots: sql(`SELECT * FROM cspm_snapshots WHERE connector = ? ORDER BY id`),
  assetOf: sql((d) => `SELECT a.*, ${assetSources(d)} FROM asset_sources s JOIN assets a ON a.asset_id = s.asset_id
                       WHERE s.source_kind = ? AND s.source_id = ?`),
  assetKeyOf: sql(`SELECT a.asset_key FROM asset_sources s JOIN assets a ON a.asset_id = s.asset_id WHERE s.source_kind = ? AND s.source_id = ?`),
  assetsOfSources: sql((d) => `SELECT a.*, ${assetSources(d)} FROM assets a WHERE a.asset_id IN (
                       SELECT s.asset_id FROM asset_sources s WHERE (s.source_kind = 'arc' AND ${d.inList('s.source_id')})
                         OR (s.source_kind = 'cspm' AND ${d.inList('s.source_id')})) ORDER BY a.asset_key`),
  resourcesByIds: sql((d) => `SELECT * FROM cspm_resources WHERE ${d.inList('resource_id')} ORDER BY connector, kind, native_id`),
  deleteSourcesOf: sql((d) => `DELETE FROM asset_sources WHERE ${d.inList('asset_id')}`),
  deleteAssetsIn: sql((d) => `DELETE FROM assets WHERE ${d.inList('asset_id')}`),
  assessmentsFor: sql((d) => `SELECT * FROM assessments WHERE ${d.inList('resource_id')} ORDER BY assessment_key, resource_id`),
  listAssets: sql((d) => `SELECT a.*, ${assetSources(d)} FROM assets a ORDER BY a.asset_key`),
  countAssets: sql(`SELECT COUNT(*) AS n FROM assets`),
  // Recommendations: counts per recommendation, subscription and state; a not-applicable row has
  // details.notApplicable true (JSON true is 1 to SQLite's json_extract).
  assessmentCounts: sqlPer({
    sqlite: `SELECT assessment_key, subscription, status, COALESCE(json_extract(details, '$.notApplicable'), 0) = 1 AS na, COUNT(*) AS n
             FROM assessments GROUP BY assessment_key, subscription, status, na ORDER BY assessment_key, subscription, status, na`,
    postgres: `SELECT assessment_key, subscription, status, COALESCE(details->>'notApplicable', '') = 'true' AS na, COUNT(*) AS n
               FROM assessments GROUP BY assessment_key, subscription, status, na ORDER BY assessment_key, subscription, status, na`,
  }),
  // The first `limit` unhealthy (applicable) resources of each recommendation after `offset`, on the (key, resource) key.
  unhealthyAssessments: sqlPer({
    sqlite: `SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY assessment_key ORDER BY resource_id) AS rn FROM assessments a
             WHERE a.status = 'Unhealthy' AND COALESCE(json_extract(a.details, '$.notApplicable'), 0) <> 1 AND a.assessment_key IN (SELECT value FROM json_each(?)))
             WHERE rn > ? AND rn <= ? ORDER BY assessment_key, resource_id`,
    postgres: `SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY assessment_key ORDER BY resource_id) AS rn FROM assessments a
               WHERE a.status = 'Unhealthy' AND COALESCE(a.details->>'notApplicable', '') <> 'true' AND a.assessment_key IN (SELECT json_array_elements_text(?::json))) x
               WHERE rn > ? AND rn <= ? ORDER BY assessment_key, resource_id`,
  }),
  deleteAssetSources: sql(`DELETE FROM asset_sources`),
  deleteAssets: sql(`DELETE FROM assets`),
  insertAssets: sql((d) => `INSERT INTO assets (asset_id, asset_key, confidence, conflicts, reasons, updated_at)
                   SELECT asset_id, asset_key, confidence, conflicts, reasons, updated_at
                   FROM ${d.jsonRows('x', { asset_id: 'text', asset_key: 'text', confidence: 'text', conflicts: 'json', reasons: 'json', updated_at: 'bigint' })}`),
  insertAssetSources: sql((d) => `INSERT INTO asset_sources (source_kind, source_id, asset_id)
                   SELECT source_kind, source_id, asset_id FROM ${d.jsonRows('x', { source_kind: 'text', source_id: 'text', asset_id: 'text' })}`),
  setPlan: sql(`INSERT INTO plans (scope_kind, scope, plan, sub_plan, enabled, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (scope_kind, scope, plan) DO UPDATE SET sub_plan = excluded.sub_plan, enabled = excluded.enabled,
                  updated_at = excluded.updated_at`),
  listPlans: sql(`SELECT * FROM plans ORDER BY scope_kind, scope, plan`),
  listAssessments: sql(`SELECT * FROM assessments ORDER BY assessment_key, resource_id`),
  upsertAssessment: sql(`INSERT INTO assessments (assessment_key, resource_id, subscription, status, details, first_seen, status_changed)
                         VALUES (?, ?, ?, ?, ?, ?, ?)
                         ON CONFLICT (assessment_key, resource_id) DO UPDATE SET subscription = excluded.subscription,
                           status = excluded.status, details = excluded.details, status_changed = excluded.status_changed`),
};

/** Asset merge: read the previous merge, recompute, replace it (see listAssets / replaceAssets). */
const ASSETS_LOCK = 'arcsim:assets';

export class InventoryRepo extends RepositoryBase implements InventoryRepository {
  async upsertConnector(c: ConnectorRow): Promise<void> {
    await this.ex.run(Q.upsertConnector, [
      c.name, c.provider, c.accountId, c.subscription, c.resourceGroup, c.location, JSON.stringify(c.config), c.createdAt, c.updatedAt,
    ]);
  }

  async getConnector(name: string): Promise<ConnectorRow | undefined> {
    const r = await this.ex.get<ConnectorCols>(Q.getConnector, [name]);
    return r && toConnector(r);
  }

  async listConnectors(): Promise<ConnectorRow[]> {
    return (await this.ex.all<ConnectorCols>(Q.listConnectors)).map(toConnector);
  }

  async listCspmResources(f: { connector?: string; kind?: string; includeDeleted?: boolean } = {}): Promise<CspmResourceRow[]> {
    const w = new Where().when(f.connector, 'connector = ?').when(f.kind, 'kind = ?');
    if (!f.includeDeleted) w.raw('deleted_at IS NULL');
    const q = sql(`SELECT * FROM cspm_resources ${w} ORDER BY connector, kind, native_id`);
    return (await this.ex.all<CspmResourceCols>(q, w.args)).map(toCspmResource);
  }

  async upsertCspmResource(r: CspmResourceRow): Promise<void> {
    // The resource and, for an instance, its merge keys (merge_keys) are written together.
    await this.ex.atomic(async (ex) => {
      await ex.run(Q.upsertResource, [
        r.connector, r.kind, r.nativeId, r.resourceId, r.name, r.region, r.state, JSON.stringify(r.data), r.firstSeen, r.lastSeen, r.deletedAt,
      ]);
      const keys = instanceMergeKeys(r);
      if (keys.length) await writeMergeKeys(ex, 'cspm', r.resourceId, keys);
    });
  }

  async cspmResourcesByResourceIds(resourceIds: string[]): Promise<CspmResourceRow[]> {
    if (resourceIds.length === 0) return [];
    return (await this.ex.all<CspmResourceCols>(Q.resourcesByIds, [JSON.stringify(resourceIds)])).map(toCspmResource);
  }

  async mergeItemsWithKeys(keys: string[]): Promise<Array<{ kind: 'arc' | 'cspm'; id: string }>> {
    if (keys.length === 0) return [];
    const rows = await this.ex.all<{ item_kind: 'arc' | 'cspm'; item_id: string }>(MERGE_KEYS_Q.itemsWith, [JSON.stringify(keys)]);
    return rows.map((r) => ({ kind: r.item_kind, id: r.item_id }));
  }

  async replaceMergeKeys(items: Array<{ kind: 'arc' | 'cspm'; id: string; keys: string[] }>): Promise<void> {
    await this.ex.atomic(async (ex) => {
      await ex.run(MERGE_KEYS_Q.deleteAll);
      const rows = items.flatMap((i) => i.keys.map((k) => ({ item_kind: i.kind, item_id: i.id, merge_key: k })));
      if (rows.length) await ex.run(MERGE_KEYS_Q.insert, [JSON.stringify(rows)]);
    });
  }

  async assetsOfSources(sources: Array<{ kind: 'arc' | 'cspm'; id: string }>): Promise<AssetRow[]> {
    // Starts a partial read-compute-replace of the merge: the same lock as listAssets.
    await this.ex.lock(ASSETS_LOCK);
    if (sources.length === 0) return [];
    const ids = (kind: string) => JSON.stringify(sources.filter((s) => s.kind === kind).map((s) => s.id));
    return (await this.ex.all<AssetCols>(Q.assetsOfSources, [ids('arc'), ids('cspm')])).map(toAsset);
  }

  async replaceAssetsOf(previousAssetIds: string[], assets: AssetRow[]): Promise<void> {
    await this.ex.atomic(async (ex) => {
      await ex.lock(ASSETS_LOCK);
      const ids = [...new Set([...previousAssetIds, ...assets.map((a) => a.assetId)])];
      if (ids.length) {
        await ex.run(Q.deleteSourcesOf, [JSON.stringify(ids)]);
        await ex.run(Q.deleteAssetsIn, [JSON.stringify(ids)]);
      }
      if (assets.length === 0) return;
      await ex.run(Q.insertAssets, [JSON.stringify(assets.map((a) => ({
        asset_id: a.assetId, asset_key: a.assetKey, confidence: a.confidence, conflicts: a.conflicts, reasons: a.reasons, updated_at: a.updatedAt,
      })))]);
      const sources = assets.flatMap((a) => a.sources.map((s) => ({ source_kind: s.kind, source_id: s.id, asset_id: a.assetId })));
      if (sources.length > 0) await ex.run(Q.insertAssetSources, [JSON.stringify(sources)]);
    });
  }

  async listAssessmentsFor(resourceIds: string[]): Promise<AssessmentRow[]> {
    if (resourceIds.length === 0) return [];
    return (await this.ex.all<AssessmentCols>(Q.assessmentsFor, [JSON.stringify(resourceIds)])).map(toAssessment);
  }

  async addSnapshotLog(r: SnapshotLogRow): Promise<void> {
    await this.ex.run(Q.addSnapshot, [r.connector, r.kind, r.source, r.takenAt, r.resources, r.added, r.changed, r.deleted]);
  }

  async listSnapshotLog(connector: string): Promise<SnapshotLogRow[]> {
    return (await this.ex.all<SnapshotCols>(Q.snapshots, [connector])).map(toSnapshot);
  }

  async assetOfSource(kind: 'arc' | 'cspm', sourceId: string): Promise<AssetRow | undefined> {
    const r = await this.ex.get<AssetCols>(Q.assetOf, [kind, sourceId]);
    return r && toAsset(r);
  }

  async assetKeyOfSource(kind: 'arc' | 'cspm', sourceId: string): Promise<string | undefined> {
    return (await this.ex.get<{ asset_key: string }>(Q.assetKeyOf, [kind, sourceId]))?.asset_key;
  }

  async listAssets(): Promise<AssetRow[]> {
    // Inside a transaction this starts the merge's read-compute-replace: take the assets lock so
    // two replicas recomputing at once take turns (the second then replaces what the first wrote).
    await this.ex.lock(ASSETS_LOCK);
    return (await this.ex.all<AssetCols>(Q.listAssets)).map(toAsset);
  }

  async pageAssets(q: AssetPageQuery): Promise<{ rows: AssetRow[]; total: number; all: number }> {
    const pg = this.ex.dialect === 'postgres';
    const provider = pg ? `(m.facts->'cloudMetadata'->>'provider')` : `json_extract(m.facts, '$.cloudMetadata.provider')`;
    // '?' (a resource whose connector is gone), spelled without a literal ? (that is a placeholder here).
    const unknown = pg ? 'chr(63)' : 'char(63)';
    // One row per source the asset's sources resolve to (an Arc machine, or a CSPM resource and its
    // connector), with what the inventory shows of it: the view's name, cloud and source kind.
    const src = `SELECT s.asset_id, s.source_id, m.resource_id AS m_rid, m.name AS m_name, m.status AS m_status,
        r.resource_id AS r_rid, r.name AS r_name, r.deleted_at AS r_deleted,
        CASE WHEN m.resource_id IS NOT NULL THEN (CASE WHEN ${provider} = 'N/A' THEN 'On-premises' ELSE ${provider} END)
             WHEN r.resource_id IS NOT NULL THEN COALESCE(c.provider, ${unknown}) END AS cloud,
        CASE WHEN m.resource_id IS NOT NULL THEN 'Arc' WHEN r.resource_id IS NOT NULL THEN COALESCE(c.provider, 'AWS') END AS kind
      FROM asset_sources s
      LEFT JOIN machines m ON s.source_kind = 'arc' AND m.resource_id = s.source_id
      LEFT JOIN cspm_resources r ON s.source_kind = 'cspm' AND r.resource_id = s.source_id
      LEFT JOIN connectors c ON c.name = r.connector`;
    const first = (col: string, cond: string) => `(SELECT x.${col} FROM src x WHERE x.asset_id = a.asset_id AND ${cond} ORDER BY x.source_id LIMIT 1)`;
    const clouds = pg
      ? `(SELECT string_agg(DISTINCT x.cloud, ',' ORDER BY x.cloud) FROM src x WHERE x.asset_id = a.asset_id)`
      : `(SELECT group_concat(DISTINCT x.cloud ORDER BY x.cloud) FROM src x WHERE x.asset_id = a.asset_id)`;
    // The view of each asset (data/inventory.ts assetView): the name of its first live CSPM
    // resource, else of its Arc machine, else of any CSPM resource, else its key.
    const view = `WITH src AS (${src}), v AS (SELECT a.asset_id, a.asset_key, a.confidence,
        COALESCE(${first('r_name', 'x.r_rid IS NOT NULL AND x.r_deleted IS NULL')}, ${first('m_name', 'x.m_rid IS NOT NULL')}, ${first('r_name', 'x.r_rid IS NOT NULL')}, a.asset_key) AS name,
        ${first('m_status', 'x.m_rid IS NOT NULL')} AS arc_status,
        COALESCE(${clouds}, '') AS clouds,
        (SELECT COUNT(*) FROM src x WHERE x.asset_id = a.asset_id AND x.kind IS NOT NULL) AS n_sources
      FROM assets a)`;
    const w = new Where()
      .when(q.source, 'EXISTS (SELECT 1 FROM src x WHERE x.asset_id = v.asset_id AND x.kind = ?)')
      .when(q.cloud, 'EXISTS (SELECT 1 FROM src x WHERE x.asset_id = v.asset_id AND x.cloud = ?)')
      .when(q.confidence, 'v.confidence = ?');
    if (q.arcStatus === 'none') w.raw('v.arc_status IS NULL');
    else w.when(q.arcStatus, 'v.arc_status = ?');
    if (q.search) {
      const like = `%${q.search.toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
      const l = (c: string) => `LOWER(${c}) LIKE ? ESCAPE '\\'`;
      w.raw(`(${l('v.name')} OR EXISTS (SELECT 1 FROM src x WHERE x.asset_id = v.asset_id AND x.kind IS NOT NULL AND (${l('x.m_name')} OR ${l('x.m_rid')} OR ${l('x.r_name')} OR ${l('x.r_rid')})))`);
      w.args.push(like, like, like, like, like);
    }
    const dir = q.dir === 'asc' ? 'ASC' : 'DESC';
    const key = {
      name: 'LOWER(v.name)',
      confidence: `CASE v.confidence WHEN 'strong' THEN 2 WHEN 'probable' THEN 1 ELSE 0 END`,
      arcStatus: `COALESCE(v.arc_status, '')`,
      cloud: 'v.clouds',
      sources: 'v.n_sources',
    }[q.sort];
    // Ties: by name in the same direction, then the merge's own order (asset key).
    const [rows, total, all] = await Promise.all([
      this.ex.all<AssetCols>(sql((d) => `${view} SELECT a.*, ${assetSources(d)} FROM v JOIN assets a ON a.asset_id = v.asset_id ${w}
        ORDER BY ${key} ${dir}, LOWER(v.name) ${dir}, v.name ${dir}, v.asset_key LIMIT ? OFFSET ?`), [...w.args, q.limit, q.offset]),
      this.ex.get<{ n: number | string }>(sql(`${view} SELECT COUNT(*) AS n FROM v ${w}`), w.args),
      this.ex.get<{ n: number | string }>(Q.countAssets),
    ]);
    return { rows: rows.map(toAsset), total: Number(total?.n ?? 0), all: Number(all?.n ?? 0) };
  }

  async replaceAssets(assets: AssetRow[]): Promise<void> {
    // Several statements (a delete and an insert of the same key must not share one), made atomic.
    await this.ex.atomic(async (ex) => {
      await ex.lock(ASSETS_LOCK);
      await ex.run(Q.deleteAssetSources);
      await ex.run(Q.deleteAssets);
      if (assets.length === 0) return;
      await ex.run(Q.insertAssets, [JSON.stringify(assets.map((a) => ({
        asset_id: a.assetId, asset_key: a.assetKey, confidence: a.confidence, conflicts: a.conflicts, reasons: a.reasons, updated_at: a.updatedAt,
      })))]);
      const sources = assets.flatMap((a) => a.sources.map((s) => ({ source_kind: s.kind, source_id: s.id, asset_id: a.assetId })));
      if (sources.length > 0) await ex.run(Q.insertAssetSources, [JSON.stringify(sources)]);
    });
  }

  async setPlan(p: PlanRow): Promise<void> {
    await this.ex.run(Q.setPlan, [p.scopeKind, p.scope, p.plan, p.subPlan, bit(p.enabled), p.updatedAt]);
  }

  async listPlans(): Promise<PlanRow[]> {
    return (await this.ex.all<PlanCols>(Q.listPlans)).map(toPlan);
  }

  async listAssessments(): Promise<AssessmentRow[]> {
    return (await this.ex.all<AssessmentCols>(Q.listAssessments)).map(toAssessment);
  }

  async assessmentCounts(): Promise<AssessmentCount[]> {
    const rows = await this.ex.all<{ assessment_key: string; subscription: string; status: AssessmentRow['status']; na: number | boolean; n: number | string }>(Q.assessmentCounts);
    return rows.map((r) => ({ assessmentKey: r.assessment_key, subscription: r.subscription, status: r.status, notApplicable: r.na === true || r.na === 1, count: Number(r.n) }));
  }

  async unhealthyAssessments(keys: string[], page: { offset: number; limit: number }): Promise<AssessmentRow[]> {
    if (keys.length === 0) return [];
    const rows = await this.ex.all<AssessmentCols>(Q.unhealthyAssessments, [JSON.stringify(keys), page.offset, page.offset + page.limit]);
    return rows.map(toAssessment);
  }

  async upsertAssessment(a: AssessmentRow): Promise<void> {
    await this.ex.run(Q.upsertAssessment, [
      a.assessmentKey, a.resourceId, a.subscription, a.status, JSON.stringify(a.details), a.firstSeen, a.statusChanged,
    ]);
  }
}

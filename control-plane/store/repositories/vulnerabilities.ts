import { sql } from '../sql.ts';
import type { AdvisoryRow, VulnerabilitiesRepository } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  modified: sql((d) => `SELECT id, modified FROM osv_advisories WHERE ${d.inList('id')}`),
  upsert: sql(`INSERT INTO osv_advisories (id, modified, imported_at, body) VALUES (?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, imported_at = excluded.imported_at, body = excluded.body`),
  clearAffected: sql(`DELETE FROM osv_affected WHERE advisory_id = ?`),
  addAffected: sql(`INSERT INTO osv_affected (ecosystem, name, advisory_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
  forPackages: sql((d) => `SELECT DISTINCT a.id, a.modified, a.imported_at, a.body FROM osv_affected f
                           JOIN osv_advisories a ON a.id = f.advisory_id WHERE f.ecosystem = ? AND ${d.inList('f.name')} ORDER BY a.id`),
  count: sql(`SELECT COUNT(*) AS n FROM osv_advisories`),
};

interface AdvisoryCols { id: string; modified: string; imported_at: number | string; body: string }
const toRow = (r: AdvisoryCols): AdvisoryRow => ({ id: r.id, modified: r.modified, importedAt: Number(r.imported_at), body: JSON.parse(r.body) as Record<string, unknown> });

export class VulnerabilitiesRepo extends RepositoryBase implements VulnerabilitiesRepository {
  async putAdvisories(rows: AdvisoryRow[], affected: (row: AdvisoryRow) => Array<{ ecosystem: string; name: string }>): Promise<{ stored: number; unchanged: number }> {
    if (rows.length === 0) return { stored: 0, unchanged: 0 };
    return this.ex.atomic(async (tx) => {
      const known = new Map<string, string>();
      for (let i = 0; i < rows.length; i += 500) {
        const ids = rows.slice(i, i + 500).map((r) => r.id);
        for (const r of await tx.all<{ id: string; modified: string }>(Q.modified, [JSON.stringify(ids)])) known.set(r.id, r.modified);
      }
      let stored = 0;
      for (const r of rows) {
        const before = known.get(r.id);
        // The record already held is as new or newer: keep it (RFC 3339 UTC strings compare as times).
        if (before !== undefined && Date.parse(before) >= Date.parse(r.modified)) continue;
        await tx.run(Q.upsert, [r.id, r.modified, r.importedAt, JSON.stringify(r.body)]);
        await tx.run(Q.clearAffected, [r.id]);
        for (const p of affected(r)) await tx.run(Q.addAffected, [p.ecosystem, p.name, r.id]);
        stored++;
      }
      return { stored, unchanged: rows.length - stored };
    });
  }

  async advisoriesFor(ecosystem: string, names: string[]): Promise<AdvisoryRow[]> {
    const out = new Map<string, AdvisoryRow>();
    for (let i = 0; i < names.length; i += 1000) {
      for (const r of await this.ex.all<AdvisoryCols>(Q.forPackages, [ecosystem, JSON.stringify(names.slice(i, i + 1000))])) out.set(r.id, toRow(r));
    }
    return [...out.values()];
  }

  async countAdvisories(): Promise<number> {
    return Number((await this.ex.get<{ n: number | string }>(Q.count))!.n);
  }
}

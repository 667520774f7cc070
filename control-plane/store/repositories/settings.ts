import { sql, Where } from '../sql.ts';
import { toSyncAudit, type SyncAuditCols } from '../row-decoding.ts';
import type { SettingsRepository, SyncAuditRow } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  getSetting: sql(`SELECT value FROM settings WHERE key = ?`),
  setSetting: sql(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
  addSetting: sql(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`),
  addAudit: sql(`INSERT INTO sync_audit (at, subject, subject_id, product, from_status, to_status, origin_product, via_product, reason, field)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
};

export class SettingsRepo extends RepositoryBase implements SettingsRepository {
  async getSetting(key: string): Promise<string | undefined> {
    return (await this.ex.get<{ value: string }>(Q.getSetting, [key]))?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.ex.run(Q.setSetting, [key, value]);
  }

  async addSetting(key: string, value: string): Promise<boolean> {
    return (await this.ex.run(Q.addSetting, [key, value])) === 1;
  }

  async addSyncAudit(r: SyncAuditRow): Promise<void> {
    await this.ex.run(Q.addAudit, [r.at, r.subject, r.subjectId, r.product, r.fromStatus, r.toStatus, r.originProduct, r.viaProduct, r.reason, r.field ?? 'status']);
  }

  async listSyncAudit(f: { subject?: 'alert' | 'incident'; subjectId?: string } = {}): Promise<SyncAuditRow[]> {
    const w = new Where().when(f.subject, 'subject = ?').when(f.subjectId, 'subject_id = ?');
    return (await this.ex.all<SyncAuditCols>(sql(`SELECT * FROM sync_audit ${w} ORDER BY id`), w.args)).map(toSyncAudit);
  }
}

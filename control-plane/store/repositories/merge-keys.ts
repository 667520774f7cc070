import { sql } from '../sql.ts';
import type { Executor } from '../executor.ts';

/** The merge_keys table (migration 010): written with each machine and CSPM instance. */
export const MERGE_KEYS_Q = {
  deleteItem: sql(`DELETE FROM merge_keys WHERE item_kind = ? AND item_id = ?`),
  deleteOthers: sql((d) => `DELETE FROM merge_keys WHERE item_kind = ? AND item_id = ? AND NOT ${d.inList('merge_key')}`),
  deleteAll: sql(`DELETE FROM merge_keys`),
  insert: sql((d) => `INSERT INTO merge_keys (item_kind, item_id, merge_key)
                      SELECT item_kind, item_id, merge_key FROM ${d.jsonRows('x', { item_kind: 'text', item_id: 'text', merge_key: 'text' })}
                      WHERE true ON CONFLICT (item_kind, item_id, merge_key) DO NOTHING`),
  itemsWith: sql((d) => `SELECT DISTINCT item_kind, item_id FROM merge_keys WHERE ${d.inList('merge_key')} ORDER BY item_kind, item_id`),
};

/**
 * Replaces one item's keys (inside the caller's atomic block). Keys it already has are left in
 * place, so a reconnect of an unchanged machine changes no row.
 */
export async function writeMergeKeys(ex: Executor, kind: 'arc' | 'cspm', id: string, keys: string[]): Promise<void> {
  if (keys.length === 0) { await ex.run(MERGE_KEYS_Q.deleteItem, [kind, id]); return; }
  await ex.run(MERGE_KEYS_Q.deleteOthers, [kind, id, JSON.stringify(keys)]);
  await ex.run(MERGE_KEYS_Q.insert, [JSON.stringify(keys.map((k) => ({ item_kind: kind, item_id: id, merge_key: k })))]);
}

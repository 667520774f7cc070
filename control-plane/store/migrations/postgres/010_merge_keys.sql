-- arcsim store, version 10 (issue 12): the keys the asset merge links items by (instance ids,
-- hostname + private IP pairs, SMBIOS UUIDs, Arc resource ids), one row per (item, key), so a
-- registration finds the items that share a key with its machine without reading every machine.
-- Written with each machine and CSPM instance; a full recomputation rebuilds the table.

CREATE TABLE merge_keys (
  item_kind  TEXT NOT NULL,                -- 'arc' | 'cspm'
  item_id    TEXT NOT NULL,                -- the item's resource id
  merge_key  TEXT NOT NULL,                -- e.g. 'id:i-0abc', 'hostip:web01|10.0.0.5', 'uuid:…'
  PRIMARY KEY (item_kind, item_id, merge_key)
);
CREATE INDEX merge_keys_key ON merge_keys(merge_key);

import type { SensorEvent } from '../../protocol/index.ts';
import { parseRecording } from '../recording.ts';
import { toMdeRows, type MapOptions } from './mde-mapping.ts';
import { auditRecords, toKubernetesAuditRow } from './k8s-audit.ts';
import { decodeEvtxJson, decodeFlatJson, splitJsonValues, type RecordedFormat } from './windows-records.ts';

export { RECORDED_FORMATS, type RecordedFormat } from './windows-records.ts';
export { MAPPED_KEYS, mdeRegistryKey, deviceIdOf } from './mde-mapping.ts';
export { AuditEventSchema, toKubernetesAuditRow, type AuditEvent } from './k8s-audit.ts';

/** The cluster name k8s-audit rows carry when none is given (an audit event does not name its cluster). */
export const DEFAULT_AUDIT_CLUSTER = 'k8s-cluster';

export interface ReadOptions extends MapOptions {
  /** k8s-audit: the cluster the log is of (DeviceName of the rows). */
  cluster?: string;
}

/** What reading a recorded file gave: the MDE rows, and every record that gave none, counted. */
export interface RecordedRead {
  format: RecordedFormat;
  /** Records in the file. */
  records: number;
  /** Records mapped to MDE rows (a Sysmon 7 record gives two: the module's certificate row and the load). */
  mapped: number;
  /** Rows, in event-time order (rows of one record in the order the record gave them). */
  events: SensorEvent[];
  /** Records of a channel / event id arcsim does not map, per `Channel/EventID` (e.g. `Sysmon/10`). */
  unmapped: Record<string, number>;
  /** Records that could not be read or mapped, with the reason (first 20 kept; `skipped` counts all). */
  invalid: Array<{ record: number; reason: string }>;
  skipped: number;
}

/**
 * Reads a file of recorded events in `format`: arcsim NDJSON as it is, or Windows telemetry
 * (evtx_dump JSON, flattened dataset JSON) mapped to the MDE rows a sensor would record.
 */
export function readRecordedEvents(text: string, format: RecordedFormat, file = 'events', o: ReadOptions = {}): RecordedRead {
  if (format === 'arcsim') {
    const events = parseRecording(text, file);
    return { format, records: events.length, mapped: events.length, events, unmapped: {}, invalid: [], skipped: 0 };
  }
  if (format === 'k8s-audit') return readAuditLog(text, file, o);
  const decode = format === 'evtx-json' ? decodeEvtxJson : decodeFlatJson;
  const values = splitJsonValues(text, file);
  const out: RecordedRead = { format, records: values.length, mapped: 0, events: [], unmapped: {}, invalid: [], skipped: 0 };
  values.forEach((value, i) => {
    const record = decode(value);
    let reason: string | undefined;
    if (typeof record === 'string') reason = record;
    else {
      const r = toMdeRows(record, o);
      if ('rows' in r) {
        out.mapped++;
        out.events.push(...r.rows);
      }
      else if ('unmapped' in r) out.unmapped[r.unmapped] = (out.unmapped[r.unmapped] ?? 0) + 1;
      else reason = r.invalid;
    }
    if (reason !== undefined) {
      out.skipped++;
      if (out.invalid.length < 20) out.invalid.push({ record: i + 1, reason });
    }
  });
  out.events.sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp));
  return out;
}

/** A Kubernetes audit log (audit.k8s.io/v1 Events) as KubernetesAudit rows of one cluster. */
function readAuditLog(text: string, file: string, o: ReadOptions): RecordedRead {
  const values = auditRecords(splitJsonValues(text, file));
  const out: RecordedRead = { format: 'k8s-audit', records: values.length, mapped: 0, events: [], unmapped: {}, invalid: [], skipped: 0 };
  const cluster = o.cluster ?? DEFAULT_AUDIT_CLUSTER;
  values.forEach((value, i) => {
    const r = toKubernetesAuditRow(value, { cluster, ...(o.random ? { random: o.random } : {}) });
    if ('row' in r) {
      out.mapped++;
      out.events.push(r.row);
      return;
    }
    out.skipped++;
    if (out.invalid.length < 20) out.invalid.push({ record: i + 1, reason: r.invalid });
  });
  out.events.sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp));
  return out;
}

/** One line for stderr: what was read, mapped, and not. */
export function summarizeRead(r: RecordedRead): string {
  const unmapped = Object.entries(r.unmapped).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`);
  const parts = [`${r.records} ${r.format} record(s), ${r.mapped} mapped to ${r.events.length} ${r.format === 'k8s-audit' ? 'KubernetesAudit' : 'MDE'} rows`];
  if (unmapped.length) parts.push(`not mapped (event ids arcsim does not map): ${unmapped.join(', ')}`);
  if (r.skipped) parts.push(`${r.skipped} unreadable (first: record ${r.invalid[0]!.record}: ${r.invalid[0]!.reason})`);
  return parts.join('; ');
}

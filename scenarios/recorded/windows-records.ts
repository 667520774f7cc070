import { protocolError } from '../../protocol/errors.ts';

/**
 * Decoding recorded Windows telemetry (raw -> fields), kept apart from the MDE mapping
 * (fields -> rows), as Wazuh keeps decoders apart from rules.
 */

/** One Windows event, whatever file form it came in. */
export interface WindowsRecord {
  eventId: number;
  /** `Microsoft-Windows-Sysmon/Operational`, `Security`, ... */
  channel: string;
  computer: string;
  /** ISO 8601, UTC. */
  time: string;
  /** EventData (evtx-json) or the flat record's own fields. */
  data: Record<string, unknown>;
}

/** A record the decoder could not read as a Windows event: counted, never dropped silently. */
export interface UndecodedRecord {
  index: number;
  reason: string;
}

export type RecordedFormat = 'arcsim' | 'evtx-json' | 'flat-json' | 'k8s-audit';
export const RECORDED_FORMATS: readonly RecordedFormat[] = ['arcsim', 'evtx-json', 'flat-json', 'k8s-audit'];

/**
 * The JSON values of a file holding one or many: a JSON array, JSON lines, or objects simply
 * concatenated (evtx_dump's `-o json`, whose `Record N` separator lines are skipped).
 */
export function splitJsonValues(text: string, file: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const all = JSON.parse(trimmed) as unknown;
      if (Array.isArray(all)) return all;
    } catch { /* not one array: read it value by value below */ }
  }
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"' && depth > 0) inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const chunk = text.slice(start, i + 1);
        try {
          out.push(JSON.parse(chunk));
        } catch (err) {
          throw protocolError('ARCSIM_E_VALIDATION', `${file}: record ${out.length + 1} (line ${lineOf(text, start)}) is not JSON: ${(err as Error).message}`, `record ${out.length + 1}`);
        }
      }
    }
  }
  if (depth > 0) throw protocolError('ARCSIM_E_VALIDATION', `${file}: the last record (line ${lineOf(text, start)}) is cut off`, `record ${out.length + 1}`);
  return out;
}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** evtx_dump writes an element with attributes as `{"#attributes": {...}, "#text": value}`. */
function text(v: unknown): unknown {
  return isObject(v) && '#text' in v ? v['#text'] : v;
}

/** A Windows time as ISO 8601 UTC: `2025-11-26T05:11:27.927693Z`, Sysmon's `2025-11-26 05:11:27.908`. */
export function isoTime(v: unknown): string | undefined {
  if (typeof v === 'number') return new Date(v).toISOString();
  if (typeof v !== 'string' || !v) return undefined;
  let s = v.trim().replace(' ', 'T');
  if (!/[zZ]|[+-]\d\d:?\d\d$/.test(s)) s += 'Z';
  // JavaScript dates hold milliseconds: keep three fraction digits.
  s = s.replace(/(\.\d{3})\d+/, '$1');
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** One evtx_dump event (`{"Event": {"System": ..., "EventData": ...}}`). */
export function decodeEvtxJson(value: unknown): WindowsRecord | string {
  const ev = isObject(value) && isObject(value.Event) ? value.Event : undefined;
  if (!ev || !isObject(ev.System)) return 'no Event.System';
  const sys = ev.System;
  const eventId = Number(text(sys.EventID));
  if (!Number.isInteger(eventId)) return 'no EventID';
  const created = isObject(sys.TimeCreated) ? sys.TimeCreated : {};
  const attrs = isObject(created['#attributes']) ? created['#attributes'] : {};
  const time = isoTime(attrs.SystemTime);
  if (!time) return 'no TimeCreated';
  const data = isObject(ev.EventData) ? { ...ev.EventData } : {};
  delete data['#attributes'];
  return { eventId, channel: String(text(sys.Channel) ?? ''), computer: String(text(sys.Computer) ?? ''), time, data };
}

/** Meta fields of the flattened records of public attack datasets (OTRF Security-Datasets / Mordor, Winlogbeat-like). */
const FLAT_META = ['EventID', 'Channel', 'Hostname', 'Computer', '@timestamp', 'TimeCreated', 'EventTime', 'SourceName', 'Keywords', 'Severity', 'SeverityValue', 'EventType', 'ProviderGuid', 'Version', 'Task', 'OpcodeValue', 'RecordNumber', 'ExecutionProcessID', 'ExecutionThreadID', 'Category', 'Opcode', 'EventReceivedTime', 'SourceModuleName', 'SourceModuleType', '@version', 'host', 'port', 'tags', 'Message', 'Level', 'ERROR_EVT_UNRESOLVED'];

/** One flattened record (`EventID`, `Channel`, `Hostname`, `Image`, `CommandLine`, ...). */
export function decodeFlatJson(value: unknown): WindowsRecord | string {
  if (!isObject(value)) return 'not a JSON object';
  const eventId = Number(value.EventID);
  if (!Number.isInteger(eventId)) return 'no EventID';
  const time = isoTime(value['@timestamp']) ?? isoTime(value.TimeCreated) ?? isoTime(value.UtcTime) ?? isoTime(value.EventTime);
  if (!time) return 'no time (@timestamp, TimeCreated, UtcTime or EventTime)';
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!FLAT_META.includes(k)) data[k] = v;
  const channel = String(value.Channel ?? (value.SourceName === 'Microsoft-Windows-Sysmon' ? 'Microsoft-Windows-Sysmon/Operational' : ''));
  return { eventId, channel, computer: String(value.Hostname ?? value.Computer ?? ''), time, data };
}

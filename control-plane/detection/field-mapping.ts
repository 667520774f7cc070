import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { protocolError } from '../../protocol/errors.ts';
import { columnsOf, TABLE_NAMES, type TableName } from '../../protocol/index.ts';
import { jsonObject, profileOf, type FileProfile } from './file-profile.ts';

/**
 * The Sigma -> MDE field mapping, as data (control-plane/detection/mappings/mde.yaml), in the
 * style of a pySigma processing pipeline: log source -> table (+ ActionType condition), Sigma
 * field -> column or value transform. Validated when first used; each rule resolves its fields
 * once, at load, into getters that read an event.
 */
export const MAPPING_FILE = join(dirname(fileURLToPath(import.meta.url)), 'mappings', 'mde.yaml');

const Column = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/);
const Transform = z.discriminatedUnion('transform', [
  /** Sysmon's hex logon id ("0x3e7") from MDE's numeric column. */
  z.strictObject({ transform: z.literal('hex'), column: Column }),
  /** "DOMAIN\name" from the two columns (just the name when the domain is empty). */
  z.strictObject({ transform: z.literal('account'), domain: Column, name: Column }),
  /** "SHA1=…,MD5=…,SHA256=…" from one column per algorithm (empty ones left out). */
  z.strictObject({ transform: z.literal('hashes'), SHA1: Column.optional(), MD5: Column.optional(), SHA256: Column.optional() }),
  /** One column's value looked up in `values` (`default` when absent from it). */
  z.strictObject({ transform: z.literal('map'), column: Column, values: z.record(z.string(), z.string()), default: z.string().optional() }),
  /** Sysmon's TargetObject: key with its hive abbreviated, then "\" and the value name. */
  z.strictObject({ transform: z.literal('registry_path'), key: Column, value: Column, hives: z.record(z.string(), z.string()) }),
  /** Sysmon's Details: "DWORD (0x…)", "QWORD (0x…-0x…)", "Binary Data", or the data itself. */
  z.strictObject({ transform: z.literal('registry_details'), data: Column, type: Column }),
  /** Sysmon's SourceIsIpv6 / DestinationIsIpv6: "true" when the address column holds an IPv6 address. */
  z.strictObject({ transform: z.literal('is_ipv6'), column: Column }),
  /**
   * One key of a JSON column (`AdditionalFields`): a value MDE records in no column of its own,
   * which arcsim's recorded-telemetry converter (or a scenario event) puts there; absent when not recorded.
   * `fileName`: a column holding the file name of that same path (InitiatingProcessParentFileName
   * for ParentImage), which alone decides `|endswith: '\\name.exe'` when the path is not recorded.
   */
  z.strictObject({ transform: z.literal('additional_field'), column: Column, key: z.string().min(1), fileName: Column.optional() }),
  /**
   * A fact of the file's profile (file-profile.ts), looked up by the row's SHA1 when the event is
   * matched: Sysmon's `Signed` ("true"/"false"), `Signature`, `SignatureStatus`, and the version
   * information `OriginalFileName`, `Description`, `Product`, `Company`.
   */
  z.strictObject({ transform: z.literal('file_profile'), column: Column, attribute: z.enum(['Signed', 'Signature', 'SignatureStatus', 'OriginalFileName', 'Description', 'Product', 'Company']) }),
  /**
   * The values at a dotted path inside a JSON column (KubernetesAudit's `ObjectRef`, `RequestObject`,
   * ...), descending through every array on the way (`spec.containers.image`: each container's
   * image). One value reads as itself (a string; numbers and booleans as their text); several read
   * as their texts joined by a newline, so a rule tests them with `|contains` / `|re`; none: absent.
   */
  z.strictObject({ transform: z.literal('json_path'), column: Column, path: z.string().regex(/^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$/, 'keys joined by dots (empty: the column itself)') }),
]);
type Transform = z.infer<typeof Transform>;

export const MappingFileSchema = z.strictObject({
  version: z.literal(1),
  logsources: z.array(z.strictObject({
    category: z.string().optional(), product: z.string().optional(), service: z.string().optional(),
    table: z.string(),
    actionTypes: z.array(z.string().min(1)).min(1).optional(),
  }).refine((l) => l.category ?? l.product ?? l.service, 'a log source names a category, product or service')),
  fields: z.record(z.string(), z.record(z.string(), z.union([Column, Transform]))),
  unmapped: z.record(z.string(), z.record(z.string(), z.string().min(1))).default({}),
  placeholders: z.record(z.string(), z.array(z.string()).min(1)).default({}),
});
export type MappingFile = z.infer<typeof MappingFileSchema>;

/**
 * Reads a field of an event (a flat column map) as Sysmon would record it; undefined when absent.
 * `reads` names what a getter reads beyond the event's own columns (`FileProfile`: the profile the
 * detection engine attaches before matching), so a rule index knows the value is not in the row.
 */
export type Getter = ((event: Record<string, unknown>) => unknown) & {
  /** Set when the getter returns this column's value as it is; absent: the value is computed (a transform). */
  column?: string;
  reads?: 'FileProfile';
  /** A column holding the last path component of this field's value, known even when the value is not. */
  fileNameColumn?: string;
};

export interface LogsourceTarget {
  table: TableName;
  /** ActionType values the log source stands for (undefined: any). */
  actionTypes: string[] | undefined;
}

/** A mapping file, compiled: the table of a log source and a getter per (table, field). */
export class FieldMapping {
  /** By table, then field: read per event by correlation and dedup, so no key string is built per call. */
  private readonly getters = new Map<string, Map<string, Getter | string>>();

  constructor(readonly file: MappingFile, readonly source = MAPPING_FILE) {}

  /** The table (and ActionType condition) of a Sigma logsource, or undefined. */
  logsource(ls: { category?: string; product?: string; service?: string }): LogsourceTarget | { error: string } {
    for (const entry of this.file.logsources) {
      if (entry.category !== undefined && entry.category !== ls.category) continue;
      if (entry.product !== undefined && entry.product !== ls.product) continue;
      if (entry.service !== undefined && entry.service !== ls.service) continue;
      // An entry naming only a service does not take a rule that has a category of its own.
      if (entry.category === undefined && ls.category !== undefined) continue;
      if (!(TABLE_NAMES as string[]).includes(entry.table)) return { error: `log source maps to ${entry.table}, a table arcsim's event schema does not have` };
      return { table: entry.table as TableName, actionTypes: entry.actionTypes };
    }
    const which = (['category', 'product', 'service'] as const).filter((k) => ls[k] !== undefined).map((k) => `${k}: ${ls[k]}`).join(', ');
    return { error: `logsource {${which}} has no arcsim event table (the log sources arcsim reads are listed in ${this.source})` };
  }

  /** The getter of `field` in `table`, or a sentence saying why there is none. */
  resolve(table: TableName, field: string): Getter | string {
    let byField = this.getters.get(table);
    if (byField === undefined) this.getters.set(table, (byField = new Map()));
    let g = byField.get(field);
    if (g === undefined) {
      g = this.compile(table, field);
      byField.set(field, g);
    }
    return g;
  }

  private compile(table: TableName, field: string): Getter | string {
    const columns = columnsOf(table);
    // Own keys only: a rule's field named `__proto__` or `constructor` is a field name, not the object's prototype.
    const own = <T>(m: Record<string, T> | undefined): T | undefined => (m !== undefined && Object.hasOwn(m, field) ? m[field] : undefined);
    const spec = own(Object.hasOwn(this.file.fields, table) ? this.file.fields[table] : undefined);
    const why = own(Object.hasOwn(this.file.unmapped, table) ? this.file.unmapped[table] : undefined);
    if (spec === undefined) {
      if (why) return `field "${field}" has no counterpart in ${table}: ${why}`;
      if (columns.includes(field)) return verbatim(field);
      return `field "${field}" does not exist in ${table} (no mapping in ${this.source} and no such column)`;
    }
    const need = (cols: Array<string | undefined>): string | undefined => {
      const missing = cols.filter((c): c is string => c !== undefined && !columns.includes(c));
      return missing.length ? `field "${field}" maps to ${missing.join(', ')}, which ${table} does not have in arcsim's event schema` : undefined;
    };
    if (typeof spec === 'string') return need([spec]) ?? verbatim(spec);
    const problem = need(transformColumns(spec));
    return problem ?? compileTransform(spec);
  }
}

/** A getter returning one column as it is (tagged, so a rule index may look for its literals in that column). */
function verbatim(column: string): Getter {
  const g: Getter = (e) => e[column];
  g.column = column;
  return g;
}

function transformColumns(t: Transform): Array<string | undefined> {
  switch (t.transform) {
    case 'hex': return [t.column];
    case 'account': return [t.domain, t.name];
    case 'hashes': return [t.SHA1, t.MD5, t.SHA256];
    case 'map': return [t.column];
    case 'registry_path': return [t.key, t.value];
    case 'registry_details': return [t.data, t.type];
    case 'is_ipv6': return [t.column];
    case 'additional_field': return [t.column, t.fileName];
    case 'file_profile': return [t.column];
    case 'json_path': return [t.column];
  }
}

/** Every scalar at `keys` under `v`, arrays entered at every level (see the json_path transform). */
function valuesAt(v: unknown, keys: readonly string[], i: number, out: string[]): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    for (const x of v) valuesAt(x, keys, i, out);
    return;
  }
  if (i === keys.length) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
    return;
  }
  if (typeof v === 'object') valuesAt((v as Record<string, unknown>)[keys[i]!], keys, i + 1, out);
}

const PROFILE_READ: Record<string, (p: FileProfile) => unknown> = {
  Signed: (p) => p.IsSigned === undefined ? undefined : String(p.IsSigned),
  Signature: (p) => p.Signer,
  // Sysmon's own status when a recorded event gave it; else what MDE's verdict allows to say.
  SignatureStatus: (p) => p.SignatureStatus ?? (p.IsSigned === true && p.IsTrusted === true ? 'Valid' : undefined),
  OriginalFileName: (p) => p.OriginalFileName,
  Description: (p) => p.FileDescription,
  Product: (p) => p.ProductName,
  Company: (p) => p.CompanyName,
};

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

function compileTransform(t: Transform): Getter {
  switch (t.transform) {
    case 'hex': return (e) => {
      const v = e[t.column];
      if (typeof v === 'number') return `0x${v.toString(16)}`;
      return v;
    };
    case 'account': return (e) => {
      const d = e[t.domain], n = e[t.name];
      if (!present(n)) return undefined;
      return present(d) ? `${String(d)}\\${String(n)}` : n;
    };
    case 'hashes': {
      const parts = (['SHA1', 'MD5', 'SHA256'] as const).filter((k) => t[k] !== undefined).map((k) => [k, t[k]!] as const);
      return (e) => {
        const out = parts.filter(([, c]) => present(e[c])).map(([k, c]) => `${k}=${String(e[c]).toUpperCase()}`);
        return out.length ? out.join(',') : undefined;
      };
    }
    case 'map': return (e) => {
      const v = e[t.column];
      if (v === undefined || v === null) return undefined;
      return Object.hasOwn(t.values, String(v)) ? t.values[String(v)] : (t.default ?? v);
    };
    case 'registry_path': {
      const hives = Object.entries(t.hives).sort((a, b) => b[0].length - a[0].length);
      return (e) => {
        const key = e[t.key];
        if (!present(key)) return undefined;
        let k = String(key);
        for (const [long, short] of hives) {
          if (k.toUpperCase() === long || k.toUpperCase().startsWith(long + '\\')) {
            k = short + k.slice(long.length);
            break;
          }
        }
        const v = e[t.value];
        return present(v) ? `${k}\\${String(v)}` : k;
      };
    }
    case 'is_ipv6': return (e) => {
      const v = e[t.column];
      if (!present(v)) return undefined;
      return String(v).includes(':') ? 'true' : 'false';
    };
    case 'additional_field': {
      const g: Getter = (e) => {
        const v = jsonObject(e[t.column])?.[t.key];
        return v === null || v === '' ? undefined : v;
      };
      if (t.fileName) g.fileNameColumn = t.fileName;
      return g;
    }
    case 'file_profile': {
      const read = PROFILE_READ[t.attribute]!;
      const g: Getter = (e) => {
        const p = profileOf(e);
        return p ? read(p) : undefined;
      };
      g.reads = 'FileProfile';
      return g;
    }
    case 'json_path': {
      const keys = t.path === '' ? [] : t.path.split('.');
      return (e) => {
        const root = e[t.column];
        const out: string[] = [];
        valuesAt(typeof root === 'string' ? jsonObject(root) : root, keys, 0, out);
        return out.length === 0 ? undefined : out.length === 1 ? out[0] : out.join('\n');
      };
    }
    case 'registry_details': return (e) => {
      const data = e[t.data];
      const type = String(e[t.type] ?? '').toLowerCase().replace(/^reg_/, '');
      if (data === undefined || data === null) return undefined;
      if (type === 'dword' && /^-?\d+$/.test(String(data))) {
        return `DWORD (0x${(Number(data) >>> 0).toString(16).padStart(8, '0')})`;
      }
      if (type === 'qword' && /^-?\d+$/.test(String(data))) {
        const n = BigInt.asUintN(64, BigInt(String(data)));
        const hex = (x: bigint) => x.toString(16).padStart(8, '0');
        return `QWORD (0x${hex(n >> 32n)}-0x${hex(n & 0xffffffffn)})`;
      }
      if (type === 'binary') return 'Binary Data';
      return data;
    };
  }
}

/** Parses and validates a mapping file's text; throws ARCSIM_E_CONFIG_SCHEMA naming the path. */
export function parseMappingFile(text: string, source: string): FieldMapping {
  const r = MappingFileSchema.safeParse(parse(text));
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw protocolError('ARCSIM_E_CONFIG_SCHEMA', `${source}: ${issue.path.join('.')}: ${issue.message}`, issue.path.join('.'));
  }
  return new FieldMapping(r.data, source);
}

let shipped: FieldMapping | undefined;
/** The shipped mapping (control-plane/detection/mappings/mde.yaml), read once. */
export function defaultMapping(): FieldMapping {
  shipped ??= parseMappingFile(readFileSync(MAPPING_FILE, 'utf8'), 'control-plane/detection/mappings/mde.yaml');
  return shipped;
}

/** The getter of a rule field in `table` with the shipped mapping, or undefined when there is none. */
export function resolveField(table: TableName, field: string): Getter | undefined {
  const g = defaultMapping().resolve(table, field);
  return typeof g === 'string' ? undefined : g;
}

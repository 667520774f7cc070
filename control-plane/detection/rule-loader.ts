import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readYamlAll } from '../../lib/yaml.ts';
import { z } from 'zod';
import { issuePath, protocolError, type ArcsimError, type ErrorCode } from '../../protocol/errors.ts';
import type { TableName } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import { LOGSOURCE_TABLES, resolveField } from './field-mapping.ts';
import { compileSelection, SelectionError, type Predicate } from './sigma-selection.ts';
import { parseCondition } from './sigma-condition.ts';

/** A rule error names the file and rule, and the path inside the rule. */
function ruleError(code: ErrorCode, where: string, detail: string, path?: string): ArcsimError {
  return protocolError(code, `${where}: ${detail}`, path);
}

/** The rules shipped with arcsim. */
export const DEFAULT_RULES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'rules');

const SEVERITIES = ['Informational', 'Low', 'Medium', 'High'] as const;
const INTENTS = [
  'Unknown', 'PreAttack', 'InitialAccess', 'Persistence', 'PrivilegeEscalation', 'DefenseEvasion', 'CredentialAccess',
  'Discovery', 'LateralMovement', 'Execution', 'Collection', 'Exfiltration', 'CommandAndControl', 'Impact', 'Probing', 'Exploitation',
] as const;
/** The product whose sensor raises the alert. */
export const PRODUCTS = ['MDE', 'MDC', 'DefenderForSQL', 'CSPM'] as const;
export type DetectingProduct = (typeof PRODUCTS)[number];

/** arcsim's own block on a Sigma rule: what alert the rule raises in the Defender products. */
const MappingSchema = z.strictObject({
  alertType: z.string().min(1),
  alertDisplayName: z.string().min(1),
  severity: z.enum(SEVERITIES),
  intent: z.union([z.enum(INTENTS), z.array(z.enum(INTENTS)).min(1)]),
  product: z.enum(PRODUCTS),
  description: z.string().min(1),
  remediationSteps: z.array(z.string()).default([]),
  /** Occurrences with the same alert type, machine and these fields within `window` are one alert. */
  dedup: z.strictObject({ fields: z.array(z.string()).default([]), window: z.string().default('24h') }).default({ fields: [], window: '24h' }),
});
export type AlertMapping = Omit<z.infer<typeof MappingSchema>, 'dedup' | 'intent'> & {
  intent: string[];
  dedup: { fields: string[]; windowMs: number };
};

const common = {
  title: z.string().min(1).max(256),
  id: z.uuid(),
  name: z.string().regex(/^[a-z0-9_.-]+$/).optional(),
  status: z.enum(['stable', 'test', 'experimental', 'deprecated', 'unsupported']),
  description: z.string().optional(),
  references: z.array(z.string()).optional(),
  author: z.string().optional(),
  date: z.union([z.string(), z.date()]).optional(),
  modified: z.union([z.string(), z.date()]).optional(),
  tags: z.array(z.string().regex(/^[a-z0-9_.-]+$/i)).default([]),
  level: z.enum(['informational', 'low', 'medium', 'high', 'critical']),
  falsepositives: z.array(z.string()).optional(),
  license: z.string().optional(),
  related: z.array(z.strictObject({ id: z.uuid(), type: z.string() })).optional(),
  arcsim: MappingSchema.optional(),
};

const DetectionDoc = z.strictObject({
  ...common,
  logsource: z.strictObject({
    category: z.string().optional(),
    product: z.string().optional(),
    service: z.string().optional(),
    definition: z.string().optional(),
  }),
  detection: z.record(z.string(), z.unknown()),
  fields: z.array(z.string()).optional(),
});

const CMP = z.strictObject({
  gt: z.number().optional(), gte: z.number().optional(), lt: z.number().optional(),
  lte: z.number().optional(), eq: z.number().optional(), field: z.string().optional(),
});

const CorrelationDoc = z.strictObject({
  ...common,
  correlation: z.strictObject({
    type: z.string(),
    rules: z.array(z.string()).min(1),
    'group-by': z.array(z.string()).default([]),
    timespan: z.string(),
    condition: CMP.optional(),
    generate: z.boolean().optional(),
    /** Sigma aliases: a group-by name standing for a differently named field in each referenced rule. */
    aliases: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  }),
});

export interface DetectionRule {
  kind: 'detection';
  id: string;
  name: string | undefined;
  title: string;
  file: string;
  table: TableName;
  techniques: string[];
  tactics: string[];
  match: Predicate;
  mapping: AlertMapping | undefined;
}

export const CORRELATION_TYPES = ['event_count', 'value_count', 'temporal', 'temporal_ordered'] as const;

export interface CorrelationRule {
  kind: 'correlation';
  id: string;
  name: string | undefined;
  title: string;
  file: string;
  type: (typeof CORRELATION_TYPES)[number];
  /**
   * Ids of the rules whose matches are correlated, in order (the order matters for
   * temporal_ordered). Temporal correlations may refer to other correlations.
   */
  rules: string[];
  groupBy: string[];
  /** For each group-by name, the field read from each referenced rule (by id); Sigma `aliases`. */
  aliases: Record<string, Record<string, string>>;
  /** Event tables the correlated events come from. */
  tables: TableName[];
  timespanMs: number;
  /**
   * Count condition (event_count, value_count); temporal types fire when every rule matched.
   * `gt`/`gte` fire as soon as a window reaches the count; `lt`/`lte`/`eq` can only be decided
   * once a window has closed (its timespan plus the lateness has passed in event time).
   */
  op: 'gt' | 'gte' | 'lt' | 'lte' | 'eq';
  threshold: number;
  /** The column counted distinctly by value_count. */
  valueField: string | undefined;
  techniques: string[];
  tactics: string[];
  /** Undefined for a correlation that only feeds another correlation (it raises no alert itself). */
  mapping: AlertMapping | undefined;
}

export interface RuleSet {
  detections: DetectionRule[];
  correlations: CorrelationRule[];
  /** Detection rules per event table, for streaming evaluation. */
  byTable: Map<TableName, DetectionRule[]>;
  /** Correlations fed by each rule id (detections, and correlations feeding temporal ones). */
  correlationsOf: Map<string, CorrelationRule[]>;
}

/** Loads every `*.yml`/`*.yaml` rule file in `dir`; throws the first rule error found. */
export function loadRulesDir(dir: string = DEFAULT_RULES_DIR): RuleSet {
  return loadRulesDirs([dir]);
}

/**
 * Compiles the rule files of several directories as one rule set (in the order given, files sorted
 * by name within each), so a correlation may refer to a rule of another directory and an id used
 * twice anywhere is refused.
 */
export function loadRulesDirs(dirs: readonly string[]): RuleSet {
  return loadRules(dirs.flatMap((dir) => {
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (err) {
      // A missing or unreadable directory names itself, not a raw ENOENT.
      throw protocolError('ARCSIM_E_RULE_DIR', `${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as NodeJS.ErrnoException).code ?? 'unreadable'}`, dir);
    }
    return files.filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => ({ file: join(dir, f), text: readFileSync(join(dir, f), 'utf8') }));
  }));
}

/** Compiles rule sources (each may hold several YAML documents) into a RuleSet. */
export function loadRules(sources: Array<{ file: string; text: string }>): RuleSet {
  const detections: DetectionRule[] = [];
  const pendingCorrelations: Array<{ doc: z.infer<typeof CorrelationDoc>; where: string; file: string }> = [];
  const seen = new Map<string, string>();
  const claim = (key: string, where: string) => {
    const prior = seen.get(key);
    if (prior) throw ruleError('ARCSIM_E_RULE_DUPLICATE', where, `"${key}" is also used by ${prior}`);
    seen.set(key, where);
  };

  for (const { file, text } of sources) {
    for (const [index, doc] of readYamlAll(text).entries()) {
      const where = `${basename(file)}${index ? `#${index + 1}` : ''}`;
      if (doc.errors.length) throw ruleError('ARCSIM_E_RULE_YAML', where, doc.errors[0]!.message);
      const raw = doc.value as Record<string, unknown> | null;
      if (raw === null) continue;
      const label = `${where} (${typeof raw.title === 'string' ? raw.title : 'untitled'})`;
      if (typeof raw === 'object' && 'correlation' in raw) {
        const parsed = CorrelationDoc.safeParse(raw);
        if (!parsed.success) throw schemaError(label, parsed.error.issues);
        claim(parsed.data.id, label);
        if (parsed.data.name) claim(parsed.data.name, label);
        pendingCorrelations.push({ doc: parsed.data, where: label, file });
      } else {
        const parsed = DetectionDoc.safeParse(raw);
        if (!parsed.success) throw schemaError(label, parsed.error.issues);
        claim(parsed.data.id, label);
        if (parsed.data.name) claim(parsed.data.name, label);
        detections.push(compileDetection(parsed.data, label, file));
      }
    }
  }

  const byRef = new Map<string, DetectionRule | CorrelationRule>();
  for (const d of detections) {
    byRef.set(d.id, d);
    if (d.name) byRef.set(d.name, d);
  }
  // Correlations may refer to correlations (temporal chains): compile referenced ones first.
  const pendingByRef = new Map<string, (typeof pendingCorrelations)[number]>();
  for (const p of pendingCorrelations) {
    pendingByRef.set(p.doc.id, p);
    if (p.doc.name) pendingByRef.set(p.doc.name, p);
  }
  const referenced = new Set(pendingCorrelations.flatMap((p) => p.doc.correlation.rules.map((r) => pendingByRef.get(r)?.doc.id).filter(Boolean)));
  const visiting = new Set<string>();
  const compile = (p: (typeof pendingCorrelations)[number]): CorrelationRule => {
    const done = byRef.get(p.doc.id);
    if (done) return done as CorrelationRule;
    if (visiting.has(p.doc.id)) throw ruleError('ARCSIM_E_RULE_REFERENCE', p.where, 'correlations refer to each other in a cycle', 'correlation.rules');
    visiting.add(p.doc.id);
    for (const ref of p.doc.correlation.rules) {
      const inner = pendingByRef.get(ref);
      if (inner) compile(inner);
    }
    const c = compileCorrelation(p.doc, p.where, p.file, byRef, referenced.has(p.doc.id));
    byRef.set(c.id, c);
    if (c.name) byRef.set(c.name, c);
    return c;
  };
  const correlations = pendingCorrelations.map(compile);

  const byTable = new Map<TableName, DetectionRule[]>();
  for (const d of detections) byTable.set(d.table, [...(byTable.get(d.table) ?? []), d]);
  const correlationsOf = new Map<string, CorrelationRule[]>();
  for (const c of correlations) for (const r of c.rules) correlationsOf.set(r, [...(correlationsOf.get(r) ?? []), c]);
  return { detections, correlations, byTable, correlationsOf };
}

function schemaError(where: string, issues: z.core.$ZodIssue[]): ArcsimError {
  const issue = issues[0]!;
  const path = issuePath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keyPath = issuePath([...issue.path, issue.keys[0]!]);
    return ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, `unsupported key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}${path ? ` in ${path}` : ''}`, keyPath);
  }
  return ruleError('ARCSIM_E_RULE_SCHEMA', where, `${path || '(root)'}: ${issue.message}`, path);
}

function attackTags(tags: string[]): { techniques: string[]; tactics: string[] } {
  const techniques: string[] = [];
  const tactics: string[] = [];
  for (const tag of tags) {
    const m = /^attack\.(t\d{4}(?:\.\d{3})?)$/i.exec(tag);
    if (m) techniques.push(m[1]!.toUpperCase());
    else if (/^attack\.[a-z_-]+$/i.test(tag) && !/^attack\.(g|s)\d{4}$/i.test(tag)) tactics.push(tag.slice('attack.'.length));
  }
  return { techniques, tactics };
}

function toMapping(m: z.infer<typeof MappingSchema>, where: string): AlertMapping {
  let windowMs: number;
  try {
    windowMs = parseDuration(m.dedup.window);
  } catch (err) {
    throw ruleError('ARCSIM_E_RULE_SCHEMA', where, (err as Error).message, 'arcsim.dedup.window');
  }
  return { ...m, intent: Array.isArray(m.intent) ? m.intent : [m.intent], dedup: { fields: m.dedup.fields, windowMs } };
}

function compileDetection(doc: z.infer<typeof DetectionDoc>, where: string, file: string): DetectionRule {
  const { category, service } = doc.logsource;
  const table = (category && LOGSOURCE_TABLES.category[category]) || (service && LOGSOURCE_TABLES.service[service]);
  if (!table) {
    throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where,
      `logsource ${JSON.stringify(doc.logsource)} has no arcsim event table (categories: ${Object.keys(LOGSOURCE_TABLES.category).join(', ')}; services: ${Object.keys(LOGSOURCE_TABLES.service).join(', ')})`,
      'logsource');
  }
  const { condition, timeframe, ...selections } = doc.detection;
  if (timeframe !== undefined) {
    throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, '"timeframe" in detection is deprecated Sigma; use a correlation rule with timespan', 'detection.timeframe');
  }
  const compiled = new Map<string, Predicate>();
  for (const [name, body] of Object.entries(selections)) {
    try {
      compiled.set(name, compileSelection(name, body, table));
    } catch (err) {
      if (!(err instanceof SelectionError)) throw err;
      const code = err.kind === 'unsupported' ? 'ARCSIM_E_RULE_UNSUPPORTED' : err.kind === 'field' ? 'ARCSIM_E_RULE_FIELD' : 'ARCSIM_E_RULE_SCHEMA';
      throw ruleError(code, where, `${err.path}: ${err.message}`, err.path);
    }
  }
  if (typeof condition !== 'string') {
    throw ruleError(Array.isArray(condition) ? 'ARCSIM_E_RULE_UNSUPPORTED' : 'ARCSIM_E_RULE_CONDITION', where,
      Array.isArray(condition) ? 'a list of conditions is not supported; join them with "or"' : 'detection.condition must be a string', 'detection.condition');
  }
  let cond;
  try {
    cond = parseCondition(condition, [...compiled.keys()]);
  } catch (err) {
    throw ruleError('ARCSIM_E_RULE_CONDITION', where, `"${condition}": ${(err as Error).message}`, 'detection.condition');
  }
  const { techniques, tactics } = attackTags(doc.tags);
  const mapping = doc.arcsim && toMapping(doc.arcsim, where);
  if (mapping) checkDedupFields(mapping, [table], where);
  return {
    kind: 'detection', id: doc.id, name: doc.name, title: doc.title, file, table, techniques, tactics,
    match: (e) => cond((n) => compiled.get(n)!(e)),
    mapping,
  };
}

function checkDedupFields(mapping: AlertMapping, tables: TableName[], where: string): void {
  for (const f of mapping.dedup.fields) {
    for (const t of tables) {
      if (!resolveField(t, f)) throw ruleError('ARCSIM_E_RULE_FIELD', where, `dedup field "${f}" does not exist in ${t}`, 'arcsim.dedup.fields');
    }
  }
}

function compileCorrelation(
  doc: z.infer<typeof CorrelationDoc>, where: string, file: string, byRef: Map<string, DetectionRule | CorrelationRule>, feedsAnother: boolean,
): CorrelationRule {
  const c = doc.correlation;
  if (!(CORRELATION_TYPES as readonly string[]).includes(c.type)) {
    throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, `correlation type "${c.type}" is not supported yet (supported: ${CORRELATION_TYPES.join(', ')})`, 'correlation.type');
  }
  const type = c.type as CorrelationRule['type'];
  const temporal = type === 'temporal' || type === 'temporal_ordered';
  if (c.generate) throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, 'generate: true is not supported; give the base rule its own arcsim mapping', 'correlation.generate');
  if (!doc.arcsim && !feedsAnother) {
    throw ruleError('ARCSIM_E_RULE_SCHEMA', where, 'a correlation rule needs an arcsim alert mapping (unless another correlation refers to it)', 'arcsim');
  }
  const rules = c.rules.map((ref, i) => {
    const r = byRef.get(ref);
    if (!r) throw ruleError('ARCSIM_E_RULE_REFERENCE', where, `"${ref}" is not the id or name of a loaded rule`, `correlation.rules.${i}`);
    if (r.kind === 'correlation' && !temporal) {
      throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, `${type} over another correlation ("${ref}") is not supported; only temporal correlations may refer to correlations`, `correlation.rules.${i}`);
    }
    return r;
  });
  if (temporal && rules.length < 2) throw ruleError('ARCSIM_E_RULE_SCHEMA', where, `${type} needs at least two rules`, 'correlation.rules');
  if (new Set(rules.map((r) => r.id)).size !== rules.length) throw ruleError('ARCSIM_E_RULE_SCHEMA', where, 'a rule is listed twice', 'correlation.rules');
  const tables = [...new Set(rules.flatMap((r) => (r.kind === 'detection' ? [r.table] : r.tables)))];

  // Aliases: keyed by the referenced rules' names or ids, stored by id.
  const aliases: Record<string, Record<string, string>> = {};
  for (const [alias, perRule] of Object.entries(c.aliases ?? {})) {
    if (!c['group-by'].includes(alias)) throw ruleError('ARCSIM_E_RULE_SCHEMA', where, `alias "${alias}" is not a group-by field`, `correlation.aliases.${alias}`);
    aliases[alias] = {};
    for (const [ref, field] of Object.entries(perRule)) {
      const r = rules.find((x) => x.id === ref || x.name === ref);
      if (!r) throw ruleError('ARCSIM_E_RULE_REFERENCE', where, `"${ref}" is not one of this correlation's rules`, `correlation.aliases.${alias}.${ref}`);
      aliases[alias]![r.id] = field;
    }
    for (const r of rules) {
      if (!(r.id in aliases[alias]!)) throw ruleError('ARCSIM_E_RULE_SCHEMA', where, `alias "${alias}" names no field for rule "${r.name ?? r.id}"`, `correlation.aliases.${alias}`);
    }
  }
  // Every group-by field must exist where it is read: an event column, or the group of a chained correlation.
  c['group-by'].forEach((g, i) => {
    for (const r of rules) {
      const field = aliases[g]?.[r.id] ?? g;
      const path = aliases[g] ? `correlation.aliases.${g}` : `correlation.group-by.${i}`;
      if (r.kind === 'correlation') {
        if (!r.groupBy.includes(field)) throw ruleError('ARCSIM_E_RULE_FIELD', where, `"${field}" is not a group-by field of correlation "${r.name ?? r.id}"`, path);
      } else if (!resolveField(r.table, field)) {
        throw ruleError('ARCSIM_E_RULE_FIELD', where, `field "${field}" does not exist in ${r.table}`, path);
      }
    }
  });

  const cond = c.condition ?? {};
  const ops = (['gt', 'gte', 'lt', 'lte', 'eq'] as const).filter((k) => cond[k] !== undefined);
  let op: CorrelationRule['op'] = 'gte';
  let threshold = rules.length;
  let valueField: string | undefined;
  if (temporal) {
    if (c.condition !== undefined) throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, `${type} fires when every rule matched; a condition is not supported`, 'correlation.condition');
  } else {
    if (ops.length !== 1) throw ruleError('ARCSIM_E_RULE_SCHEMA', where, 'condition needs exactly one of gt, gte, lt, lte, eq', 'correlation.condition');
    const o = ops[0]!;
    op = o;
    threshold = cond[o]!;
    const checkColumn = (field: string, path: string) => {
      for (const t of tables) {
        if (!resolveField(t, field)) throw ruleError('ARCSIM_E_RULE_FIELD', where, `field "${field}" does not exist in ${t}`, path);
      }
    };
    if (type === 'value_count') {
      if (!cond.field) throw ruleError('ARCSIM_E_RULE_SCHEMA', where, 'value_count needs condition.field', 'correlation.condition.field');
      checkColumn(cond.field, 'correlation.condition.field');
      valueField = cond.field;
    } else if (cond.field) {
      throw ruleError('ARCSIM_E_RULE_SCHEMA', where, 'condition.field only applies to value_count', 'correlation.condition.field');
    }
  }
  let timespanMs: number;
  try {
    timespanMs = parseDuration(c.timespan);
  } catch (err) {
    throw ruleError('ARCSIM_E_RULE_SCHEMA', where, (err as Error).message, 'correlation.timespan');
  }
  const mapping = doc.arcsim && toMapping(doc.arcsim, where);
  if (mapping) checkDedupFields(mapping, tables, where);
  const { techniques, tactics } = attackTags(doc.tags);
  return {
    kind: 'correlation', id: doc.id, name: doc.name, title: doc.title, file, type, rules: rules.map((r) => r.id),
    groupBy: c['group-by'], aliases, tables, timespanMs, op, threshold, valueField, techniques, tactics, mapping,
  };
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, LineCounter, type Document } from 'yaml';
import { readYamlAll } from '../../lib/yaml.ts';
import { z } from 'zod';
import { issuePath, protocolError, type ArcsimError, type ErrorCode } from '../../protocol/errors.ts';
import type { TableName } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import { defaultMapping, type FieldMapping } from './field-mapping.ts';
import { compileSelection, SelectionError, selectionNeed, type Predicate } from './sigma-selection.ts';
import { compileCondition, conditionNeed } from './sigma-condition.ts';
import { needOr, type Need } from './literal-need.ts';

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
  /** MDE's detectionSource: "CustomDetection" for alerts derived from a rule without an arcsim block. */
  detectionSource?: string;
};

/**
 * The specification (v2.1) asks for a UUID (version 4 recommended, not required): any
 * 8-4-4-4-12 hex string is one; the RFC variant bits are not checked.
 */
const SigmaId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'an id is a UUID (8-4-4-4-12 hex digits)');

/** Sigma's attributes; only `title` (and detection/logsource, or correlation) are required. */
const common = {
  title: z.string().min(1).max(256),
  id: SigmaId.optional(),
  name: z.string().regex(/^[a-z0-9_.-]+$/).optional(),
  status: z.enum(['stable', 'test', 'experimental', 'deprecated', 'unsupported']).optional(),
  description: z.string().optional(),
  references: z.array(z.string()).optional(),
  author: z.string().optional(),
  date: z.union([z.string(), z.date()]).optional(),
  modified: z.union([z.string(), z.date()]).optional(),
  tags: z.array(z.string().regex(/^[a-z0-9_.-]+$/i)).default([]),
  level: z.enum(['informational', 'low', 'medium', 'high', 'critical']).optional(),
  falsepositives: z.array(z.string()).optional(),
  license: z.string().optional(),
  related: z.array(z.object({ id: SigmaId, type: z.enum(['derived', 'obsolete', 'merged', 'renamed', 'similar']) })).optional(),
  taxonomy: z.string().optional(),
  scope: z.array(z.string()).optional(),
  arcsim: MappingSchema.optional(),
};

// Custom top-level attributes (regression_tests_path, simulation, ...) are kept, as the specification allows.
const DetectionDoc = z.looseObject({
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

const CorrelationDoc = z.looseObject({
  ...common,
  correlation: z.strictObject({
    type: z.string(),
    rules: z.union([z.string().transform((r) => [r]), z.array(z.string()).min(1)]),
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
  /** What `match` needs to see in an event before it can hold (literal-need.ts; for the rule index). */
  need: Need;
  /** Sigma `logsource.product`, lower-cased (windows, linux, macos …): the OS family the rule is for. */
  product: string | undefined;
  /** The alert the rule raises: its arcsim block, or the custom detection derived from it (see `custom`). */
  mapping: AlertMapping | undefined;
  /** The MDE custom-detection alert derived from the rule's title, level, tags and id. */
  custom: AlertMapping;
  /** Sigma attributes arcsim does not interpret (custom top-level keys), kept as written. */
  extra: Record<string, unknown>;
  /**
   * Fields the rule reads from the file profile of the event's SHA1 rather than from the row
   * (mde.yaml `transform: file_profile`): the engine must attach the profile before `match`, and
   * an index must not take a literal of these fields as one the row contains.
   */
  profileFields: string[];
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
  /** Sigma `generate`: the referenced rules raise their own alerts too. */
  generate: boolean;
}

export interface RuleSet {
  detections: DetectionRule[];
  correlations: CorrelationRule[];
  /** Detection rules per event table, for streaming evaluation. */
  byTable: Map<TableName, DetectionRule[]>;
  /** Correlations fed by each rule id (detections, and correlations feeding temporal ones). */
  correlationsOf: Map<string, CorrelationRule[]>;
  /** Tables with a rule that reads file profiles (`profileFields`); empty: no profile is needed. */
  profileTables: Set<TableName>;
}

/** What happened to one rule of a rule set: loaded, or refused with the error and where. */
export interface RuleResult {
  file: string;
  /** 1-based line of the construct refused (or of the rule's document). */
  line: number;
  id: string | undefined;
  title: string | undefined;
  status: 'loaded' | 'refused';
  code?: ErrorCode;
  message?: string;
}

/** A rule set plus the verdict on every rule read. */
export interface RuleReport {
  set: RuleSet;
  results: RuleResult[];
  refused: RuleResult[];
}

export interface LoadOptions {
  /** The Sigma -> MDE field mapping (default: the shipped mapping file). */
  mapping?: FieldMapping;
}

/** Every `*.yml` / `*.yaml` file under `dir`, recursively (SigmaHQ nests its folders; dot-entries skipped), sorted by path; `dir` may be one file. */
export function ruleFilesIn(dir: string): string[] {
  if (statSync(dir).isFile()) return [dir];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue; // .git, .github: not rules
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) out.push(full);
    }
  };
  walk(dir);
  return out;
}

/** Loads every rule file under `dir` (recursively); throws the first rule error found. */
export function loadRulesDir(dir: string = DEFAULT_RULES_DIR): RuleSet {
  return loadRulesDirs([dir]);
}

/**
 * Compiles the rule files of several directories as one rule set (in the order given, files sorted
 * by path within each), so a correlation may refer to a rule of another directory and an id used
 * twice anywhere is refused. Throws the first refusal (see reportRulesDirs to load rule by rule).
 */
export function loadRulesDirs(dirs: readonly string[], options: LoadOptions = {}): RuleSet {
  return loadRules(readSources(dirs), options);
}

/** Loads every rule that loads from `dirs`, and says which were refused and why. */
export function reportRulesDirs(dirs: readonly string[], options: LoadOptions = {}): RuleReport {
  return compileRules(readSources(dirs), options);
}

/** The rule files of `dirs` as `{ file, text }`, in load order (what compileRules takes; the ingest worker compiles the same text). */
export function readRuleSources(dirs: readonly string[]): Array<{ file: string; text: string }> {
  return readSources(dirs);
}

function readSources(dirs: readonly string[]): Array<{ file: string; text: string }> {
  return dirs.flatMap((dir) => {
    let files: string[];
    try {
      files = ruleFilesIn(dir);
    } catch (err) {
      // A missing or unreadable directory names itself, not a raw ENOENT.
      throw protocolError('ARCSIM_E_RULE_DIR', `${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as NodeJS.ErrnoException).code ?? 'unreadable'}`, dir);
    }
    return files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  });
}

/** Compiles rule sources (each may hold several YAML documents) into a RuleSet; throws the first refusal. */
export function loadRules(sources: Array<{ file: string; text: string }>, options: LoadOptions = {}): RuleSet {
  const report = compileRules(sources, options);
  const first = report.refused[0];
  if (first) throw (first as RuleResult & { error: ArcsimError }).error;
  return report.set;
}

type Pending = { doc: z.infer<typeof CorrelationDoc>; id: string; where: string; file: string; result: RuleResult; locate: (path?: string) => number };

/**
 * Compiles rule sources rule by rule: a rule that cannot be honoured exactly is refused (with its
 * code, the construct and its line) and the others load. A correlation whose rule was refused is
 * refused too.
 */
export function compileRules(sources: Array<{ file: string; text: string }>, options: LoadOptions = {}): RuleReport {
  const mapping = options.mapping ?? defaultMapping();
  const detections: DetectionRule[] = [];
  const pendingCorrelations: Pending[] = [];
  const results: RuleResult[] = [];
  const seen = new Map<string, string>();
  const claim = (key: string, where: string) => {
    const prior = seen.get(key);
    if (prior) throw ruleError('ARCSIM_E_RULE_DUPLICATE', where, `"${key}" is also used by ${prior}`);
    seen.set(key, where);
  };
  const refuse = (result: RuleResult, err: unknown, locate: (path?: string) => number) => {
    if (!(err instanceof Error) || !('code' in err)) throw err;
    const e = err as ArcsimError;
    Object.assign(result, { status: 'refused', code: e.code, message: e.message, line: locate(e.path), error: e });
  };

  for (const { file, text } of sources) {
    const lineCounter = new LineCounter();
    for (const [index, { doc, errors, value }] of readYamlAll(text, { lineCounter }).entries()) {
      const where = `${basename(file)}${index ? `#${index + 1}` : ''}`;
      const docLine = lineCounter.linePos(doc.range?.[0] ?? 0).line;
      const locate = (path?: string) => lineOf(doc, lineCounter, path) ?? docLine;
      const result: RuleResult = { file, line: docLine, id: undefined, title: undefined, status: 'loaded' };
      if (errors.length) {
        const e = errors[0]!;
        results.push(result);
        refuse(result, ruleError('ARCSIM_E_RULE_YAML', where, e.message), () => e.linePos?.[0]?.line ?? docLine);
        continue;
      }
      const raw = value as Record<string, unknown> | null;
      if (raw === null) continue;
      results.push(result);
      if (typeof raw === 'object') {
        if (typeof raw.title === 'string') result.title = raw.title;
        if (typeof raw.id === 'string') result.id = raw.id;
      }
      const label = `${where} (${typeof raw.title === 'string' ? raw.title : 'untitled'})`;
      // A rule without an id is known by its name, else by its file and place in it.
      const fallbackId = (name: string | undefined) => name ?? `${basename(file)}#${index + 1}`;
      /** Claims the rule's id (and its name, when another) in the namespace correlations refer to. */
      const claimIds = (doc: { id?: string; name?: string }): string => {
        const id = doc.id ?? fallbackId(doc.name);
        claim(id, label);
        if (doc.name && doc.name !== id) claim(doc.name, label);
        result.id = id;
        return id;
      };
      try {
        if (typeof raw !== 'object' || Array.isArray(raw)) throw ruleError('ARCSIM_E_RULE_SCHEMA', label, 'a rule is a YAML map');
        if ('correlation' in raw) {
          const parsed = CorrelationDoc.safeParse(raw);
          if (!parsed.success) throw schemaError(label, parsed.error.issues);
          const id = claimIds(parsed.data);
          pendingCorrelations.push({ doc: parsed.data, id, where: label, file, result, locate });
        } else {
          const parsed = DetectionDoc.safeParse(raw);
          if (!parsed.success) throw schemaError(label, parsed.error.issues);
          const id = claimIds(parsed.data);
          detections.push(compileDetection(parsed.data, id, label, file, mapping));
        }
      } catch (err) {
        refuse(result, err, locate);
      }
    }
  }

  const byRef = new Map<string, DetectionRule | CorrelationRule>();
  for (const d of detections) {
    byRef.set(d.id, d);
    if (d.name) byRef.set(d.name, d);
  }
  // Correlations may refer to correlations (temporal chains): compile referenced ones first.
  const pendingByRef = new Map<string, Pending>();
  for (const p of pendingCorrelations) {
    pendingByRef.set(p.id, p);
    if (p.doc.name) pendingByRef.set(p.doc.name, p);
  }
  const referencedBy = new Map<string, Pending[]>();
  for (const p of pendingCorrelations) {
    for (const r of p.doc.correlation.rules) {
      const target = byRef.get(r)?.id ?? pendingByRef.get(r)?.id;
      if (target) referencedBy.set(target, [...(referencedBy.get(target) ?? []), p]);
    }
  }
  const visiting = new Set<string>();
  const failed = new Set<string>();
  const compile = (p: Pending): CorrelationRule | undefined => {
    const done = byRef.get(p.id);
    if (done) return done as CorrelationRule;
    if (failed.has(p.id)) return undefined;
    try {
      if (visiting.has(p.id)) throw ruleError('ARCSIM_E_RULE_REFERENCE', p.where, 'correlations refer to each other in a cycle', 'correlation.rules');
      visiting.add(p.id);
      p.doc.correlation.rules.forEach((ref, i) => {
        const inner = pendingByRef.get(ref);
        if (inner && !compile(inner)) throw ruleError('ARCSIM_E_RULE_REFERENCE', p.where, `"${ref}" was refused`, `correlation.rules.${i}`);
      });
      const c = compileCorrelation(p.doc, p.id, p.where, p.file, byRef, referencedBy.get(p.id) ?? [], mapping);
      byRef.set(c.id, c);
      if (c.name) byRef.set(c.name, c);
      return c;
    } catch (err) {
      failed.add(p.id);
      if (p.result.status === 'loaded') refuse(p.result, err, p.locate);
      return undefined;
    } finally {
      visiting.delete(p.id);
    }
  };
  const correlations = pendingCorrelations.map(compile).filter((c): c is CorrelationRule => c !== undefined);

  // A detection rule without an arcsim block raises a custom-detection alert, unless correlations
  // use it and none asks for `generate: true` (Sigma: referenced rules generate no output of their own).
  const loadedUsers = new Map<string, CorrelationRule[]>();
  for (const c of correlations) for (const r of c.rules) loadedUsers.set(r, [...(loadedUsers.get(r) ?? []), c]);
  for (const d of detections) {
    if (d.mapping) continue;
    const users = loadedUsers.get(d.id) ?? [];
    if (users.length === 0 || users.some((u) => u.generate)) d.mapping = d.custom;
  }

  const byTable = new Map<TableName, DetectionRule[]>();
  for (const d of detections) byTable.set(d.table, [...(byTable.get(d.table) ?? []), d]);
  const correlationsOf = new Map<string, CorrelationRule[]>();
  for (const c of correlations) for (const r of c.rules) correlationsOf.set(r, [...(correlationsOf.get(r) ?? []), c]);
  const profileTables = new Set(detections.filter((d) => d.profileFields.length > 0).map((d) => d.table));
  return { set: { detections, correlations, byTable, correlationsOf, profileTables }, results, refused: results.filter((r) => r.status === 'refused') };
}

/** The 1-based line of `path` (dot-separated keys / indexes) inside a YAML document, as deep as it resolves. */
function lineOf(doc: Document.Parsed, lc: LineCounter, path: string | undefined): number | undefined {
  if (!path) return undefined;
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as { range?: number[] } | null)?.range?.[0];
  const segs = path.split('.');
  for (let i = 0; i < segs.length; i++) {
    if (isMap(node)) {
      // A key may itself contain dots: try the longest key that matches.
      let found = false;
      for (let j = segs.length; j > i; j--) {
        const key = segs.slice(i, j).join('.');
        const pair = node.items.find((it) => String((it.key as { value?: unknown } | null)?.value ?? it.key) === key);
        if (pair) {
          offset = (pair.key as { range?: number[] } | null)?.range?.[0] ?? offset;
          node = pair.value;
          i = j - 1;
          found = true;
          break;
        }
      }
      if (!found) break;
    } else if (isSeq(node)) {
      const item = node.items[Number(segs[i])];
      if (item === undefined) break;
      node = item;
      offset = (item as { range?: number[] }).range?.[0] ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lc.linePos(offset).line;
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

/** Sigma level -> MDE alert severity (MDE has no Critical: critical rules raise High alerts). */
const LEVEL_SEVERITY = { informational: 'Informational', low: 'Low', medium: 'Medium', high: 'High', critical: 'High' } as const;

/** ATT&CK tactic (Sigma tag, e.g. attack.defense-evasion) -> MDC alert intent. */
const TACTIC_INTENT: Record<string, (typeof INTENTS)[number]> = {
  reconnaissance: 'PreAttack', resource_development: 'PreAttack', initial_access: 'InitialAccess', execution: 'Execution',
  persistence: 'Persistence', privilege_escalation: 'PrivilegeEscalation', defense_evasion: 'DefenseEvasion',
  credential_access: 'CredentialAccess', discovery: 'Discovery', lateral_movement: 'LateralMovement', collection: 'Collection',
  command_and_control: 'CommandAndControl', exfiltration: 'Exfiltration', impact: 'Impact',
};

/** Default dedup window of custom detections, as for any rule without one. */
const CUSTOM_DEDUP_WINDOW_MS = 24 * 3_600_000;

/**
 * The alert a rule without an `arcsim` block raises, as an MDE custom detection would: display
 * name = title, severity from `level` (Medium when the rule has none), ATT&CK from `tags`,
 * detection source "CustomDetection", alert type derived from the rule id.
 */
function customMapping(doc: { title: string; description?: string; level?: keyof typeof LEVEL_SEVERITY }, id: string, tactics: string[]): AlertMapping {
  const intents = [...new Set(tactics.map((t) => TACTIC_INTENT[t.replace(/-/g, '_')]).filter((x): x is (typeof INTENTS)[number] => x !== undefined))];
  return {
    alertType: `CustomDetection_${id}`,
    alertDisplayName: doc.title,
    severity: doc.level ? LEVEL_SEVERITY[doc.level] : 'Medium',
    intent: intents.length ? intents : ['Unknown'],
    product: 'MDE',
    description: doc.description?.trim() || doc.title,
    remediationSteps: [],
    dedup: { fields: [], windowMs: CUSTOM_DEDUP_WINDOW_MS },
    detectionSource: 'CustomDetection',
  };
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

const KNOWN_KEYS = new Set(['title', 'id', 'name', 'status', 'description', 'references', 'author', 'date', 'modified', 'tags', 'level',
  'falsepositives', 'license', 'related', 'taxonomy', 'scope', 'arcsim', 'logsource', 'detection', 'fields', 'correlation']);

function compileDetection(doc: z.infer<typeof DetectionDoc>, id: string, where: string, file: string, fieldMapping: FieldMapping): DetectionRule {
  const target = fieldMapping.logsource(doc.logsource);
  if ('error' in target) throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, target.error, 'logsource');
  const { table, actionTypes } = target;
  const { condition, timeframe, ...selections } = doc.detection;
  if (timeframe !== undefined) {
    throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, '"timeframe" in detection is legacy Sigma (aggregations); use a correlation rule with timespan', 'detection.timeframe');
  }
  const compiled = new Map<string, Predicate>();
  const profileFields = new Set<string>();
  for (const [name, body] of Object.entries(selections)) {
    try {
      compiled.set(name, compileSelection(name, body, { table, mapping: fieldMapping, profileFields }));
    } catch (err) {
      if (!(err instanceof SelectionError)) throw err;
      const code = err.kind === 'unsupported' ? 'ARCSIM_E_RULE_UNSUPPORTED' : err.kind === 'field' ? 'ARCSIM_E_RULE_FIELD' : 'ARCSIM_E_RULE_SCHEMA';
      const path = err.path || `detection.${name}`;
      throw ruleError(code, where, `${path}: ${err.message}`, path);
    }
  }
  const conditions = typeof condition === 'string' ? [condition]
    : Array.isArray(condition) && condition.length > 0 && condition.every((c) => typeof c === 'string') ? condition as string[] : undefined;
  if (!conditions) throw ruleError('ARCSIM_E_RULE_CONDITION', where, 'detection.condition must be a string or a list of strings', 'detection.condition');
  const legacy = conditions.find((c) => c.includes('|'));
  if (legacy) {
    const what = /\|\s*near\b/.test(legacy) ? 'the "near" aggregation' : /\|\s*(count|min|max|avg|sum)\s*\(/.test(legacy) ? `the "${/\|\s*(\w+)/.exec(legacy)![1]}()" aggregation` : 'an aggregation pipe';
    throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, `"${legacy}": ${what} is legacy Sigma (removed in Sigma 2.0) and not supported; use a correlation rule`, 'detection.condition');
  }
  let cond: Predicate;
  try {
    // A list of conditions: each is a query, so the rule matches when any does.
    const fns = conditions.map((c) => compileCondition(c, compiled));
    cond = fns.length === 1 ? fns[0]! : (e) => fns.some((f) => f(e));
  } catch (err) {
    throw ruleError('ARCSIM_E_RULE_CONDITION', where, `"${conditions.join('" / "')}": ${(err as Error).message}`, 'detection.condition');
  }
  const { techniques, tactics } = attackTags(doc.tags);
  const mapping = doc.arcsim && toMapping(doc.arcsim, where);
  if (mapping) checkDedupFields(mapping, [table], where, fieldMapping);
  const actions = actionTypes && new Set(actionTypes);
  const match: Predicate = actions ? (e) => actions.has(e.ActionType as string) && cond(e) : cond;
  const extra = Object.fromEntries(Object.entries(doc).filter(([k]) => !KNOWN_KEYS.has(k)));
  const needs = new Map([...compiled].map(([name, p]) => [name, selectionNeed(p)]));
  const need = needOr(conditions.map((c) => conditionNeed(c, needs)));
  return {
    kind: 'detection', id, name: doc.name, title: doc.title, file, table, techniques, tactics, match, need,
    product: doc.logsource.product?.toLowerCase(), mapping,
    custom: customMapping(doc, id, tactics), extra, profileFields: [...profileFields],
  };
}

function checkDedupFields(mapping: AlertMapping, tables: TableName[], where: string, fieldMapping: FieldMapping): void {
  for (const f of mapping.dedup.fields) {
    for (const t of tables) {
      if (typeof fieldMapping.resolve(t, f) === 'string') throw ruleError('ARCSIM_E_RULE_FIELD', where, `dedup field "${f}" does not exist in ${t}`, 'arcsim.dedup.fields');
    }
  }
}

function compileCorrelation(
  doc: z.infer<typeof CorrelationDoc>, id: string, where: string, file: string, byRef: Map<string, DetectionRule | CorrelationRule>,
  users: Array<{ doc: z.infer<typeof CorrelationDoc> }>, fieldMapping: FieldMapping,
): CorrelationRule {
  const resolveField = (t: TableName, f: string) => typeof fieldMapping.resolve(t, f) !== 'string';
  const c = doc.correlation;
  if (!(CORRELATION_TYPES as readonly string[]).includes(c.type)) {
    throw ruleError('ARCSIM_E_RULE_UNSUPPORTED', where, `correlation type "${c.type}" is not supported yet (supported: ${CORRELATION_TYPES.join(', ')})`, 'correlation.type');
  }
  const type = c.type as CorrelationRule['type'];
  const temporal = type === 'temporal' || type === 'temporal_ordered';
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
  const { techniques, tactics } = attackTags(doc.tags);
  // Without an arcsim block: a custom detection, unless it only feeds other correlations that do
  // not ask for `generate: true`.
  const mapping = doc.arcsim ? toMapping(doc.arcsim, where)
    : users.length === 0 || users.some((u) => u.doc.correlation.generate) ? customMapping(doc, id, tactics) : undefined;
  if (mapping) checkDedupFields(mapping, tables, where, fieldMapping);
  return {
    kind: 'correlation', id, name: doc.name, title: doc.title, file, type, rules: rules.map((r) => r.id),
    groupBy: c['group-by'], aliases, tables, timespanMs, op, threshold, valueField, techniques, tactics, mapping, generate: c.generate ?? false,
  };
}

import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNode, isPair, isScalar, isSeq, visit } from 'yaml';
import { readYaml } from '../lib/yaml.ts';
import type { z } from 'zod';
import { columnSchema, columnsOf, hasActionType, TABLE_NAMES, type TableName } from '../protocol/index.ts';
import { fileError, issuePath, type ArcsimError } from '../protocol/errors.ts';
import { parseDuration } from '../lib/duration.ts';
import { PHASES, ScenarioSchema, TACTICS, variantPhases, type InputValue, type Scenario, type ScenarioStep } from './schema.ts';

export const LIBRARY_DIR = join(dirname(fileURLToPath(import.meta.url)), 'library');

/** Columns the player fills in; a scenario may not set them. */
export const PLAYER_COLUMNS = ['Timestamp', 'DeviceId', 'DeviceName', 'ReportId', 'DetonationId'];
/** Template names every step has without declaring them. */
export const BUILTIN_ARGUMENTS = ['index'];
/** Longest one phase may run in event time. */
const MAX_SPAN_MS = 30 * 86_400_000;

const TEMPLATE = /#\{([a-zA-Z_][a-zA-Z0-9_.]*)\}/g;

/** Replaces `#{arg}` in a string; a string that is exactly one template takes the argument's own type. */
export function renderTemplate(value: string, args: Record<string, InputValue>): InputValue {
  const whole = /^#\{([a-zA-Z_][a-zA-Z0-9_.]*)\}$/.exec(value);
  if (whole && whole[1]! in args) return args[whole[1]!]!;
  return value.replace(TEMPLATE, (m, name: string) => (name in args ? String(args[name]) : m));
}

/** Renders every string in a value tree. */
export function renderDeep(value: unknown, args: Record<string, InputValue>): unknown {
  if (typeof value === 'string') return renderTemplate(value, args);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, args));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, args)]));
  return value;
}

function templatesIn(value: unknown, out: Array<{ name: string }>): void {
  if (typeof value === 'string') for (const m of value.matchAll(TEMPLATE)) out.push({ name: m[1]! });
  else if (Array.isArray(value)) value.forEach((v) => templatesIn(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => templatesIn(v, out));
}

/** Parses and fully validates a scenario; throws an ArcsimError with its ARCSIM_E_SCENARIO_* code and path. */
export function parseScenario(text: string, file = 'scenario'): Scenario {
  const { doc, errors, value } = readYaml(text);
  if (errors.length) throw fileError('ARCSIM_E_SCENARIO_YAML', file, '', errors[0]!.message.split('\n')[0]!);
  // In YAML, " #" starts a comment: an unquoted `-u #{wallet}` silently loses its tail.
  visit(doc, (_key, node, path) => {
    if (!isNode(node)) return;
    for (const c of [node.comment, node.commentBefore]) {
      if (c && /^\{[a-z][a-z0-9_]*\}/.test(c.trimStart())) {
        const chain = [...path, node];
        const at = chain.flatMap((p, i) => {
          if (isPair(p)) return [String(isScalar(p.key) ? p.key.value : p.key)];
          if (isSeq(p)) return [String(p.items.indexOf(chain[i + 1] as never))];
          return [];
        }).join('.');
        throw fileError('ARCSIM_E_SCENARIO_YAML', file, at, `a template after a space ("#${c.trimStart().split(' ')[0]}") starts a YAML comment and is cut off: quote the value`);
      }
    }
  });
  return validateScenario(value, file);
}

/** Every phase's steps of both variants, with the path prefix of each (`detonate`, `benign.cleanup`, ...). */
function allStepLists(s: Scenario): Array<[string, ScenarioStep[]]> {
  const out: Array<[string, ScenarioStep[]]> = [];
  for (const variant of ['attack', 'benign'] as const) {
    const v = variantPhases(s, variant);
    if (!v) continue;
    for (const phase of PHASES) out.push([`${v.prefix}${phase}`, v.phases[phase]]);
  }
  return out;
}

/** Validates an already-parsed scenario object (e.g. one received in a command). */
export function validateScenario(raw: unknown, file = 'scenario'): Scenario {
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) throw schemaError(file, parsed.error.issues);
  const s = parsed.data;

  s.techniques.forEach((t, i) => {
    if (!/^T\d{4}(\.\d{3})?$/.test(t)) throw fileError('ARCSIM_E_SCENARIO_TECHNIQUE', file, `techniques.${i}`, `"${t}"`);
  });
  s.tactics.forEach((t, i) => {
    if (!(TACTICS as readonly string[]).includes(t)) {
      throw fileError('ARCSIM_E_SCENARIO_TACTIC', file, `tactics.${i}`, `"${t}" (tactics: ${TACTICS.join(', ')})`);
    }
  });
  const alertTypes = new Set<string>();
  s.expect.alerts.forEach((a, i) => {
    if (alertTypes.has(a.alertType)) throw fileError('ARCSIM_E_SCENARIO_SCHEMA', file, `expect.alerts.${i}.alertType`, `${a.alertType} is listed twice`);
    alertTypes.add(a.alertType);
  });

  // Arguments: every template names a declared input (or a built-in), every input is used.
  const used = new Set<string>();
  const lists = allStepLists(s);
  for (const [prefix, steps] of lists) {
    steps.forEach((step, i) => {
      const found: Array<{ name: string }> = [];
      templatesIn(step, found);
      for (const { name } of found) {
        if (!(name in s.inputs) && !BUILTIN_ARGUMENTS.includes(name)) {
          throw fileError('ARCSIM_E_SCENARIO_MISSING_ARGUMENT', file, `${prefix}.${i}`, `#{${name}} is not declared under inputs`);
        }
        used.add(name);
      }
    });
  }
  for (const [name, arg] of Object.entries(s.inputs)) {
    if (!used.has(name)) throw fileError('ARCSIM_E_SCENARIO_UNUSED_ARGUMENT', file, `inputs.${name}`, `"${name}" is never used`);
    checkArgumentType(name, arg.type, arg.default, file, `inputs.${name}.default`);
  }

  const defaults = Object.fromEntries(Object.entries(s.inputs).map(([k, v]) => [k, v.default]));
  let usesSql = '';
  for (const [prefix, steps] of lists) {
    const sqlAt = checkSteps(steps, defaults, file, prefix);
    usesSql ||= sqlAt;
  }
  if (usesSql && !s.platforms.includes('sql')) {
    throw fileError('ARCSIM_E_SCENARIO_PLATFORM', file, usesSql, 'this event is a SqlEvents row, so platforms must include sql (the host needs a SQL instance)');
  }
  return s;
}

/** Merges caller inputs over a scenario's defaults, checking names and types. */
export function resolveInputs(s: Scenario, given: Record<string, InputValue> = {}, file = s.slug): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  for (const [name, arg] of Object.entries(s.inputs)) out[name] = arg.default;
  for (const [name, value] of Object.entries(given)) {
    const arg = s.inputs[name];
    if (!arg) throw fileError('ARCSIM_E_SCENARIO_MISSING_ARGUMENT', file, `inputs.${name}`, `scenario has no input "${name}"`);
    out[name] = coerceArgument(name, arg.type, value, file);
  }
  return out;
}

function coerceArgument(name: string, type: string, value: InputValue, file: string): InputValue {
  if (type === 'string') return String(value);
  if (type === 'duration') {
    if (typeof value === 'string' && isDuration(value)) return value;
  } else if (type === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
  } else {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (Number.isFinite(n) && (type === 'number' || Number.isInteger(n))) return n;
  }
  throw fileError('ARCSIM_E_SCENARIO_ARGUMENT_TYPE', file, `inputs.${name}`, `${JSON.stringify(value)} is not a${type === 'integer' ? 'n' : ''} ${type}`);
}

function isDuration(v: string): boolean {
  try {
    parseDuration(v);
    return true;
  } catch {
    return false;
  }
}

function checkArgumentType(name: string, type: string, value: InputValue, file: string, path: string): void {
  const ok = type === 'string' ? typeof value === 'string'
    : type === 'duration' ? typeof value === 'string' && isDuration(value)
    : type === 'boolean' ? typeof value === 'boolean'
    : type === 'integer' ? Number.isInteger(value) : typeof value === 'number';
  if (!ok) throw fileError('ARCSIM_E_SCENARIO_ARGUMENT_TYPE', file, path, `default ${JSON.stringify(value)} of "${name}" is not a${type === 'integer' ? 'n' : ''} ${type}`);
}

/** Resolves a step's `repeat` (a number or a template of an integer input). */
export function repeatCount(step: ScenarioStep, args: Record<string, InputValue>, file: string, path: string): number {
  const value = typeof step.repeat === 'string' ? renderTemplate(step.repeat, args) : step.repeat;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    throw fileError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.repeat`, `repeat must be an integer from 1 to 100000, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A step's resolved timing, ms; throws ARCSIM_E_SCENARIO_TIMING when it is impossible. */
export interface StepTiming {
  after: number;
  every: number;
  jitter: number;
  repeat: number;
}

export function stepTiming(step: ScenarioStep, args: Record<string, InputValue>, file: string, path: string): StepTiming {
  const ms = (key: 'after' | 'every' | 'jitter'): number => {
    const text = String(renderTemplate(step[key], args));
    try {
      return parseDuration(text);
    } catch {
      throw fileError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.${key}`, `"${text}" is not a duration (e.g. 500ms, 3s, 10m, 24h)`);
    }
  };
  const t = { after: ms('after'), every: ms('every'), jitter: ms('jitter'), repeat: repeatCount(step, args, file, path) };
  if (t.repeat > 1 && t.every <= 0) throw fileError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.every`, 'a repeated step needs every > 0');
  if (t.jitter > 0 && t.repeat > 1 && t.jitter >= t.every) {
    throw fileError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.jitter`, `jitter (${step.jitter}) must be shorter than every (${step.every}) so repetitions keep their order`);
  }
  return t;
}

/** Checks one phase's steps with the default inputs; returns the path of a SqlEvents event, if any. */
function checkSteps(steps: ScenarioStep[], args: Record<string, InputValue>, file: string, prefix: string): string {
  let span = 0;
  let sqlAt = '';
  steps.forEach((step, i) => {
    const path = `${prefix}.${i}`;
    const t = stepTiming(step, args, file, path);
    span += t.after + t.every * (t.repeat - 1) + t.jitter;
    if (span > MAX_SPAN_MS) throw fileError('ARCSIM_E_SCENARIO_TIMING', file, path, 'the phase would run longer than 30 days of event time');
    step.events.forEach((ev, j) => {
      const rendered = renderDeep(ev, { ...args, index: 0 }) as Record<string, unknown>;
      checkEvent(rendered, file, `${path}.events.${j}`);
      if (rendered.Table === 'SqlEvents' && !sqlAt) sqlAt = `${path}.events.${j}.Table`;
    });
  });
  return sqlAt;
}

function checkEvent(ev: Record<string, unknown>, file: string, path: string): void {
  const table = ev.Table;
  if (typeof table !== 'string' || !TABLE_NAMES.includes(table as TableName)) {
    throw fileError('ARCSIM_E_SCENARIO_TABLE', file, `${path}.Table`, `${JSON.stringify(table)} (tables: ${TABLE_NAMES.join(', ')})`);
  }
  const allowed = columnsOf(table as TableName);
  for (const [column, value] of Object.entries(ev)) {
    if (column === 'Table') continue;
    if (PLAYER_COLUMNS.includes(column)) throw fileError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.${column}`, `${column} is set by the player`);
    if (!allowed.includes(column)) throw fileError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.${column}`, `${table} has no column ${column}`);
    const schema = columnSchema(table as TableName, column)!;
    if (!schema.safeParse(value).success) {
      throw fileError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.${column}`, `${JSON.stringify(value)} is not a valid ${column}`);
    }
  }
  if (hasActionType(table as TableName) && typeof ev.ActionType !== 'string') throw fileError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.ActionType`, 'every event needs an ActionType');
}

function schemaError(file: string, issues: z.core.$ZodIssue[]): ArcsimError {
  const issue = issues[0]!;
  const path = issuePath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keyPath = issuePath([...issue.path, issue.keys[0]!]);
    return fileError('ARCSIM_E_SCENARIO_UNKNOWN_KEY', file, keyPath, `${issue.keys.map((k) => `"${k}"`).join(', ')} (not part of the scenario format)`);
  }
  return fileError('ARCSIM_E_SCENARIO_SCHEMA', file, path, issue.message);
}

/** Reads one scenario file. */
export function loadScenarioFile(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), basename(path));
}

/** Every scenario in a directory (default: the shipped library), by slug; slugs and ids must be unique. */
export function loadLibrary(dir: string = LIBRARY_DIR): Map<string, Scenario> {
  const files = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
  return libraryFromTexts(files, dir);
}

/** A library from file texts (the agent bundle embeds the shipped library's files), by slug; slugs and ids must be unique. */
export function libraryFromTexts(files: Array<{ name: string; text: string }>, where: string): Map<string, Scenario> {
  const out = new Map<string, Scenario>();
  const ids = new Set<string>();
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const s = parseScenario(f.text, f.name);
    if (out.has(s.slug) || ids.has(s.id)) throw fileError('ARCSIM_E_SCENARIO_SCHEMA', f.name, 'slug', `slug "${s.slug}" or id ${s.id} is used twice in ${where}`);
    out.set(s.slug, s);
    ids.add(s.id);
  }
  return out;
}

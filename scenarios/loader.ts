import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { columnSchema, columnsOf, TABLE_NAMES, type TableName } from '../protocol/index.ts';
import { issuePath, type ArcsimError } from '../protocol/errors.ts';
import { parseDuration } from '../lib/duration.ts';
import { ScenarioSchema, type InputValue, type Scenario, type ScenarioStep } from './schema.ts';
import { scenarioError } from './errors.ts';

export const LIBRARY_DIR = join(dirname(fileURLToPath(import.meta.url)), 'library');

/** Columns the player fills in; a scenario may not set them. */
export const PLAYER_COLUMNS = ['Timestamp', 'DeviceId', 'DeviceName', 'ReportId', 'DetonationId'];
/** Template names every step has without declaring them. */
export const BUILTIN_ARGUMENTS = ['index'];
/** Longest a scenario may run in event time. */
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
  const doc = parseDocument(text);
  if (doc.errors.length) throw scenarioError('ARCSIM_E_SCENARIO_YAML', file, '', doc.errors[0]!.message);
  return validateScenario(doc.toJS(), file);
}

/** Validates an already-parsed scenario object (e.g. one received in a command). */
export function validateScenario(raw: unknown, file = 'scenario'): Scenario {
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) throw schemaError(file, parsed.error.issues);
  const s = parsed.data;

  s.techniques.forEach((t, i) => {
    if (!/^T\d{4}(\.\d{3})?$/.test(t)) throw scenarioError('ARCSIM_E_SCENARIO_TECHNIQUE', file, `techniques.${i}`, `"${t}"`);
  });

  // Arguments: every template names a declared input (or a built-in), every input is used.
  const used = new Set<string>();
  const variants: Array<[string, ScenarioStep[]]> = [['steps', s.steps], ...(s.benign ? [['benign.steps', s.benign.steps] as [string, ScenarioStep[]]] : [])];
  for (const [prefix, steps] of variants) {
    steps.forEach((step, i) => {
      const found: Array<{ name: string }> = [];
      templatesIn(step, found);
      for (const { name } of found) {
        if (!(name in s.inputs) && !BUILTIN_ARGUMENTS.includes(name)) {
          throw scenarioError('ARCSIM_E_SCENARIO_MISSING_ARGUMENT', file, `${prefix}.${i}`, `#{${name}} is not declared under inputs`);
        }
        used.add(name);
      }
    });
  }
  for (const [name, arg] of Object.entries(s.inputs)) {
    if (!used.has(name)) throw scenarioError('ARCSIM_E_SCENARIO_UNUSED_ARGUMENT', file, `inputs.${name}`, `"${name}" is never used`);
    checkArgumentType(name, arg.type, arg.default, file, `inputs.${name}.default`);
  }

  const defaults = Object.fromEntries(Object.entries(s.inputs).map(([k, v]) => [k, v.default]));
  for (const [prefix, steps] of variants) checkSteps(steps, defaults, file, prefix);
  return s;
}

/** Merges caller inputs over a scenario's defaults, checking names and types. */
export function resolveInputs(s: Scenario, given: Record<string, InputValue> = {}, file = s.slug): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  for (const [name, arg] of Object.entries(s.inputs)) out[name] = arg.default;
  for (const [name, value] of Object.entries(given)) {
    const arg = s.inputs[name];
    if (!arg) throw scenarioError('ARCSIM_E_SCENARIO_MISSING_ARGUMENT', file, `inputs.${name}`, `scenario has no input "${name}"`);
    out[name] = coerceArgument(name, arg.type, value, file);
  }
  return out;
}

function coerceArgument(name: string, type: string, value: InputValue, file: string): InputValue {
  if (type === 'string') return String(value);
  if (type === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
  } else {
    const n = typeof value === 'number' ? value : Number(value);
    if (Number.isFinite(n) && (type === 'number' || Number.isInteger(n))) return n;
  }
  throw scenarioError('ARCSIM_E_SCENARIO_ARGUMENT_TYPE', file, `inputs.${name}`, `${JSON.stringify(value)} is not a ${type}`);
}

function checkArgumentType(name: string, type: string, value: InputValue, file: string, path: string): void {
  const ok = type === 'string' ? typeof value === 'string'
    : type === 'boolean' ? typeof value === 'boolean'
    : type === 'integer' ? Number.isInteger(value) : typeof value === 'number';
  if (!ok) throw scenarioError('ARCSIM_E_SCENARIO_ARGUMENT_TYPE', file, path, `default ${JSON.stringify(value)} of "${name}" is not a ${type}`);
}

/** Resolves a step's `repeat` (a number or a template of an integer input). */
export function repeatCount(step: ScenarioStep, args: Record<string, InputValue>, file: string, path: string): number {
  const value = typeof step.repeat === 'string' ? renderTemplate(step.repeat, args) : step.repeat;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    throw scenarioError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.repeat`, `repeat must be an integer from 1 to 100000, got ${JSON.stringify(value)}`);
  }
  return n;
}

function checkSteps(steps: ScenarioStep[], args: Record<string, InputValue>, file: string, prefix: string): void {
  let span = 0;
  steps.forEach((step, i) => {
    const path = `${prefix}.${i}`;
    const [after, every, jitter] = (['after', 'every', 'jitter'] as const).map((k) => parseDuration(step[k]));
    const repeat = repeatCount(step, args, file, path);
    if (repeat > 1 && every! <= 0) throw scenarioError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.every`, 'a repeated step needs every > 0');
    if (repeat > 1 && jitter! >= every!) {
      throw scenarioError('ARCSIM_E_SCENARIO_TIMING', file, `${path}.jitter`, `jitter (${step.jitter}) must be shorter than every (${step.every}) so repetitions keep their order`);
    }
    span += after! + every! * (repeat - 1) + jitter!;
    if (span > MAX_SPAN_MS) throw scenarioError('ARCSIM_E_SCENARIO_TIMING', file, path, 'the scenario would run longer than 30 days of event time');
    step.events.forEach((ev, j) => checkEvent(renderDeep(ev, { ...args, index: 0 }) as Record<string, unknown>, file, `${path}.events.${j}`));
  });
}

function checkEvent(ev: Record<string, unknown>, file: string, path: string): void {
  const table = ev.Table;
  if (typeof table !== 'string' || !TABLE_NAMES.includes(table as TableName)) {
    throw scenarioError('ARCSIM_E_SCENARIO_TABLE', file, `${path}.Table`, `${JSON.stringify(table)} (tables: ${TABLE_NAMES.join(', ')})`);
  }
  const allowed = columnsOf(table as TableName);
  for (const [column, value] of Object.entries(ev)) {
    if (column === 'Table') continue;
    if (PLAYER_COLUMNS.includes(column)) throw scenarioError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.${column}`, `${column} is set by the player`);
    if (!allowed.includes(column)) throw scenarioError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.${column}`, `${table} has no column ${column}`);
    const schema = columnSchema(table as TableName, column)!;
    if (!schema.safeParse(value).success) {
      throw scenarioError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.${column}`, `${JSON.stringify(value)} is not a valid ${column}`);
    }
  }
  if (typeof ev.ActionType !== 'string') throw scenarioError('ARCSIM_E_SCENARIO_COLUMN', file, `${path}.ActionType`, 'every event needs an ActionType');
}

function schemaError(file: string, issues: z.core.$ZodIssue[]): ArcsimError {
  const issue = issues[0]!;
  const path = issuePath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keyPath = issuePath([...issue.path, issue.keys[0]!]);
    return scenarioError('ARCSIM_E_SCENARIO_UNKNOWN_KEY', file, keyPath, `${issue.keys.map((k) => `"${k}"`).join(', ')} (not part of the scenario format)`);
  }
  return scenarioError('ARCSIM_E_SCENARIO_SCHEMA', file, path, issue.message);
}

/** Reads one scenario file. */
export function loadScenarioFile(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), basename(path));
}

/** Every scenario in a directory (default: the shipped library), by slug; slugs and ids must be unique. */
export function loadLibrary(dir: string = LIBRARY_DIR): Map<string, Scenario> {
  const out = new Map<string, Scenario>();
  const ids = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const s = loadScenarioFile(join(dir, f));
    if (out.has(s.slug) || ids.has(s.id)) throw scenarioError('ARCSIM_E_SCENARIO_SCHEMA', f, 'slug', `slug "${s.slug}" or id ${s.id} is used twice in ${dir}`);
    out.set(s.slug, s);
    ids.add(s.id);
  }
  return out;
}

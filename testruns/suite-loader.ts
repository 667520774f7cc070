import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { readYaml } from '../lib/yaml.ts';
import type { z } from 'zod';
import { ArcsimError, ArcsimErrors, fileError, issuePath, type ErrorCode, type Faults } from '../protocol/index.ts';
import { parseDuration } from '../lib/duration.ts';
import { loadLibrary, loadScenarioFile, resolveInputs, type InputValue, type Scenario } from '../scenarios/index.ts';
import { SuiteSchema, type Expect, type HostSelector, type IncidentCheck } from './suite-schema.ts';

/** One scenario run of a suite with everything resolved: the scenario document, inputs, expectations. */
export interface ResolvedRun {
  id: string;
  slug: string;
  variant: 'attack' | 'benign';
  hosts: string[];
  inputs: Record<string, InputValue>;
  seed?: number | string;
  speed: number;
  rounds: number;
  faults?: Faults;
  expect: Expect;
  scenario: Scenario;
  /** The sync profile the row needs (the runner switches to it for the row). */
  sync?: { profile: string };
}

/** A validated suite, JSON-serialisable (it is stored with the run and carried in bundles). */
export interface ResolvedSuite {
  name: string;
  description?: string;
  file?: string;
  sync?: { profile: string };
  settings: { commandTimeoutMs: number; settleMs: number; pollIntervalMs: number };
  hosts: Record<string, HostSelector>;
  scenarios: ResolvedRun[];
  incidents: IncidentCheck[];
}

export interface LoadSuiteOptions {
  /** Scenario library used for slugs (default: the shipped library). */
  library?: Map<string, Scenario>;
  /** Directory scenario file paths are relative to (default: the suite file's). */
  baseDir?: string;
}

/** Reads and validates a suite file; throws ArcsimErrors listing every problem, each with code and path. */
export function loadSuiteFile(path: string, options: LoadSuiteOptions = {}): ResolvedSuite {
  const text = readFileSync(path, 'utf8');
  return parseSuite(text, { ...options, file: basename(path), baseDir: options.baseDir ?? dirname(resolve(path)) });
}

/**
 * Parses and validates a suite: schema, scenario references, inputs against each scenario's
 * declared inputs, host-selector and run references, and expectations that could never be
 * checked. Nothing is sent anywhere; a suite that fails here never starts.
 */
export function parseSuite(text: string, options: LoadSuiteOptions & { file?: string } = {}): ResolvedSuite {
  const file = options.file ?? 'suite';
  const doc = readYaml(text);
  if (doc.errors.length) throw new ArcsimErrors(doc.errors.map((e) => fileError('ARCSIM_E_SUITE_YAML', file, '', e.message)));
  const parsed = SuiteSchema.safeParse(doc.value);
  if (!parsed.success) throw new ArcsimErrors(parsed.error.issues.map((i) => schemaError(file, i)));
  const s = parsed.data;
  const errors: ArcsimError[] = [];
  const err = (code: ErrorCode, path: string, detail: string) => errors.push(fileError(code, file, path, detail));
  const library = options.library ?? loadLibrary();
  const baseDir = options.baseDir ?? process.cwd();

  const settings = { commandTimeoutMs: 0, settleMs: 0, pollIntervalMs: 0 };
  for (const [k, key] of [['commandTimeout', 'commandTimeoutMs'], ['settle', 'settleMs'], ['pollInterval', 'pollIntervalMs']] as const) {
    settings[key] = parseDuration(s.settings[k]);
  }

  const runs: ResolvedRun[] = [];
  const ids = new Set<string>();
  s.scenarios.forEach((r, i) => {
    const at = `scenarios.${i}`;
    if (ids.has(r.id)) err('ARCSIM_E_SUITE_DUPLICATE', `${at}.id`, `"${r.id}" is used by an earlier scenario run`);
    ids.add(r.id);
    r.hosts.forEach((h, j) => {
      if (!(h in s.hosts)) err('ARCSIM_E_SUITE_REFERENCE', `${at}.hosts.${j}`, `no host selector "${h}" (defined: ${Object.keys(s.hosts).join(', ')})`);
    });
    let scenario: Scenario | undefined;
    if (/\.ya?ml$/.test(r.scenario)) {
      try {
        scenario = loadScenarioFile(resolve(baseDir, r.scenario));
      } catch (e) {
        const inner = e as ArcsimError;
        err('ARCSIM_E_SUITE_SCENARIO', `${at}.scenario`, `${r.scenario}: ${inner.code ? `${inner.code}: ` : ''}${inner.message}`);
      }
    } else {
      scenario = library.get(r.scenario);
      if (!scenario) err('ARCSIM_E_SUITE_SCENARIO', `${at}.scenario`, `no library scenario "${r.scenario}" (library: ${[...library.keys()].join(', ')})`);
    }
    if (!scenario) return;
    if (r.variant === 'benign' && !scenario.benign) err('ARCSIM_E_SUITE_SCENARIO', `${at}.variant`, `scenario ${scenario.slug} has no benign twin`);
    let inputs: Record<string, InputValue> = {};
    try {
      inputs = resolveInputs(scenario, r.inputs ?? {}, scenario.slug);
    } catch (e) {
      const inner = e as ArcsimError;
      err('ARCSIM_E_SUITE_INPUT', `${at}.${inner.path ?? 'inputs'}`, inner.message);
    }
    const expect: Expect = r.expect ?? {
      alerts: r.variant === 'attack' ? scenario.expect.alerts.map((a) => ({ alertType: a.alertType, count: a.count })) : [],
      noOtherAlerts: true,
    };
    const types = new Set<string>();
    expect.alerts.forEach((a, j) => {
      if (types.has(a.alertType)) err('ARCSIM_E_SUITE_EXPECTATION', `${at}.expect.alerts.${j}.alertType`, `${a.alertType} is expected twice; give one count`);
      types.add(a.alertType);
      if (a.occurrences !== undefined && a.count === 0) err('ARCSIM_E_SUITE_EXPECTATION', `${at}.expect.alerts.${j}.occurrences`, 'occurrences of an alert expected 0 times');
    });
    (expect.statusChanges ?? []).forEach((c, j) => {
      if (!expect.alerts.some((a) => a.alertType === c.alertType && a.count === 1)) {
        err('ARCSIM_E_SUITE_EXPECTATION', `${at}.expect.statusChanges.${j}.alertType`, `${c.alertType} must be expected exactly once in expect.alerts to change its status`);
      }
      if (!s.sync && !r.sync) err('ARCSIM_E_SUITE_EXPECTATION', `${at}.expect.statusChanges.${j}`, 'status expectations depend on the sync profile: say which one with sync.profile at the top of the suite (or on the row)');
    });
    runs.push({
      id: r.id, slug: scenario.slug, variant: r.variant, hosts: r.hosts, inputs, seed: r.seed, speed: r.speed, rounds: r.rounds,
      faults: r.faults, expect, scenario, ...(r.sync ? { sync: r.sync } : {}),
    });
  });

  const checkIds = new Set<string>();
  s.incidents.forEach((c, i) => {
    const at = `incidents.${i}`;
    if (checkIds.has(c.id) || ids.has(c.id)) err('ARCSIM_E_SUITE_DUPLICATE', `${at}.id`, `"${c.id}" is already used`);
    checkIds.add(c.id);
    c.hosts.forEach((h, j) => {
      if (!(h in s.hosts)) err('ARCSIM_E_SUITE_REFERENCE', `${at}.hosts.${j}`, `no host selector "${h}"`);
    });
    c.alerts.forEach((a, j) => {
      const run = runs.find((r) => r.id === a.run);
      if (!run) {
        if (!s.scenarios.some((r) => r.id === a.run)) err('ARCSIM_E_SUITE_REFERENCE', `${at}.alerts.${j}.run`, `no scenario run "${a.run}"`);
        return;
      }
      if (!run.expect.alerts.some((x) => x.alertType === a.alertType && x.count === 1)) {
        err('ARCSIM_E_SUITE_EXPECTATION', `${at}.alerts.${j}.alertType`, `run "${a.run}" does not expect exactly one ${a.alertType}`);
      }
    });
  });

  if (errors.length) throw new ArcsimErrors(errors);
  return {
    name: s.name, description: s.description, file: options.file, sync: s.sync, settings, hosts: s.hosts, scenarios: runs, incidents: s.incidents,
  };
}

function schemaError(file: string, issue: z.core.$ZodIssue): ArcsimError {
  if (issue.code === 'unrecognized_keys') {
    return fileError('ARCSIM_E_SUITE_UNKNOWN_KEY', file, issuePath([...issue.path, issue.keys[0]!]), `${issue.keys.map((k) => `"${k}"`).join(', ')} (not part of the suite format)`);
  }
  return fileError('ARCSIM_E_SUITE_SCHEMA', file, issuePath(issue.path), issue.message);
}

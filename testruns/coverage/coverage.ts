import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ArcsimError, protocolError } from '../../protocol/errors.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { detectOffline } from '../../control-plane/detection/offline-detect.ts';
import { DEFAULT_RULES_DIR, reportRulesDirs } from '../../control-plane/detection/index.ts';
import { readYaml, readYamlAll } from '../../lib/yaml.ts';
import { importAtomic } from '../../scenarios/atomic-import.ts';
import { planRun, type Scenario } from '../../scenarios/index.ts';

/** Event-time layout of a coverage run (each test on its own simulated host). */
export const COVERAGE_DEFAULTS = {
  /** Event time of the first test: a fixed instant, so a run is reproducible. */
  startTime: Date.parse('2026-01-01T00:00:00Z'),
  /** Minimum gap between the end of one test and the start of the next, ms (1 h). */
  gapMs: 3_600_000,
  /** Seed of the scenario player (ReportIds, jitter). */
  seed: 'arcsim-coverage',
} as const;

export interface CoverageOptions {
  /** An Atomic Red Team `atomics/` folder (atomics/Txxxx/Txxxx.yaml), or one technique file. */
  atomicsDir: string;
  /** Rule folders, read recursively and rule by rule (reportRulesDirs); default: the shipped rules. */
  rulesDirs?: string[];
  /** Wall clock, for the duration figure only (injectable). */
  now?: () => number;
}

/** One Atomic test: played (with the rules that fired on it) or refused by the importer. */
export interface CoverageTest {
  /** 1-based, as Invoke-AtomicTest -TestNumbers counts. */
  number: number;
  name: string;
  guid: string | null;
  status: 'played' | 'refused';
  /** The host OS the test was played on (from supported_platforms and the executor). */
  platform: 'windows' | 'linux' | null;
  events: number;
  detected: boolean;
  /** Ids of the rules that raised an alert on this test's events, sorted. */
  rules: string[];
  /**
   * Rules that fired but whose Sigma `logsource.product` names another OS than the test's (a
   * Windows rule on a Linux test's events): listed, not counted as detecting the test.
   */
  otherPlatformRules: string[];
  /** Why the importer refused it (status "refused"). */
  reason?: string;
}

export interface CoverageTechnique {
  id: string;
  name: string;
  file: string;
  /** True when at least one played test raised an alert. */
  detected: boolean;
  /** Every rule that fired on one of its tests, sorted. */
  rules: string[];
  tests: CoverageTest[];
}

export interface CoverageResult {
  atomicsDir: string;
  rulesDirs: string[];
  techniques: CoverageTechnique[];
  /** Technique files the importer refused as a whole (unknown key, bad YAML), with the reason. */
  refusedFiles: Array<{ file: string; reason: string }>;
  /** Every rule that fired, with its title and the number of tests it fired on. */
  rules: Array<{ id: string; title: string; file: string; tests: number }>;
  /** Rules the loader refused (file, code, message). */
  refusedRules: Array<{ file: string; code: string; message: string }>;
  totals: {
    techniqueFiles: number;
    techniques: number;
    techniquesPlayed: number;
    techniquesDetected: number;
    tests: number;
    testsPlayed: number;
    testsRefused: number;
    testsDetected: number;
    events: number;
    alerts: number;
    rulesLoaded: number;
    rulesRefused: number;
    rulesFired: number;
    /** (test, rule) pairs set aside because the rule is for another OS (see otherPlatformRules). */
    otherPlatformHits: number;
    durationMs: number;
  };
}

/**
 * The technique files of an ART checkout: atomics/<T>/<T>.yaml, sorted; or the one file given.
 * A path that does not exist, or holds no technique file, is ARCSIM_E_NOT_FOUND.
 */
export function atomicFilesIn(dir: string): string[] {
  let isFile: boolean;
  try {
    isFile = statSync(dir).isFile();
  } catch (err) {
    throw protocolError('ARCSIM_E_NOT_FOUND', `${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as NodeJS.ErrnoException).code ?? 'unreadable'}`, 'atomics');
  }
  if (isFile) return [dir];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^T\d{4}(\.\d{3})?$/.test(entry.name)) continue;
    for (const ext of ['yaml', 'yml']) {
      const file = join(dir, entry.name, `${entry.name}.${ext}`);
      try {
        if (statSync(file).isFile()) out.push(file);
      } catch {
        // no such file: a technique folder without a test file (ART keeps src/ and bin/ folders too)
      }
    }
  }
  // A folder of loose technique files (like test fixtures) works too.
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && /^T\d{4}(\.\d{3})?\.ya?ml$/.test(entry.name)) out.push(join(dir, entry.name));
  }
  if (out.length === 0) throw protocolError('ARCSIM_E_NOT_FOUND', `${dir}: no Atomic Red Team technique file (atomics/Txxxx/Txxxx.yaml, or Txxxx.yaml)`, 'atomics');
  return out.sort();
}

/**
 * Atomic × rules coverage: imports every Atomic Red Team technique file the way
 * `arcsim scenario import-atomic` does, plays each test (synthetic events only — nothing from the
 * atomic is ever executed), runs the rules over all of it in one offline detection run and says,
 * per technique and per test, which rules raised an alert.
 *
 * Each test is played on its own simulated host (DeviceId `art-<n>`), so every alert is
 * attributed to exactly one test (alerts are deduplicated per machine), and the tests are laid
 * out one after the other in event time with a gap longer than any correlation's timespan, so a
 * correlation never joins two tests.
 */
export async function runCoverage(options: CoverageOptions): Promise<CoverageResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const rulesDirs = options.rulesDirs?.length ? options.rulesDirs : [DEFAULT_RULES_DIR];
  // Rule by rule, as `arcsim detect` loads them: every rule that loads is used, refusals are listed.
  const report = reportRulesDirs(rulesDirs);
  const set = report.set;
  const refusedRules = report.refused.map((r) => ({ file: r.file, code: r.code ?? '', message: r.message ?? '' }));
  const maxTimespan = Math.max(0, ...set.correlations.map((c) => c.timespanMs));
  const gap = Math.max(COVERAGE_DEFAULTS.gapMs, maxTimespan + 60_000);

  const { files, techniques, refusedFiles, byDevice, events } = playAtomics(options.atomicsDir, gap);

  // Each test's host has the OS it was played on, so rules of another OS family do not run on it.
  const deviceOs = new Map([...byDevice].map(([d, t]) => [d, t.platform ?? '']));
  const alerts = await detectOffline(events, { rules: set, deviceOs });
  const ruleInfo = new Map<string, { title: string; file: string }>();
  for (const r of [...set.detections, ...set.correlations]) ruleInfo.set(r.id, { title: r.title, file: r.file });
  const products = productsOf(new Set(alerts.map((a) => a.ruleId)), ruleInfo);
  for (const a of alerts) {
    const t = byDevice.get(a.agentId);
    if (!t) continue;
    const product = products.get(a.ruleId);
    const list = product && (product === 'windows' || product === 'linux') && product !== t.platform ? t.otherPlatformRules : t.rules;
    if (!list.includes(a.ruleId)) list.push(a.ruleId);
  }
  const fired = new Map<string, number>();
  for (const tech of techniques) {
    const rules = new Set<string>();
    for (const t of tech.tests) {
      t.rules.sort();
      t.otherPlatformRules.sort();
      t.detected = t.rules.length > 0;
      for (const r of t.rules) {
        rules.add(r);
        fired.set(r, (fired.get(r) ?? 0) + 1);
      }
    }
    tech.rules = [...rules].sort();
    tech.detected = tech.rules.length > 0;
  }
  // By ATT&CK id (T1003 before T1003.001), not by path (where "T1003.001/" sorts before "T1003/").
  techniques.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const tests = techniques.flatMap((t) => t.tests);
  return {
    atomicsDir: options.atomicsDir,
    rulesDirs,
    techniques,
    refusedFiles,
    rules: [...fired].map(([id, n]) => ({ id, title: ruleInfo.get(id)?.title ?? id, file: ruleInfo.get(id)?.file ?? '', tests: n }))
      .sort((a, b) => b.tests - a.tests || (a.id < b.id ? -1 : 1)),
    refusedRules,
    totals: {
      techniqueFiles: files.length,
      techniques: techniques.length,
      techniquesPlayed: techniques.filter((t) => t.tests.some((x) => x.status === 'played')).length,
      techniquesDetected: techniques.filter((t) => t.detected).length,
      tests: tests.length,
      testsPlayed: tests.filter((t) => t.status === 'played').length,
      testsRefused: tests.filter((t) => t.status === 'refused').length,
      testsDetected: tests.filter((t) => t.detected).length,
      events: events.length,
      alerts: alerts.length,
      rulesLoaded: set.detections.length + set.correlations.length,
      rulesRefused: refusedRules.length,
      rulesFired: fired.size,
      otherPlatformHits: tests.reduce((n, t) => n + t.otherPlatformRules.length, 0),
      durationMs: now() - started,
    },
  };
}

/** The Atomic tests of an ART folder, imported and played: what coverage (and the detection bench) run the rules over. */
export interface PlayedAtomics {
  files: string[];
  techniques: CoverageTechnique[];
  refusedFiles: CoverageResult['refusedFiles'];
  /** The test played on each simulated host (DeviceId `art-<n>`). */
  byDevice: Map<string, CoverageTest>;
  /** Every event of every played test, in play order. */
  events: SensorEvent[];
}

/**
 * Imports every technique file under `atomicsDir` and plays each test on its own simulated host
 * (synthetic events only), the tests one after the other in event time, `gap` ms apart.
 */
export function playAtomics(atomicsDir: string, gap: number = COVERAGE_DEFAULTS.gapMs): PlayedAtomics {
  const files = atomicFilesIn(atomicsDir);
  const techniques: CoverageTechnique[] = [];
  const refusedFiles: CoverageResult['refusedFiles'] = [];
  const byDevice = new Map<string, CoverageTest>();
  const events: SensorEvent[] = [];
  let cursor = COVERAGE_DEFAULTS.startTime;
  for (const file of files) {
    const shown = relative(atomicsDir, file) || basename(file);
    let text: string;
    let imported: ReturnType<typeof importAtomic>;
    try {
      text = readFileSync(file, 'utf8');
      imported = importAtomic(text, basename(file));
    } catch (err) {
      if (!(err instanceof ArcsimError)) throw err;
      refusedFiles.push({ file: shown, reason: `${err.code}: ${err.message}` });
      continue;
    }
    const technique = techniqueOf(text, file);
    const tech: CoverageTechnique = { id: technique.id, name: technique.name, file: shown, detected: false, rules: [], tests: [] };
    // The importer names each test by its number: in a scenario's description, in a refusal's label
    // ('T1027 test 8 "name"'); every test of the file is listed, as played, refused or not imported.
    const played = new Map(imported.scenarios.map((s) => [testNumber(s), s]));
    const refusedByNumber = new Map(imported.skipped.map((k) => [Number(/ test (\d+) "/.exec(k.test)?.[1]), k]));
    const count = Math.max(technique.tests.length, ...played.keys(), ...refusedByNumber.keys());
    for (let n = 1; n <= count; n++) {
      const s = played.get(n);
      const skip = refusedByNumber.get(n);
      if (!s) {
        const name = technique.tests[n - 1]?.name ?? `test ${n}`;
        tech.tests.push({ number: n, name, guid: technique.tests[n - 1]?.guid ?? null, status: 'refused', platform: null, events: 0, detected: false, rules: [], otherPlatformRules: [], reason: skip?.reason ?? 'not imported' });
        continue;
      }
      const platform = s.platforms.includes('windows') ? 'windows' : 'linux';
      const deviceId = `art-${String(byDevice.size + 1).padStart(5, '0')}`;
      let plan: ReturnType<typeof planRun>;
      try {
        plan = planRun(s, {
          seed: COVERAGE_DEFAULTS.seed, detonationId: `coverage-${s.id}`, startTime: cursor,
          device: { id: deviceId, name: `${deviceId}-${platform === 'windows' ? 'win' : 'lnx'}` },
        });
      } catch (err) {
        // Nothing was planned (e.g. an input the player refuses): the test is listed as refused.
        if (!(err instanceof ArcsimError)) throw err;
        tech.tests.push({ number: n, name: technique.tests[n - 1]?.name ?? s.name, guid: technique.tests[n - 1]?.guid ?? null, status: 'refused', platform: null, events: 0, detected: false, rules: [], otherPlatformRules: [], reason: `${err.code}: ${err.message}` });
        continue;
      }
      for (const p of plan.events) events.push(p.event);
      cursor += plan.spanMs + gap;
      const t: CoverageTest = {
        number: n, name: technique.tests[n - 1]?.name ?? s.name, guid: technique.tests[n - 1]?.guid ?? null,
        status: 'played', platform, events: plan.events.length, detected: false, rules: [], otherPlatformRules: [],
        ...(plan.failure ? { reason: `stopped in ${plan.failure.phase}: ${plan.failure.code}: ${plan.failure.message}` } : {}),
      };
      byDevice.set(deviceId, t);
      tech.tests.push(t);
    }
    techniques.push(tech);
  }

  return { files, techniques, refusedFiles, byDevice, events };
}

/** The importer's description carries the test number: "Imported from Atomic Red Team T1027 test 2 ...". */
function testNumber(s: Scenario): number {
  return Number(/^Imported from Atomic Red Team \S+ test (\d+)/m.exec(s.description)?.[1]);
}

/**
 * The Sigma `logsource.product` of each fired rule, read again from its file (the rule set keeps
 * only the table): only for the few rules that fired, so it costs little.
 */
function productsOf(ids: Set<string>, info: Map<string, { file: string }>): Map<string, string> {
  const out = new Map<string, string>();
  const files = new Set([...ids].map((id) => info.get(id)?.file).filter((f): f is string => !!f));
  for (const file of files) {
    let docs: ReturnType<typeof readYamlAll>;
    try {
      docs = readYamlAll(readFileSync(file, 'utf8'));
    } catch {
      continue; // the rule loaded from this file a moment ago; a file gone since just goes unfiltered
    }
    for (const d of docs) {
      const v = d.value as { id?: unknown; name?: unknown; logsource?: { product?: unknown } } | null;
      const id = typeof v?.id === 'string' ? v.id : typeof v?.name === 'string' ? v.name : undefined;
      const product = v?.logsource?.product;
      if (id && ids.has(id) && typeof product === 'string') out.set(id, product.toLowerCase());
    }
  }
  return out;
}

/** attack_technique, display_name and each test's name and GUID, read again for the report (the importer has validated them). */
function techniqueOf(text: string, file: string): { id: string; name: string; tests: Array<{ name: string; guid: string | null }> } {
  const v = (readYaml(text).value ?? {}) as { attack_technique?: unknown; display_name?: unknown; atomic_tests?: Array<{ name?: unknown; auto_generated_guid?: unknown }> };
  const id = typeof v.attack_technique === 'string' ? v.attack_technique : basename(file).replace(/\.ya?ml$/, '');
  const tests = (v.atomic_tests ?? []).map((t, i) => ({
    name: typeof t?.name === 'string' ? t.name : `test ${i + 1}`,
    guid: typeof t?.auto_generated_guid === 'string' ? t.auto_generated_guid : null,
  }));
  return { id: id.toUpperCase(), name: typeof v.display_name === 'string' ? v.display_name : '', tests };
}

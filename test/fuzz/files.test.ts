/**
 * Seeded fuzzer over the input files arcsim reads: Sigma rules, scenarios, suites, cloud snapshots
 * (aws / gcloud JSON) and connector definitions, each through its real loader. Inputs are
 * mutations of the shipped, valid samples (text edits and structural edits); the property is that
 * every refusal is a catalogued ArcsimError (never a TypeError, RangeError or raw YAML error).
 * Seed and runs: ARCSIM_FUZZ_SEED, ARCSIM_FUZZ_RUNS (docs/testing.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { loadRules, DEFAULT_RULES_DIR } from '../../control-plane/detection/index.ts';
import { parseSnapshot, parseSnapshotText } from '../../control-plane/inventory/snapshot-formats.ts';
import { parseConnectorDefinition } from '../../control-plane/inventory/connectors.ts';
import { loadLibrary, parseScenario } from '../../scenarios/index.ts';
import { parseSuite } from '../../testruns/suite-loader.ts';
import { expectTyped, fcParams, jsonOps, mutateJson, mutateText, printTally, runsFor, Tally, textOps } from './fuzz-support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (dir: string, re: RegExp) => readdirSync(dir).filter((n) => re.test(n)).sort().map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));

const RULES = read(DEFAULT_RULES_DIR, /\.ya?ml$/);
const SCENARIOS = [...read(join(ROOT, 'scenarios', 'library'), /\.ya?ml$/), ...read(join(ROOT, 'test', 'fixtures', 'scenarios-ok'), /\.ya?ml$/)];
const SUITES = read(join(ROOT, 'examples'), /^(onprem|multi-cloud)\.yaml$/);
const SNAPSHOTS = read(join(ROOT, 'examples', 'cspm'), /^(aws|gcp)-.*\.json$/);
const CONNECTORS = read(join(ROOT, 'examples', 'cspm'), /^connector-.*\.json$/);
const LIBRARY = loadLibrary();
/** For each rule file, the other files it needs (correlations naming rules elsewhere); none for most. */
const RULE_CONTEXT = new Map(RULES.map((r) => {
  try {
    loadRules([{ file: r.name, text: r.text }]);
    return [r.name, []];
  } catch {
    return [r.name, RULES.filter((o) => o.name !== r.name).map((o) => ({ file: o.name, text: o.text }))];
  }
}));

/** One target: valid samples and how its real loader reads a text. */
interface Target { name: string; samples: Array<{ name: string; text: string }>; load(text: string, name: string): unknown; yaml: boolean }

const TARGETS: Target[] = [
  // A rule file is loaded alone, or with the rest of the shipped set when it refers to rules in other files (correlations).
  { name: 'rules', samples: RULES, yaml: true, load: (text, name) => loadRules([...(RULE_CONTEXT.get(name) ?? []), { file: name, text }]) },
  { name: 'scenarios', samples: SCENARIOS, yaml: true, load: (text, name) => parseScenario(text, name) },
  { name: 'suites', samples: SUITES, yaml: true, load: (text, name) => parseSuite(text, { file: name, library: LIBRARY, baseDir: join(ROOT, 'examples') }) },
  {
    name: 'snapshots', samples: SNAPSHOTS, yaml: false,
    load: (text, name) => parseSnapshot(parseSnapshotText(text, name), { region: 'us-east-1', where: name }),
  },
  { name: 'connectors', samples: CONNECTORS, yaml: false, load: (text, name) => parseConnectorDefinition(name.replace(/\W/g, '-'), parseSnapshotText(text, name)) },
];

/** Cases per target and mutation kind (text edits, structural edits): 5 targets x 2 x 500 = 5,000. */
const RUNS = runsFor(500);

for (const [ti, target] of TARGETS.entries()) {
  test(`fuzz files: ${target.name} (${target.samples.length} valid samples mutated, ${RUNS} text + ${RUNS} structural cases); every refusal is a typed ARCSIM_E_* error`, { timeout: 120_000 }, () => {
    assert.ok(target.samples.length > 0, `samples for ${target.name}`);
    // The unmutated samples load: the fuzzer starts from valid inputs.
    for (const s of target.samples) target.load(s.text, s.name);
    const tally = new Tally();
    // YAML samples as the list of their documents (a rule file may hold several, `---` apart).
    const docs = target.samples.map((s) => ({ name: s.name, doc: target.yaml ? parseAllDocuments(s.text as string).map((d) => d.toJS()) : JSON.parse(s.text) }));
    const render = (doc: unknown) => {
      if (!target.yaml) return JSON.stringify(doc);
      const list = Array.isArray(doc) ? doc : [doc];
      return list.map((d) => stringify(d, { aliasDuplicateObjects: false })).join('---\n');
    };
    const sample = fc.nat({ max: target.samples.length - 1 });

    fc.assert(fc.property(sample, textOps, (i, ops) => {
      const s = target.samples[i]!;
      const text = mutateText(s.text, ops);
      expectTyped(tally, () => target.load(text, s.name), { sample: s.name, text });
    }), fcParams(RUNS, ti * 2));

    fc.assert(fc.property(sample, jsonOps, (i, ops) => {
      const d = docs[i]!;
      const mutated = mutateJson(d.doc, ops);
      const text = render(mutated);
      expectTyped(tally, () => target.load(text, d.name), { sample: d.name, ops, text });
    }), fcParams(RUNS, ti * 2 + 1));

    printTally(`files/${target.name}`, tally);
    assert.equal(tally.cases, 2 * RUNS);
  });
}

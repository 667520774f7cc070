import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildGraph, forbiddenEdges, importCycles, specifiersOf, type ImportGraph } from './import-graph.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function graphOf(edges: Record<string, string[]>): ImportGraph {
  return new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
}

test('no source file imports across the layers the wrong way', () => {
  assert.deepEqual(forbiddenEdges(buildGraph(ROOT)), []);
});

test('the source files have no import cycle', () => {
  assert.deepEqual(importCycles(buildGraph(ROOT)), []);
});

test('the checker reports a forbidden edge and a cycle in a synthetic graph', () => {
  const graph = graphOf({
    'lib/a.ts': [],
    'protocol/p.ts': ['lib/a.ts'],
    'agent/x.ts': ['control-plane/y.ts', 'protocol/p.ts'],
    'control-plane/y.ts': ['control-plane/z.ts'],
    'control-plane/z.ts': ['control-plane/w.ts'],
    'control-plane/w.ts': ['control-plane/y.ts'],
    'testruns/t.ts': ['cli/c.ts'],
    'cli/c.ts': ['testruns/t.ts', 'bench/b.ts'],
    'bench/b.ts': [],
    'test/anything.test.ts': ['cli/c.ts', 'agent/x.ts', 'lib/a.ts'],
    'elsewhere/e.ts': [],
    'lib/up.ts': ['elsewhere/e.ts'],
  });
  assert.deepEqual(forbiddenEdges(graph), [
    'agent/x.ts -> control-plane/y.ts (agent/ may not import control-plane/)',
    'cli/c.ts -> bench/b.ts (cli/ may not import bench/)',
    'lib/up.ts -> elsewhere/e.ts (elsewhere/e.ts is in no layer)',
    'testruns/t.ts -> cli/c.ts (testruns/ may not import cli/)',
  ]);
  assert.deepEqual(importCycles(graph), [
    'cli/c.ts -> testruns/t.ts -> cli/c.ts',
    'control-plane/w.ts -> control-plane/y.ts -> control-plane/z.ts -> control-plane/w.ts',
  ]);
});

test('every kind of import is seen: static, type-only, export-from, dynamic, require', () => {
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from './b.ts';",
    "export { c } from './c.ts';",
    "export * from './d.ts';",
    "const e = await import('./e.ts');",
    "const f = require('./f.js');",
    "import './g.ts';",
  ].join('\n');
  assert.deepEqual(specifiersOf(text), ['./a.ts', './b.ts', './c.ts', './d.ts', './e.ts', './f.js', './g.ts']);
});

/**
 * The import graph of the project's own sources and the layer rules it must keep
 * (docs/architecture.md). Kept apart from the test so a synthetic graph can prove the
 * checker finds what it should.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Edges between project files, keyed and valued by paths relative to the root, `/`-separated. */
export type ImportGraph = Map<string, Set<string>>;

const SOURCE_RE = /\.(ts|js|mjs)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'test/fixtures']);

/** Every .ts/.js/.mjs file under `root`, except dependencies, build output, test data and dot folders (.git, data dirs). */
export function sourceFiles(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir)).sort()) {
    const rel = dir ? `${dir}/${name}` : name;
    if (SKIPPED_DIRS.has(rel) || SKIPPED_DIRS.has(name) || name.startsWith('.')) continue;
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(root, rel));
    else if (SOURCE_RE.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Every module specifier in a file: import, import type, export-from, dynamic import(), require(). */
export function specifiersOf(text: string): string[] {
  // readImportFiles + detectJavaScriptImports: static and dynamic imports and require() calls.
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The project source a relative specifier names, or undefined for a package (no edge between layers). */
export function resolveSpecifier(root: string, from: string, spec: string, exists: (rel: string) => boolean): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = relative(root, resolve(root, dirname(from), spec)).split(sep).join('/');
  // ESM sources name .ts files directly; a .js specifier may also stand for its .ts source.
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`];
  return candidates.find(exists);
}

/** Reads every source under `root` and resolves its relative imports to files. */
export function buildGraph(root: string): ImportGraph {
  const files = sourceFiles(root);
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const targets = new Set<string>();
    for (const spec of specifiersOf(readFileSync(join(root, file), 'utf8'))) {
      const target = resolveSpecifier(root, file, spec, (rel) => known.has(rel));
      if (target !== undefined) {
        if (target !== file) targets.add(target);
      } else if (spec.startsWith('.') && !existsSync(resolve(root, dirname(file), spec))) {
        // A relative import of data (JSON) is no edge; one that names nothing is a broken import.
        throw new Error(`${file}: cannot resolve import '${spec}'`);
      }
    }
    graph.set(file, targets);
  }
  return graph;
}

/**
 * Layers bottom-up. A file may import its own folder and any folder of a lower rank; folders of
 * the same rank (agent/ and control-plane/, cli/ and bench/) never import each other. test/ is
 * above everything. A file outside every listed folder is itself a violation, so a new top-level
 * folder must be placed here first.
 */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ['lib'],
  ['protocol'],
  ['scenarios'],
  ['agent', 'control-plane'],
  ['testruns'],
  ['cli', 'bench'],
  ['scripts', 'bin'],
  ['test'],
];

function rankOf(file: string): { folder: string; rank: number } | undefined {
  const folder = file.split('/')[0]!;
  const rank = LAYERS.findIndex((layer) => layer.includes(folder));
  return rank < 0 ? undefined : { folder, rank };
}

/** Every edge that breaks the layer rules, as `from -> to (why)`. */
export function forbiddenEdges(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const a = rankOf(from);
    for (const to of targets) {
      const b = rankOf(to);
      if (!a || !b) out.push(`${from} -> ${to} (${!a ? from : to} is in no layer)`);
      else if (a.folder !== b.folder && b.rank >= a.rank) {
        out.push(`${from} -> ${to} (${a.folder}/ may not import ${b.folder}/)`);
      }
    }
  }
  return out.sort();
}

/** Every import cycle, one per strongly connected component, as `a -> b -> ... -> a`. */
export function importCycles(graph: ImportGraph): string[] {
  // Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; it: Iterator<string> }> = [];
    const enter = (node: string): void => {
      index.set(node, next);
      low.set(node, next++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, it: [...(graph.get(node) ?? [])].sort()[Symbol.iterator]() });
    };
    enter(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const step = top.it.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) enter(to);
        else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
        } while (n !== top.node);
        if (component.length > 1) components.push(component);
      }
    }
  }
  return components.map((c) => cyclePath(graph, new Set(c))).sort();
}

/** One concrete cycle through a strongly connected component, starting at its first file. */
function cyclePath(graph: ImportGraph, component: Set<string>): string {
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of [...(graph.get(node) ?? [])].sort()) {
      if (!component.has(to) || previous.has(to)) continue;
      previous.set(to, node);
      if (to === start) queue.length = 0;
      else queue.push(to);
    }
  }
  // Walk back from the edge that closes the cycle: a -> b -> c -> a gives [b, c, a].
  const path = [start];
  for (let n = previous.get(start)!; n !== start; n = previous.get(n)!) path.unshift(n);
  return [start, ...path].join(' -> ');
}

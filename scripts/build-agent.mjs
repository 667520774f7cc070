#!/usr/bin/env node
// Bundles the agent (cli/agent-main.ts and everything it imports, JavaScript dependencies included)
// into ONE file, arcsim-agent.cjs, whose only run-time need is Node.js >= 20: no node_modules, no
// source tree, no tsx. It is what the control plane serves to install.sh (GET /agent/arcsim-agent.cjs,
// control-plane/install/agent-artifact.ts), what `arcsim agent install` installs, and what
// bin/arcsim-agent.js runs in a checkout (built by `npm run build:agent` and npm's `prepare`).
//
// - Left out: ws's optional native helpers bufferutil / utf-8-validate: the bundle's require() of
//   either throws, as on a host without them, so ws uses its plain JavaScript (the control plane
//   has bufferutil; the agent's bundle behaves the same in a checkout as installed). Nothing is external; the build fails if the control
//   plane or a server-side package (fastify, pg, better-sqlite3, esbuild, tsx) gets in.
// - What the sources read next to themselves is embedded at build time: the version from
//   package.json (lib/version.ts) and the scenario library's files (agent/scenario-library.ts).
// - zod keeps only its English messages (its default).
// - Everything the sources reach only through import() (systeminformation, node-schedule, zod,
//   yaml, the scenario code...) is the bundle's cold part: packed (brotli) inside the one file and
//   evaluated on first use, so an idle agent neither runs it nor keeps its source text (buildAgent).
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const ARTIFACT_NAME = 'arcsim-agent.cjs';

/** Packages and folders that must never be in the agent (issue 11: the agent needs only Node). */
const FORBIDDEN = [/^node_modules\/(fastify|@fastify|pg|pg-[a-z]+|better-sqlite3|esbuild|@esbuild|tsx)\//, /^control-plane\//, /^testruns\//];

/** Modules whose run-time file reads are replaced by what they read, taken now. */
const embedded = {
  name: 'embed-files',
  setup(build) {
    build.onLoad({ filter: /[\\/]lib[\\/]version\.ts$/ }, async () => {
      const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
      return { contents: `export const VERSION = ${JSON.stringify(version)};`, loader: 'ts' };
    });
    build.onLoad({ filter: /[\\/]agent[\\/]scenario-library\.ts$/ }, async () => {
      const dir = join(ROOT, 'scenarios', 'library');
      const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
      const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8') })));
      return {
        contents: `import { libraryFromTexts } from '../scenarios/index.ts';\n` +
          `const FILES = ${JSON.stringify(files)};\n` +
          `export function shippedLibrary() { return libraryFromTexts(FILES, 'the library embedded in the agent'); }\n`,
        loader: 'ts',
        resolveDir: join(ROOT, 'agent'),
      };
    });
  },
};

/**
 * zod re-exports its ~50 message locales (~300 KB, half of zod in the bundle) as `z.locales`; the
 * agent uses none but English, zod's default, so only that one is kept.
 */
const englishOnlyZod = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'zod-english-only', pluginData: args.resolveDir } : undefined);
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from '../locales/en.js';", resolveDir: args.pluginData, loader: 'js',
    }));
  },
};

/**
 * winston's own debug output (@dabh/diagnostics, with kuler, colorspace, color-string... ~1 MB of
 * heap once loaded) is printed only when DEBUG names a winston namespace; winston loads it at
 * start for its create-logger / exception / rejection handlers. The agent swaps it for a no-op
 * debugger of the same shape (a function per namespace), so an idle agent never loads it.
 */
const noWinstonDebug = {
  name: 'no-winston-debug',
  setup(build) {
    build.onResolve({ filter: /^@dabh\/diagnostics$/ }, () => ({ path: 'diagnostics', namespace: 'no-winston-debug' }));
    build.onLoad({ filter: /.*/, namespace: 'no-winston-debug' }, () => ({
      contents: 'function noop() {}\nnoop.enabled = false;\nmodule.exports = function diagnostics() { return noop; };\n', loader: 'js',
    }));
  },
};

/**
 * ws's optional native helpers (bufferutil, utf-8-validate): a module that throws, as `require`
 * does where they are not installed, so ws falls back to JavaScript whether or not the checkout's
 * node_modules has them (the control plane's dependency, not the agent's).
 */
const noWsNative = {
  name: 'no-ws-native',
  setup(build) {
    build.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({ path: args.path, namespace: 'no-ws-native' }));
    build.onLoad({ filter: /.*/, namespace: 'no-ws-native' }, (args) => ({
      contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}'`)}), { code: 'MODULE_NOT_FOUND' });\n`, loader: 'js',
    }));
  },
};

/** esbuild options both parts share. */
const COMMON = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: the source text V8 keeps is ~40 % smaller (about 4 MB less RSS),
  // while function and class names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  metafile: true,
};

/** `import('...')` with a literal specifier, not in a type (`typeof import('x')`). */
const DYNAMIC_IMPORT = /(?<![\w$.]|typeof\s)import\(\s*(['"])([^'"]+)\1\s*\)/g;

/**
 * The modules the entry reaches by static imports (evaluated at start: the hot part) and, for each
 * of them, the dynamic imports that lead out of that set: specifier -> input path (the cold part's keys).
 */
function splitInputs(metafile, entry) {
  const { inputs } = metafile;
  const hot = new Set([entry]);
  const queue = [entry];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    for (const i of inputs[f]?.imports ?? []) if (i.kind !== 'dynamic-import' && !i.external && !hot.has(i.path)) hot.add(i.path), queue.push(i.path);
  }
  const coldImports = new Map();
  for (const f of hot) {
    for (const i of inputs[f]?.imports ?? []) {
      if (i.kind !== 'dynamic-import' || i.external || hot.has(i.path)) continue;
      if (!coldImports.has(f)) coldImports.set(f, new Map());
      coldImports.get(f).set(i.original, i.path);
    }
  }
  return { hot, coldImports };
}

/**
 * Builds `<outDir>/arcsim-agent.cjs` (default dist/) and `arcsim-agent.sources.json` (the project
 * sources it was built from, which bin/arcsim-agent.js checks to never run a stale bundle).
 * Returns the file, its size and SHA-256, and the esbuild metafiles of its hot part (`metafile`:
 * what runs at start) and cold part (`coldMetafile`). Throws when a forbidden module got into it.
 *
 * Still one file, in two parts (docs/performance.md, "fifth pass"). V8 keeps a script's whole
 * source text for as long as any of its functions lives, and an idle agent's RSS grows by about
 * twice the size of that text: 1.2 MB of the 1.5 MB bundle was code an idle agent never runs
 * (systeminformation, zod, yaml, luxon, node-schedule, the scenario code and what only they
 * import). So:
 * - the hot part is the file itself, a CommonJS script (a `.cjs` file: Node then loads neither its
 *   ES module loader nor what that pulls in, ~0.9 MB of an idle agent; docs/performance.md, "sixth
 *   pass"): the entry and everything it reaches by static imports;
 * - every module only reached through `import()` goes into the cold part, one CommonJS bundle
 *   kept inside the hot part as a brotli-compressed string (about a fifth of its size). The first
 *   `import()` of a cold module decompresses and evaluates it (`node:vm`, in this process, once);
 *   its imports of hot modules are given the hot part's own module objects, so every module
 *   exists once (one ArcsimError class, one logger).
 */
export async function buildAgent({ outDir = DIST, quiet = false } = {}) {
  const outfile = join(outDir, ARTIFACT_NAME);
  const entry = 'cli/agent-main.ts';
  const plugins = [embedded, englishOnlyZod, noWinstonDebug, noWsNative];
  const logLevel = quiet ? 'error' : 'warning';

  // 1. Which modules are hot, and which dynamic imports lead to cold ones (nothing written).
  const probe = await esbuild.build({ ...COMMON, entryPoints: [join(ROOT, entry)], format: 'esm', write: false, outdir: outDir, plugins, logLevel });
  const { hot, coldImports } = splitInputs(probe.metafile, entry);
  const coldKeys = [...new Set([...coldImports.values()].flatMap((m) => [...m.values()]))].sort();

  // 2. The cold part: one CommonJS function whose `modules` load each cold module on first call.
  //    Its imports of hot modules resolve to the hot part's module objects (`__arcsimHot`).
  const hotUsed = new Set();
  const hotExternal = {
    name: 'hot-modules-from-the-hot-part',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === 'inner' || args.kind === 'entry-point' || args.namespace !== 'file') return undefined;
        const r = await build.resolve(args.path, { importer: args.importer, resolveDir: args.resolveDir, kind: args.kind, pluginData: 'inner' });
        if (r.errors.length || r.external || r.namespace !== 'file') return undefined;
        const key = relative(ROOT, r.path).split(sep).join('/');
        if (!hot.has(key)) return undefined;
        hotUsed.add(key);
        return { path: key, namespace: 'arcsim-hot' };
      });
      build.onLoad({ filter: /.*/, namespace: 'arcsim-hot' }, (args) => ({ contents: `module.exports = __arcsimHot[${JSON.stringify(args.path)}];`, loader: 'js' }));
      build.onResolve({ filter: /^arcsim-cold-entry$/ }, () => ({ path: 'entry', namespace: 'arcsim-cold-entry' }));
      build.onLoad({ filter: /.*/, namespace: 'arcsim-cold-entry' }, () => ({
        contents: `export const modules = {\n${coldKeys.map((k) => `  ${JSON.stringify(k)}: () => import(${JSON.stringify(join(ROOT, k))}),`).join('\n')}\n};\n`,
        loader: 'js', resolveDir: ROOT,
      }));
    },
  };
  const cold = await esbuild.build({
    ...COMMON, entryPoints: ['arcsim-cold-entry'], format: 'cjs', write: false, outfile: join(outDir, 'cold.cjs'),
    plugins: [hotExternal, ...plugins], logLevel,
    define: { 'import.meta.url': '__arcsimImportMetaUrl' },
    banner: { js: '(function (module, exports, require, __arcsimHot, __arcsimImportMetaUrl) {' },
    footer: { js: '})' },
  });
  const coldText = cold.outputFiles[0].contents;
  const packed = brotliCompressSync(coldText, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: coldText.length } });

  // 3. The hot part: `import('x')` of a cold module becomes `__arcsimCold(key)` (arcsim-cold-loader).
  const hotUsedList = [...hotUsed].sort();
  // The cold part sees a hot module as its namespace object: named exports work (live), but not a
  // default export nor a CommonJS module's exports, so those are refused rather than half-working.
  for (const key of hotUsedList) {
    const source = await readFile(join(ROOT, key), 'utf8');
    if (probe.metafile.inputs[key]?.format === 'cjs' || /\bexport\s+default\b|\bas\s+default\b/.test(source)) {
      throw new Error(`the agent bundle's cold part imports ${key} from its hot part, which is CommonJS or has a default export: not supported by the cold loader (scripts/build-agent.mjs)`);
    }
  }
  const coldLoader = {
    name: 'cold-loader',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const key = relative(ROOT, args.path).split(sep).join('/');
        const rewrites = coldImports.get(key);
        if (!rewrites) return undefined;
        let text = await readFile(args.path, 'utf8');
        text = text.replace(DYNAMIC_IMPORT, (all, _q, spec) => (rewrites.has(spec) ? `__arcsimCold(${JSON.stringify(rewrites.get(spec))})` : all));
        return { contents: `import { __arcsimCold } from 'arcsim-cold-loader';\n${text}`, loader: 'ts' };
      });
      build.onResolve({ filter: /^arcsim-cold-loader$/ }, () => ({ path: 'loader', namespace: 'arcsim-cold-loader' }));
      build.onLoad({ filter: /.*/, namespace: 'arcsim-cold-loader' }, () => ({
        contents: [
          "import { brotliDecompressSync } from 'node:zlib';",
          "import { runInThisContext } from 'node:vm';",
          ...hotUsedList.map((k, i) => `import * as hot${i} from ${JSON.stringify(join(ROOT, k))};`),
          `const HOT = {${hotUsedList.map((k, i) => `${JSON.stringify(k)}: hot${i}`).join(', ')}};`,
          `const COLD = ${JSON.stringify(packed.toString('base64'))};`,
          'let cold;',
          '/** The cold module `key` (a path of the sources), as `import()` would give it; the cold part is evaluated on first use. */',
          'export function __arcsimCold(key) {',
          '  return Promise.resolve().then(() => {',
          '    if (!cold) {',
          "      const code = brotliDecompressSync(Buffer.from(COLD, 'base64')).toString('utf8');",
          "      const fn = runInThisContext(code, { filename: __filename + ' (cold part)' });",
          '      const module = { exports: {} };',
          '      fn(module, module.exports, require, HOT, __arcsimImportMetaUrl);',
          '      cold = module.exports.modules;',
          '    }',
          '    return cold[key]();',
          '  });',
          '}',
        ].join('\n'),
        loader: 'js', resolveDir: ROOT,
      }));
    },
  };
  // A CommonJS script: `require`, `__filename`, `__dirname` are Node's own. The sources' `import.meta`
  // (an ES module's) becomes them, its `url` the file's URL, computed once; the sources use no
  // top-level await (esbuild refuses it in CommonJS output).
  const result = await esbuild.build({
    ...COMMON, entryPoints: [join(ROOT, entry)], outfile, format: 'cjs', logLevel,
    plugins: [coldLoader, ...plugins],
    define: { 'import.meta.url': '__arcsimImportMetaUrl', 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
    banner: {
      js: [
        '#!/usr/bin/env node',
        '// arcsim agent, built by scripts/build-agent.mjs from cli/agent-main.ts: do not edit. Needs only Node.js >= 20.',
        "'use strict';",
        "const __arcsimImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
      ].join('\n'),
    },
  });
  const inputs = [...Object.keys(result.metafile.inputs), ...Object.keys(cold.metafile.inputs)];
  const bad = inputs.filter((f) => FORBIDDEN.some((re) => re.test(f)));
  if (bad.length) throw new Error(`the agent bundle must not contain ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}`);
  const leaked = Object.keys(result.metafile.inputs).filter((f) => !hot.has(f) && !f.startsWith('arcsim-cold-loader:'));
  if (leaked.length) throw new Error(`the agent bundle's hot part got modules that should be cold: ${leaked.slice(0, 5).join(', ')}`);
  // Project files only: not packages, nor the plugins' virtual modules (`namespace:path`).
  const sources = [...new Set(inputs.filter((f) => !/(^|\/)node_modules\//.test(f) && !f.includes(':')))].sort();
  await writeFile(join(outDir, 'arcsim-agent.sources.json'), JSON.stringify(sources, null, 1) + '\n');
  const bytes = await readFile(outfile);
  return {
    file: outfile, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'),
    metafile: result.metafile, coldMetafile: cold.metafile, coldBytes: coldText.length, coldPackedBytes: packed.length,
  };
}

// `node scripts/build-agent.mjs [--quiet] [--out-dir DIR] [--analyze]`: prints `<sha256>  <file>` (sha256sum's format).
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out-dir');
  const r = await buildAgent({ quiet: args.includes('--quiet'), outDir: at >= 0 ? args[at + 1] : undefined });
  if (args.includes('--analyze')) process.stderr.write(`hot part:\n${await esbuild.analyzeMetafile(r.metafile)}\ncold part (${r.coldBytes} bytes, ${r.coldPackedBytes} compressed):\n${await esbuild.analyzeMetafile(r.coldMetafile)}`);
  process.stdout.write(`${r.sha256}  ${r.file}\n`);
}

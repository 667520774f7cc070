#!/usr/bin/env node
// Bundles the agent (cli/agent-main.ts and everything it imports, JavaScript dependencies included)
// into ONE file, arcsim-agent.mjs, whose only run-time need is Node.js >= 20: no node_modules, no
// source tree, no tsx. It is what the control plane serves to install.sh (GET /agent/arcsim-agent.mjs,
// control-plane/install/agent-artifact.ts), what `arcsim agent install` installs, and what
// bin/arcsim-agent.js runs in a checkout (built by `npm run build:agent` and npm's `prepare`).
//
// - Left out: ws's optional native helpers bufferutil / utf-8-validate (ws falls back to plain
//   JavaScript when require() fails). Nothing else is external; the build fails if the control
//   plane or a server-side package (fastify, pg, better-sqlite3, esbuild, tsx) gets in.
// - What the sources read next to themselves is embedded at build time: the version from
//   package.json (lib/version.ts) and the scenario library's files (agent/scenario-library.ts).
// - zod keeps only its English messages (its default).
// - systeminformation and node-schedule are imported dynamically by the sources, so the bundle
//   carries them without running them until an inventory is taken or a cron job is scheduled.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const ARTIFACT_NAME = 'arcsim-agent.mjs';

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
 * Builds `<outDir>/arcsim-agent.mjs` (default dist/) and `arcsim-agent.sources.json` (the project
 * sources it was built from, which bin/arcsim-agent.js checks to never run a stale bundle).
 * Returns the file, its size and SHA-256. Throws when a forbidden module got into the bundle.
 */
export async function buildAgent({ outDir = DIST, quiet = false } = {}) {
  const outfile = join(outDir, ARTIFACT_NAME);
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'cli', 'agent-main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['bufferutil', 'utf-8-validate'],
    plugins: [embedded, englishOnlyZod, noWinstonDebug],
    // CommonJS dependencies (winston, commander, systeminformation...) call require() for Node
    // built-ins (and ws for its optional helpers): give the ESM bundle a real require.
    banner: {
      js: [
        '#!/usr/bin/env node',
        '// arcsim agent, built by scripts/build-agent.mjs from cli/agent-main.ts: do not edit. Needs only Node.js >= 20.',
        "import { createRequire as __arcsimCreateRequire } from 'node:module';",
        'const require = __arcsimCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    // Whitespace and syntax only: the source text V8 keeps is ~40 % smaller (about 4 MB less RSS),
    // while function and class names stay readable in stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  const bad = inputs.filter((f) => FORBIDDEN.some((re) => re.test(f)));
  if (bad.length) throw new Error(`the agent bundle must not contain ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}`);
  // Project files only: not packages, nor the plugins' virtual modules (`namespace:path`).
  const sources = inputs.filter((f) => !f.startsWith('node_modules/') && !f.includes(':')).sort();
  await writeFile(join(outDir, 'arcsim-agent.sources.json'), JSON.stringify(sources, null, 1) + '\n');
  const bytes = await readFile(outfile);
  return { file: outfile, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), metafile: result.metafile };
}

// `node scripts/build-agent.mjs [--quiet] [--out-dir DIR] [--analyze]`: prints `<sha256>  <file>` (sha256sum's format).
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out-dir');
  const r = await buildAgent({ quiet: args.includes('--quiet'), outDir: at >= 0 ? args[at + 1] : undefined });
  if (args.includes('--analyze')) process.stderr.write(await esbuild.analyzeMetafile(r.metafile));
  process.stdout.write(`${r.sha256}  ${r.file}\n`);
}

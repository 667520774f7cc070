import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_ARTIFACT } from '../../protocol/agent-service.ts';

/** The source tree the control plane runs from: what the agent bundle is built from. */
const SOURCE_ROOT = join(import.meta.dirname, '..', '..');

interface AgentArtifact {
  /** The bundle: one JavaScript file that needs only Node.js >= 20. */
  bytes: Buffer;
  /** Its SHA-256, lower-case hex (what install.sh checks with sha256sum). */
  sha256: string;
}

/** Runs scripts/build-agent.mjs in a child (esbuild stays out of the control plane's own process). */
function build(outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(SOURCE_ROOT, 'scripts', 'build-agent.mjs'), '--quiet', '--out-dir', outDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`building the agent bundle failed (exit ${code}): ${err.trim()}`))));
  });
}

let artifact: Promise<AgentArtifact> | undefined;

/**
 * The agent bundle, built once per process from the current sources on first use (so it is never a
 * stale dist/ file), with its SHA-256. A failed build is retried on the next call.
 */
export function agentArtifact(): Promise<AgentArtifact> {
  artifact ??= (async () => {
    const out = mkdtempSync(join(tmpdir(), 'arcsim-agent-build-'));
    try {
      await build(out);
      const bytes = readFileSync(join(out, AGENT_ARTIFACT));
      return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  })();
  artifact.catch(() => (artifact = undefined));
  return artifact;
}

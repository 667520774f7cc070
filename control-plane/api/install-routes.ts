import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { renderUnit, SERVICE_NAME } from '../../agent/installer.ts';

/** The source tree the control plane runs from: what it packs for agents to install. */
const SOURCE_ROOT = join(import.meta.dirname, '..', '..');
/** What an agent install needs (the CLI imports the control plane too, so it comes along). */
const PACKED = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'bin', 'cli', 'lib', 'protocol', 'agent', 'scenarios', 'control-plane', 'testruns', 'examples', 'scripts'];

/** Runs a command; resolves with its stdout, rejects with its stderr when it fails. */
function runTool(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const p = spawn(cmd, args);
    const chunks: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stderr.on('data', (c: Buffer) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/**
 * Packs the agent sources as a gzipped tar (with the system `tar`), once per process, with the
 * agent service bundle (`dist/arcsim-agent.mjs`, what the unit runs without tsx) built now from
 * the same sources, so the tarball never carries a stale bundle from this checkout's dist/.
 */
let tarball: Promise<Buffer> | undefined;
function agentTarball(): Promise<Buffer> {
  tarball ??= (async () => {
    const entries = PACKED.filter((e) => existsSync(join(SOURCE_ROOT, e)));
    const build = mkdtempSync(join(tmpdir(), 'arcsim-agent-build-'));
    try {
      await runTool(process.execPath, [join(SOURCE_ROOT, 'scripts', 'build-agent.mjs'), '--quiet', '--out-dir', join(build, 'dist')]);
      return await runTool('tar', ['-czf', '-', '--exclude=node_modules', '--exclude=.arcsim', '-C', SOURCE_ROOT, ...entries, '-C', build, 'dist']);
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  })();
  tarball.catch(() => (tarball = undefined));
  return tarball;
}

/**
 * The onboarding script, like Arc's: installs the agent from this control plane only (the
 * target needs Node.js 20 and npm with access to the npm registry for dependencies), writes
 * the systemd unit, enrolls with the token given as argument and starts the service. Every
 * path is under ARCSIM_ROOT (default empty = /), so it can be exercised against a temp dir.
 */
export function renderInstallScript(baseUrl: string): string {
  const unit = renderUnit({
    node: '${NODE_BIN}', entry: '${INSTALL_DIR}/bin/arcsim-agent.js', stateDir: '${STATE_DIR}', envFile: '${ENV_FILE}', workDir: '${INSTALL_DIR}',
    // systemd expands this one from the EnvironmentFile; escaped so the install script's shell leaves it alone.
  }).replace('${ARCSIM_CONTROL_PLANE}', '\\${ARCSIM_CONTROL_PLANE}');
  return `#!/usr/bin/env bash
# arcsim agent onboarding script, served by the control plane at ${baseUrl}/install.sh
#   curl -fsSL ${baseUrl}/install.sh | sudo bash -s -- TOKEN
#   (or: sudo bash install.sh --token TOKEN)
# Installs the agent from the control plane (${baseUrl}/install/arcsim-agent.tgz: the sources and
# the prebuilt service bundle), runs npm ci for its dependencies (needs Node.js >= 20 and access to
# the npm registry), enrolls with TOKEN, writes ${SERVICE_NAME} and starts it. ARCSIM_ROOT puts every path under another root (default: /).
set -euo pipefail

CONTROL_PLANE="\${ARCSIM_CONTROL_PLANE:-${baseUrl}}"
ROOT="\${ARCSIM_ROOT:-}"
TOKEN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --token) TOKEN="\${2:-}"; shift 2 ;;
    --control-plane) CONTROL_PLANE="\${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" 2>/dev/null || true; exit 0 ;;
    *) TOKEN="$1"; shift ;;
  esac
done
[ -n "$TOKEN" ] || { echo "arcsim install: an enrollment token is required (arcsim token create ...)" >&2; exit 2; }

INSTALL_DIR="$ROOT/opt/arcsim-agent"
STATE_DIR="$ROOT/var/lib/arcsim-agent"
CONF_DIR="$ROOT/etc/arcsim-agent"
ENV_FILE="$CONF_DIR/agent.env"
UNIT_DIR="$ROOT/etc/systemd/system"

NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || { echo "arcsim install: Node.js >= 20 is required (https://nodejs.org)" >&2; exit 1; }
NODE_MAJOR="$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || { echo "arcsim install: Node.js >= 20 is required, found $("$NODE_BIN" --version)" >&2; exit 1; }
command -v npm >/dev/null || { echo "arcsim install: npm is required" >&2; exit 1; }

echo "arcsim install: downloading the agent from $CONTROL_PLANE"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# Node's fetch, so curl/wget are not needed on the target.
"$NODE_BIN" -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error("HTTP " + r.status); process.stdout.write(Buffer.from(await r.arrayBuffer())); }).catch((e) => { console.error(String(e)); process.exit(1); })' \\
  "$CONTROL_PLANE/install/arcsim-agent.tgz" > "$TMP/arcsim-agent.tgz"
mkdir -p "$INSTALL_DIR"
tar -xzf "$TMP/arcsim-agent.tgz" -C "$INSTALL_DIR"

echo "arcsim install: installing dependencies (npm ci --omit=dev)"
(cd "$INSTALL_DIR" && npm ci --omit=dev --no-audit --no-fund)

mkdir -p "$STATE_DIR" "$CONF_DIR" "$UNIT_DIR"
chmod 0700 "$STATE_DIR"
umask 077
printf 'ARCSIM_CONTROL_PLANE=%s\\nARCSIM_TOKEN=%s\\n' "$CONTROL_PLANE" "$TOKEN" > "$ENV_FILE"
chmod 0600 "$ENV_FILE"
umask 022

# Enrolled by the service entry itself (the prebuilt bundle dist/arcsim-agent.mjs, no tsx), so a
# broken install fails here rather than when systemd starts it.
echo "arcsim install: enrolling"
"$NODE_BIN" "$INSTALL_DIR/bin/arcsim-agent.js" enroll --control-plane "$CONTROL_PLANE" --token "$TOKEN" --state-dir "$STATE_DIR"

cat > "$UNIT_DIR/${SERVICE_NAME}" <<UNIT
${unit.trimEnd()}
UNIT

echo "arcsim install: starting ${SERVICE_NAME}"
systemctl daemon-reload
systemctl enable --now ${SERVICE_NAME}
echo "arcsim install: done. Status: systemctl status ${SERVICE_NAME}; logs: journalctl -u ${SERVICE_NAME}"
`;
}

/** GET /install.sh and GET /install/arcsim-agent.tgz (no auth: the token given to the script is the secret). */
export const installRoutes: FastifyPluginAsync<{ baseUrl(): string }> = async (app, { baseUrl }) => {
  const tags = ['install'];
  app.get('/install.sh', { schema: { tags, summary: 'The agent onboarding script', produces: ['text/x-shellscript'] } }, async (_req, reply) => {
    reply.type('text/x-shellscript; charset=utf-8').send(renderInstallScript(baseUrl()));
  });
  app.get('/install/arcsim-agent.tgz', { schema: { tags, summary: 'The agent package install.sh downloads', produces: ['application/gzip'] } }, async (_req, reply) => {
    reply.type('application/gzip').header('content-disposition', 'attachment; filename="arcsim-agent.tgz"').send(await agentTarball());
  });
};

import { AGENT_ARTIFACT, AGENT_PATHS, renderUnit, SERVICE_NAME } from '../../protocol/agent-service.ts';

/** Where install.sh downloads the agent bundle, and its digest, on the control plane. */
export const ARTIFACT_PATH = `/agent/${AGENT_ARTIFACT}`;

/**
 * The onboarding script, like Arc's: downloads the agent bundle (one file) from this control
 * plane, checks its SHA-256 (baked in here) with sha256sum before installing anything, installs
 * it with a state dir, env file and systemd unit, enrolls with the token given as argument and
 * starts the service. Needs Node.js >= 20 and coreutils; no npm, no compiler, no registry access.
 * Every path is under ARCSIM_ROOT (default empty = /), so it can be exercised against a temp dir;
 * `--no-service` skips systemctl (a chroot or container without systemd).
 */
export function renderInstallScript(baseUrl: string, sha256: string): string {
  const unit = renderUnit({ node: '${NODE_BIN}', entry: '${AGENT_FILE}', stateDir: '${STATE_DIR}', envFile: '${ENV_FILE}' })
    // systemd expands this one from the EnvironmentFile; escaped so the install script's shell leaves it alone.
    .replace('${ARCSIM_CONTROL_PLANE}', '\\${ARCSIM_CONTROL_PLANE}');
  return `#!/usr/bin/env bash
# arcsim agent onboarding script, served by the control plane at ${baseUrl}/install.sh
#   curl -fsSL ${baseUrl}/install.sh | sudo bash -s -- TOKEN
#   (or: sudo bash install.sh --token TOKEN [--no-service])
# Downloads the agent (${baseUrl}${ARTIFACT_PATH}: one file, needs only Node.js >= 20), checks
# its SHA-256, installs it, enrolls with TOKEN, writes ${SERVICE_NAME} and starts it (not with
# --no-service). ARCSIM_ROOT puts every path under another root (default: /).
set -euo pipefail

CONTROL_PLANE="\${ARCSIM_CONTROL_PLANE:-${baseUrl}}"
ROOT="\${ARCSIM_ROOT:-}"
TOKEN=""
SERVICE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --token) TOKEN="\${2:-}"; shift 2 ;;
    --control-plane) CONTROL_PLANE="\${2:-}"; shift 2 ;;
    --no-service) SERVICE=0; shift ;;
    -h|--help) sed -n '2,7p' "$0" 2>/dev/null || true; exit 0 ;;
    *) TOKEN="$1"; shift ;;
  esac
done
[ -n "$TOKEN" ] || { echo "arcsim install: an enrollment token is required (arcsim token create ...)" >&2; exit 2; }

# The bundle this control plane serves; a download that does not match is never installed.
EXPECTED_SHA256="${sha256}"
INSTALL_DIR="$ROOT/${AGENT_PATHS.installDir}"
AGENT_FILE="$INSTALL_DIR/${AGENT_ARTIFACT}"
STATE_DIR="$ROOT/${AGENT_PATHS.stateDir}"
CONF_DIR="$ROOT/${AGENT_PATHS.confDir}"
ENV_FILE="$ROOT/${AGENT_PATHS.envFile}"
UNIT_DIR="$ROOT/${AGENT_PATHS.unitDir}"

NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || { echo "arcsim install: Node.js >= 20 is required (https://nodejs.org)" >&2; exit 1; }
NODE_MAJOR="$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || { echo "arcsim install: Node.js >= 20 is required, found $("$NODE_BIN" --version)" >&2; exit 1; }
command -v sha256sum >/dev/null || { echo "arcsim install: sha256sum (coreutils) is required to check the download" >&2; exit 1; }

echo "arcsim install: downloading the agent from $CONTROL_PLANE"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# Node's fetch, so curl/wget are not needed on the target.
"$NODE_BIN" -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error("HTTP " + r.status); process.stdout.write(Buffer.from(await r.arrayBuffer())); }).catch((e) => { console.error(String(e)); process.exit(1); })' \\
  "$CONTROL_PLANE${ARTIFACT_PATH}" > "$TMP/${AGENT_ARTIFACT}"
echo "$EXPECTED_SHA256  $TMP/${AGENT_ARTIFACT}" | sha256sum -c --quiet - >/dev/null 2>&1 || {
  echo "arcsim install: SHA-256 of the download is not $EXPECTED_SHA256; nothing installed" >&2
  exit 1
}
echo "arcsim install: SHA-256 $EXPECTED_SHA256 checked"

mkdir -p "$INSTALL_DIR" "$STATE_DIR" "$CONF_DIR" "$UNIT_DIR"
# Copied then renamed, so a running agent's file is replaced whole.
cp "$TMP/${AGENT_ARTIFACT}" "$AGENT_FILE.new"
chmod 0755 "$AGENT_FILE.new"
mv -f "$AGENT_FILE.new" "$AGENT_FILE"
chmod 0700 "$STATE_DIR"
umask 077
printf 'ARCSIM_CONTROL_PLANE=%s\\nARCSIM_TOKEN=%s\\n' "$CONTROL_PLANE" "$TOKEN" > "$ENV_FILE"
chmod 0600 "$ENV_FILE"
umask 022

# Enrolled by the installed agent itself, so a broken install fails here rather than when systemd starts it.
echo "arcsim install: enrolling"
"$NODE_BIN" "$AGENT_FILE" enroll --control-plane "$CONTROL_PLANE" --token "$TOKEN" --state-dir "$STATE_DIR"

cat > "$UNIT_DIR/${SERVICE_NAME}" <<UNIT
${unit.trimEnd()}
UNIT

if [ "$SERVICE" = 1 ]; then
  echo "arcsim install: starting ${SERVICE_NAME}"
  systemctl daemon-reload
  systemctl enable --now ${SERVICE_NAME}
  echo "arcsim install: done. Status: systemctl status ${SERVICE_NAME}; logs: journalctl -u ${SERVICE_NAME}"
else
  echo "arcsim install: done, service not started (--no-service). Run in the foreground:"
  echo "  $NODE_BIN $AGENT_FILE run --control-plane $CONTROL_PLANE --state-dir $STATE_DIR"
fi
`;
}

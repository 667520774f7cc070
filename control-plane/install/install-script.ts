import { AGENT_ARTIFACT, AGENT_PATHS, renderUnit, SERVICE_NAME } from '../../protocol/agent-service.ts';

/** Where install.sh downloads the agent bundle, and its digest, on the control plane. */
export const ARTIFACT_PATH = `/agent/${AGENT_ARTIFACT}`;

/** Where install.sh can also fetch the CA it carries (public, like install.sh: a CA is no secret). */
export const CA_PATH = '/install/ca.pem';

/**
 * The onboarding script, like Arc's: downloads the agent bundle (one file) from this control
 * plane (`baseUrl`, its public URL), checks its SHA-256 (baked in here) with sha256sum before
 * installing anything, installs it with a state dir, env file and systemd unit, enrolls with the
 * token given as argument and starts the service. With `ca` (a control plane serving TLS) the
 * script carries the CA and its SHA-256, checks the one against the other (sha256sum of the DER)
 * before trusting it, downloads over https trusting that CA alone, and installs it as the CA the
 * agent pins. Needs Node.js >= 20 and coreutils; no npm, no compiler, no curl, no registry access.
 * Every path is under ARCSIM_ROOT (default empty = /), so it can be exercised against a temp dir;
 * `--no-service` skips systemctl (a chroot or container without systemd).
 */
export function renderInstallScript(baseUrl: string, sha256: string, ca?: { pem: string; sha256: string }): string {
  const unit = renderUnit({ node: '${NODE_BIN}', entry: '${AGENT_FILE}', stateDir: '${STATE_DIR}', envFile: '${ENV_FILE}' })
    // systemd expands this one from the EnvironmentFile; escaped so the install script's shell leaves it alone.
    .replace('${ARCSIM_CONTROL_PLANE}', '\\${ARCSIM_CONTROL_PLANE}');
  return `#!/usr/bin/env bash
# arcsim agent onboarding script, served by the control plane at ${baseUrl}/install.sh
#   curl -fsSL ${ca ? `--cacert ca.pem ${baseUrl}/install.sh | sudo bash -s -- TOKEN
#   (ca.pem: ${baseUrl}${CA_PATH}, once its SHA-256 is checked against the one "arcsim tls init" printed)` : `${baseUrl}/install.sh | sudo bash -s -- TOKEN`}
#   (or: sudo bash install.sh --token TOKEN [--no-service])
# Downloads the agent (${baseUrl}${ARTIFACT_PATH}: one file, needs only Node.js >= 20), checks
# its SHA-256, installs it, enrolls with TOKEN, writes ${SERVICE_NAME} and starts it (not with
# --no-service). ARCSIM_ROOT puts every path under another root (default: /).${ca ? `
# Over https: the agent trusts only the lab CA below (SHA-256 ${ca.sha256}), checked first.` : ''}
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
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0" 2>/dev/null || true; exit 0 ;;
    *) TOKEN="$1"; shift ;;
  esac
done
[ -n "$TOKEN" ] || { echo "arcsim install: an enrollment token is required (arcsim token create ...)" >&2; exit 2; }

# The bundle this control plane serves; a download that does not match is never installed.
EXPECTED_SHA256="${sha256}"
# SHA-256 of the CA certificate (DER) the agent pins; empty: the control plane serves no TLS of its own.
CA_SHA256="${ca?.sha256 ?? ''}"
CA_PEM='${ca ? ca.pem.trim() : ''}'
INSTALL_DIR="$ROOT/${AGENT_PATHS.installDir}"
AGENT_FILE="$INSTALL_DIR/${AGENT_ARTIFACT}"
STATE_DIR="$ROOT/${AGENT_PATHS.stateDir}"
CONF_DIR="$ROOT/${AGENT_PATHS.confDir}"
ENV_FILE="$ROOT/${AGENT_PATHS.envFile}"
CA_FILE="$ROOT/${AGENT_PATHS.caFile}"
UNIT_DIR="$ROOT/${AGENT_PATHS.unitDir}"

NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || { echo "arcsim install: Node.js >= 20 is required (https://nodejs.org)" >&2; exit 1; }
NODE_MAJOR="$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || { echo "arcsim install: Node.js >= 20 is required, found $("$NODE_BIN" --version)" >&2; exit 1; }
command -v sha256sum >/dev/null || { echo "arcsim install: sha256sum (coreutils) is required to check the download" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
CA_ARG=""
if [ -n "$CA_SHA256" ]; then
  command -v base64 >/dev/null || { echo "arcsim install: base64 (coreutils) is required to check the CA" >&2; exit 1; }
  case "$CONTROL_PLANE" in
    https://*) ;;
    *) echo "arcsim install: this control plane serves TLS; give its https:// URL, not $CONTROL_PLANE" >&2; exit 1 ;;
  esac
  printf '%s\n' "$CA_PEM" > "$TMP/ca.pem"
  # The fingerprint is the SHA-256 of the certificate's DER bytes: the PEM body, base64-decoded.
  CA_BODY=""
  while IFS= read -r line; do line="\${line%$'\\r'}"; case "$line" in -----*) ;; *) CA_BODY="$CA_BODY$line" ;; esac; done < "$TMP/ca.pem"
  echo "$CA_SHA256  -" > "$TMP/ca.sha256"
  printf '%s' "$CA_BODY" | base64 -d | sha256sum -c --quiet "$TMP/ca.sha256" >/dev/null 2>&1 || {
    echo "arcsim install: the CA in this script does not have SHA-256 $CA_SHA256; nothing installed" >&2
    exit 1
  }
  echo "arcsim install: CA SHA-256 $CA_SHA256 checked; trusting only this CA for $CONTROL_PLANE"
  CA_ARG="$TMP/ca.pem"
fi

echo "arcsim install: downloading the agent from $CONTROL_PLANE"
# Node's own client, so curl/wget are not needed on the target; with a CA, it is the only one trusted.
"$NODE_BIN" -e 'const [url, ca] = process.argv.slice(1); const u = new URL(url);
require(u.protocol === "https:" ? "node:https" : "node:http").get(u, ca ? { ca: require("node:fs").readFileSync(ca) } : {}, (r) => {
  if (r.statusCode !== 200) { console.error("HTTP " + r.statusCode); process.exit(1); }
  r.pipe(process.stdout);
}).on("error", (e) => { console.error(String(e)); process.exit(1); });' \\
  "$CONTROL_PLANE${ARTIFACT_PATH}" "$CA_ARG" > "$TMP/${AGENT_ARTIFACT}"
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
CA_OPT=()
if [ -n "$CA_ARG" ]; then
  # The CA the agent pins; the agent reads its path from ARCSIM_CA_FILE in the env file.
  cp "$CA_ARG" "$CA_FILE"
  chmod 0644 "$CA_FILE"
  CA_OPT=(--ca-file "$CA_FILE")
fi
umask 077
printf 'ARCSIM_CONTROL_PLANE=%s\\nARCSIM_TOKEN=%s\\n' "$CONTROL_PLANE" "$TOKEN" > "$ENV_FILE"
[ -z "$CA_ARG" ] || printf 'ARCSIM_CA_FILE=%s\\n' "$CA_FILE" >> "$ENV_FILE"
chmod 0600 "$ENV_FILE"
umask 022

# Enrolled by the installed agent itself, so a broken install fails here rather than when systemd starts it.
echo "arcsim install: enrolling"
"$NODE_BIN" "$AGENT_FILE" enroll --control-plane "$CONTROL_PLANE" \${CA_OPT[@]+"\${CA_OPT[@]}"} --token "$TOKEN" --state-dir "$STATE_DIR"

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
  echo "  $NODE_BIN $AGENT_FILE run --control-plane $CONTROL_PLANE \${CA_OPT[*]+\${CA_OPT[*]}} --state-dir $STATE_DIR"
fi
`;
}

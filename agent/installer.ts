import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadIdentity } from './identity.ts';
import { enrollOnly } from './enroll.ts';
import { spooledEvents } from './spool.ts';

export const SERVICE_NAME = 'arcsim-agent.service';

/**
 * Where an install puts things, relative to `root` (default `/`; tests pass a temp dir, so no
 * real system path is touched). The unit's paths include the root, so a root install is
 * self-consistent.
 */
export function installPaths(root = '/') {
  const at = (p: string) => join(root, p);
  return {
    installDir: at('opt/arcsim-agent'),
    stateDir: at('var/lib/arcsim-agent'),
    confDir: at('etc/arcsim-agent'),
    envFile: at('etc/arcsim-agent/agent.env'),
    unitFile: at(`etc/systemd/system/${SERVICE_NAME}`),
  };
}

/**
 * Node options the service runs with (issue #3: idle footprint). `--optimize-for-size` keeps V8's
 * heap smaller at a small CPU cost the idle agent does not notice: max RSS 77 MB instead of
 * 80.5 MB over three 40 s runs (docs/performance.md).
 */
export const UNIT_NODE_ARGS: string[] = ['--optimize-for-size'];

/**
 * The systemd unit. Values are inserted as given, so install.sh can render it with shell
 * variables (`${INSTALL_DIR}`) and `arcsim agent install` with real paths: one text for both.
 */
export function renderUnit(v: { node: string; entry: string; stateDir: string; envFile: string; workDir: string }): string {
  return `[Unit]
Description=arcsim agent (Arc-style lab agent: registers this host, plays synthetic scenarios)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
# ARCSIM_CONTROL_PLANE and ARCSIM_TOKEN (kept to re-enroll after node_invalid; remove it if you prefer).
EnvironmentFile=${v.envFile}
ExecStart=${[v.node, ...UNIT_NODE_ARGS, v.entry].join(' ')} run --control-plane \${ARCSIM_CONTROL_PLANE} --state-dir ${v.stateDir} --log-format json
WorkingDirectory=${v.workDir}
Restart=on-failure
RestartSec=10
NoNewPrivileges=true
ProtectSystem=full
ReadWritePaths=${v.stateDir}

[Install]
WantedBy=multi-user.target
`;
}

function envText(controlPlane: string, token: string): string {
  return `ARCSIM_CONTROL_PLANE=${controlPlane}\nARCSIM_TOKEN=${token}\n`;
}

function systemctl(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('systemctl', args, { encoding: 'utf8' });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/**
 * `arcsim agent install`: the same result as install.sh, from this checkout (nothing copied or
 * downloaded): state dir 0700, env file 0600, enrollment, unit file, `systemctl enable --now`.
 */
export async function installLocal(o: { root?: string; controlPlane: string; token: string; checkout: string; start?: boolean }): Promise<string[]> {
  const p = installPaths(o.root);
  const log: string[] = [];
  mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
  chmodSync(p.stateDir, 0o700);
  mkdirSync(p.confDir, { recursive: true, mode: 0o755 });
  writeFileSync(p.envFile, envText(o.controlPlane, o.token), { mode: 0o600 });
  chmodSync(p.envFile, 0o600);
  const enrolled = await enrollOnly({ controlPlane: o.controlPlane, token: o.token, stateDir: p.stateDir });
  log.push(enrolled.already ? `already enrolled as ${enrolled.agentId}` : `enrolled as ${enrolled.agentId}`);
  mkdirSync(join(p.unitFile, '..'), { recursive: true });
  writeFileSync(p.unitFile, renderUnit({
    node: process.execPath, entry: join(o.checkout, 'bin', 'arcsim-agent.js'), stateDir: p.stateDir, envFile: p.envFile, workDir: o.checkout,
  }));
  log.push(`wrote ${p.unitFile}`);
  if (o.start !== false) {
    for (const args of [['daemon-reload'], ['enable', '--now', SERVICE_NAME]]) {
      const r = systemctl(args);
      log.push(`systemctl ${args.join(' ')}: ${r.ok ? 'ok' : `failed (${r.output})`}`);
    }
  }
  return log;
}

/** `arcsim agent uninstall`: stops and disables the service, removes unit, env file and (install.sh's) copy; `purge` also removes the state dir. */
export function uninstall(o: { root?: string; purge?: boolean }): string[] {
  const p = installPaths(o.root);
  const log: string[] = [];
  if (existsSync(p.unitFile)) {
    const r = systemctl(['disable', '--now', SERVICE_NAME]);
    log.push(`systemctl disable --now ${SERVICE_NAME}: ${r.ok ? 'ok' : `failed (${r.output})`}`);
  }
  for (const f of [p.unitFile, p.confDir, p.installDir, ...(o.purge ? [p.stateDir] : [])]) {
    if (existsSync(f)) {
      rmSync(f, { recursive: true, force: true });
      log.push(`removed ${f}`);
    }
  }
  if (existsSync(p.unitFile) === false) systemctl(['daemon-reload']);
  if (!o.purge && existsSync(p.stateDir)) log.push(`kept ${p.stateDir} (identity and spool; --purge removes it)`);
  return log;
}

export interface InstallStatus {
  unitFile: string | null;
  active: string;
  agentId: string | null;
  controlPlane: string | null;
  spooledEvents: number | null;
  extensions: string[];
}

/** `arcsim agent status`: what is installed, whether the service runs, the identity and the spool. */
export function status(o: { root?: string; stateDir?: string }): InstallStatus {
  const p = installPaths(o.root);
  const stateDir = o.stateDir ?? p.stateDir;
  const id = existsSync(join(stateDir, 'identity.json')) ? loadIdentity(stateDir) : undefined;
  const spooled = spooledEvents(join(stateDir, 'spool.log'));
  let extensions: string[] = [];
  try {
    extensions = (JSON.parse(readFileSync(join(stateDir, 'extensions.json'), 'utf8')) as Array<{ name: string }>).map((e) => e.name);
  } catch { /* none */ }
  const active = systemctl(['is-active', SERVICE_NAME]);
  return {
    unitFile: existsSync(p.unitFile) ? p.unitFile : null,
    active: active.output || (active.ok ? 'active' : 'unknown'),
    agentId: id?.agentId ?? null,
    controlPlane: id?.controlPlane ?? null,
    spooledEvents: spooled,
    extensions,
  };
}

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { installPaths, renderUnit, SERVICE_NAME } from '../protocol/agent-service.ts';
import { loadIdentity } from './identity.ts';
import { enrollOnly } from './enroll.ts';
import { deregister } from './deregister.ts';
import { spooledEvents } from './spool.ts';

function envText(controlPlane: string, token: string, caFile?: string): string {
  return `ARCSIM_CONTROL_PLANE=${controlPlane}\nARCSIM_TOKEN=${token}\n${caFile ? `ARCSIM_CA_FILE=${caFile}\n` : ''}`;
}

function systemctl(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('systemctl', args, { encoding: 'utf8' });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/**
 * `arcsim agent install`: the same result as install.sh, with a local agent bundle (`artifact`):
 * the bundle copied to the install dir, state dir 0700, env file 0600, enrollment, unit file,
 * `systemctl enable --now` (unless `start` is false).
 */
export async function installLocal(o: {
  root?: string; controlPlane: string; token: string; artifact: string; start?: boolean;
  /** PEM of the CA to pin (installed as etc/arcsim-agent/ca.pem, named by ARCSIM_CA_FILE in the env file). */
  ca?: string;
}): Promise<string[]> {
  const p = installPaths(o.root);
  const log: string[] = [];
  mkdirSync(p.installDir, { recursive: true, mode: 0o755 });
  // Copied then renamed: a running agent keeps its file, and a failed copy leaves the old one.
  copyFileSync(o.artifact, `${p.artifact}.new`);
  chmodSync(`${p.artifact}.new`, 0o755);
  renameSync(`${p.artifact}.new`, p.artifact);
  log.push(`installed ${p.artifact}`);
  mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
  chmodSync(p.stateDir, 0o700);
  mkdirSync(p.confDir, { recursive: true, mode: 0o755 });
  if (o.ca) {
    writeFileSync(p.caFile, o.ca, { mode: 0o644 });
    log.push(`installed the pinned CA ${p.caFile}`);
  }
  writeFileSync(p.envFile, envText(o.controlPlane, o.token, o.ca ? p.caFile : undefined), { mode: 0o600 });
  chmodSync(p.envFile, 0o600);
  const enrolled = await enrollOnly({ controlPlane: o.controlPlane, ca: o.ca, token: o.token, stateDir: p.stateDir });
  log.push(enrolled.already ? `already enrolled as ${enrolled.agentId}` : `enrolled as ${enrolled.agentId}`);
  mkdirSync(dirname(p.unitFile), { recursive: true });
  writeFileSync(p.unitFile, renderUnit({ node: process.execPath, entry: p.artifact, stateDir: p.stateDir, envFile: p.envFile }));
  log.push(`wrote ${p.unitFile}`);
  if (o.start !== false) {
    for (const args of [['daemon-reload'], ['enable', '--now', SERVICE_NAME]]) {
      const r = systemctl(args);
      log.push(`systemctl ${args.join(' ')}: ${r.ok ? 'ok' : `failed (${r.output})`}`);
    }
  }
  return log;
}

/**
 * `arcsim agent uninstall`: stops and disables the service, deregisters the agent (the control
 * plane deletes its machine and revokes its key), then removes unit, env file and the installed
 * bundle; `purge` also removes the state dir. When the control plane cannot be reached the files
 * are removed all the same and the log says the machine stays registered.
 */
export async function uninstall(o: { root?: string; purge?: boolean; timeoutMs?: number }): Promise<string[]> {
  const p = installPaths(o.root);
  const log: string[] = [];
  if (existsSync(p.unitFile)) {
    const r = systemctl(['disable', '--now', SERVICE_NAME]);
    log.push(`systemctl disable --now ${SERVICE_NAME}: ${r.ok ? 'ok' : `failed (${r.output})`}`);
  }
  let identity;
  try {
    identity = loadIdentity(p.stateDir);
  } catch (err) {
    log.push(`cannot read the identity (${(err as Error).message}): not deregistered; delete the machine on the control plane (DELETE /api/machines/NAME)`);
  }
  if (identity) {
    const d = await deregister(identity, { timeoutMs: o.timeoutMs });
    if (d.ok) {
      log.push(d.already
        ? `agent ${identity.agentId} was already revoked on ${identity.controlPlane}: nothing to deregister`
        : `deregistered agent ${identity.agentId} from ${identity.controlPlane}${d.machineId ? ` (deleted ${d.machineId})` : ''}; its key is revoked`);
    } else {
      log.push(`could not deregister from ${identity.controlPlane} (${d.reason}): the machine stays registered there; ` +
        `delete it with "arcsim agent delete NAME" or DELETE /api/machines/NAME`);
    }
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

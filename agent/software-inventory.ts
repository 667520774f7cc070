import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SoftwareItem } from './software-rows.ts';

export type { SoftwareItem } from './software-rows.ts';

/**
 * The host's installed software as MDE's DeviceTvmSoftwareInventory rows (columns of Microsoft's
 * advanced-hunting reference, pinned in test/fixtures/mde-schema/). Read, never changed:
 * - Debian and Ubuntu: the dpkg status database (`/var/lib/dpkg/status`), packages whose status
 *   is `installed`;
 * - RPM distributions: `rpm -qa` (run without a shell);
 * - Windows: the uninstall registry keys (`reg query ...\Uninstall /s`, without a shell), both the
 *   64-bit and the 32-bit view;
 * - a persona's `software` list (lab machines that stand in for Windows / SQL Server hosts), which
 *   replaces the host's (the agent then passes a platform with no package database).
 * This module is reached only through import() from the agent: the cold part of its bundle.
 */
export const SOFTWARE_DEFAULTS = {
  dpkgStatusPath: '/var/lib/dpkg/status',
  osReleasePath: '/etc/os-release',
  /** One `rpm -qa` or `reg query` run, ms. */
  commandTimeoutMs: 60_000,
  /** Largest output taken from one command, bytes. */
  maxCommandOutputBytes: 32 * 1024 * 1024,
  /**
   * Most software rows in one snapshot: below the spool's default bound (5000 events), so one
   * snapshot never pushes unsent events out of it; a larger host's list is cut (with a note).
   */
  maxItems: 4000,
} as const;

/** os-release's `ID` and `VERSION_ID` -> the OSV ecosystem of its packages ('' when arcsim knows none). */
export function ecosystemOf(osRelease: string): string {
  const field = (k: string) => new RegExp(`^${k}=("?)([^"\\n]*)\\1$`, 'm').exec(osRelease)?.[2] ?? '';
  const id = field('ID');
  const version = field('VERSION_ID');
  const major = version.split('.')[0] ?? '';
  switch (id) {
    case 'debian': return version ? `Debian:${major}` : 'Debian';
    case 'ubuntu': return version ? `Ubuntu:${version}` : 'Ubuntu';
    case 'rhel': return 'Red Hat';
    case 'almalinux': return version ? `AlmaLinux:${major}` : 'AlmaLinux';
    case 'rocky': return version ? `Rocky Linux:${major}` : 'Rocky Linux';
    case 'sles': case 'sled': return 'SUSE';
    case 'opensuse-leap': case 'opensuse-tumbleweed': return 'openSUSE';
    default: return '';
  }
}

/**
 * The installed packages of a dpkg status database (deb-status(5)): one stanza per package,
 * kept when the third word of `Status:` is `installed`. `Source: name (version)` gives the
 * source package and, for binNMUs, its own version.
 */
export function parseDpkgStatus(text: string, ecosystem: string, vendor: string): SoftwareItem[] {
  const out: SoftwareItem[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!, m[2]!.trim());
    }
    const name = fields.get('Package');
    const version = fields.get('Version');
    if (!name || !version || fields.get('Status')?.split(/\s+/)[2] !== 'installed') continue;
    const item: SoftwareItem = { name, version, vendor, ecosystem };
    const source = /^(\S+)(?:\s+\((\S+)\))?$/.exec(fields.get('Source') ?? '');
    item.sourceName = source?.[1] ?? name;
    item.sourceVersion = source?.[2] ?? version;
    out.push(item);
  }
  return out;
}

/** `rpm -qa --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{VENDOR}\t%{SOURCERPM}\n'` -> items. */
export function parseRpmList(text: string, ecosystem: string): SoftwareItem[] {
  const out: SoftwareItem[] = [];
  for (const line of text.split('\n')) {
    const [name, evr, vendor, srpm] = line.split('\t');
    if (!name || !evr) continue;
    const version = evr.startsWith('0:') ? evr.slice(2) : evr;
    const src = /^(.+)-[^-]+-[^-]+\.src\.rpm$/.exec(srpm ?? '')?.[1];
    out.push({ name, version, vendor: vendor && vendor !== '(none)' ? vendor : '', ecosystem, sourceName: src ?? name, sourceVersion: version });
  }
  return out;
}

/**
 * `reg query HKLM\...\Uninstall /s` output -> items: each key with a DisplayName and a
 * DisplayVersion is one installed product, its Publisher the vendor. Windows products have no
 * OSV ecosystem: they are inventoried, not matched against OSV feeds.
 */
export function parseRegUninstall(text: string): SoftwareItem[] {
  const out: SoftwareItem[] = [];
  let cur: Record<string, string> = {};
  const flush = () => {
    if (cur.DisplayName && cur.DisplayVersion && cur.SystemComponent !== '0x1') {
      out.push({ name: cur.DisplayName, version: cur.DisplayVersion, vendor: cur.Publisher ?? '', ecosystem: '' });
    }
    cur = {};
  };
  for (const raw of text.split(/\r?\n/)) {
    if (/^HKEY_/i.test(raw)) { flush(); continue; }
    const m = /^\s+(\S+)\s+(REG_[A-Z_]+)\s+(.*)$/.exec(raw);
    if (m) cur[m[1]!] = m[3]!.trim();
  }
  flush();
  return out;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: SOFTWARE_DEFAULTS.commandTimeoutMs, maxBuffer: SOFTWARE_DEFAULTS.maxCommandOutputBytes, windowsHide: true }, (err, stdout) => {
      if (err) reject(err); else resolve(stdout);
    });
  });
}

export interface SoftwareSources {
  /** `process.platform` (default: this process's). */
  platform?: NodeJS.Platform;
  dpkgStatusPath?: string;
  osReleasePath?: string;
  /** Runs a command without a shell and returns its stdout (default: execFile). */
  runCommand?: (cmd: string, args: string[]) => Promise<string>;
  /** Software a persona declares; with `platform` other than linux / win32, only it is reported. */
  declared?: Array<{ name: string; version: string; vendor?: string; ecosystem?: string }>;
}

/** Reads the host's installed software (see the module comment); a source that fails gives nothing. */
export async function collectSoftware(o: SoftwareSources = {}): Promise<{ items: SoftwareItem[]; notes: string[] }> {
  const platform = o.platform ?? process.platform;
  const runCommand = o.runCommand ?? run;
  const notes: string[] = [];
  let items: SoftwareItem[] = [];
  if (platform === 'win32') {
    for (const key of ['HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall', 'HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall']) {
      try {
        items.push(...parseRegUninstall(await runCommand('reg', ['query', key, '/s'])));
      } catch (e) {
        notes.push(`software: reg query ${key} failed: ${(e as Error).message}`);
      }
    }
  } else if (platform === 'linux') {
    let osRelease = '';
    try { osRelease = readFileSync(o.osReleasePath ?? SOFTWARE_DEFAULTS.osReleasePath, 'utf8'); } catch { /* no os-release: no ecosystem */ }
    const ecosystem = ecosystemOf(osRelease);
    const vendor = /^ID=("?)([^"\n]*)\1$/m.exec(osRelease)?.[2] ?? '';
    let status: string | undefined;
    try { status = readFileSync(o.dpkgStatusPath ?? SOFTWARE_DEFAULTS.dpkgStatusPath, 'utf8'); } catch { /* not a dpkg system */ }
    if (status !== undefined) {
      items = parseDpkgStatus(status, ecosystem, vendor);
    } else {
      try {
        items = parseRpmList(await runCommand('rpm', ['-qa', '--qf', '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{VENDOR}\\t%{SOURCERPM}\\n']), ecosystem);
      } catch (e) {
        notes.push(`software: neither a dpkg status database nor rpm (${(e as Error).message})`);
      }
    }
  }
  for (const d of o.declared ?? []) items.push({ name: d.name, version: d.version, vendor: d.vendor ?? '', ecosystem: d.ecosystem ?? '' });
  items.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  if (items.length > SOFTWARE_DEFAULTS.maxItems) {
    notes.push(`software: ${items.length} items, only the first ${SOFTWARE_DEFAULTS.maxItems} reported`);
    items = items.slice(0, SOFTWARE_DEFAULTS.maxItems);
  }
  return { items, notes };
}

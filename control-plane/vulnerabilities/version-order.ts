import semver from 'semver';

/**
 * Version ordering of the ecosystems an OSV advisory names, each as its own tools order them:
 * - Debian: dpkg's algorithm (deb-version(5) / Debian Policy 5.6.12): `[epoch:]upstream[-revision]`,
 *   compared epoch numerically, then upstream and revision by alternating non-digit and digit
 *   runs, where `~` sorts before everything (even the end of the string) and letters before
 *   non-letters.
 * - RPM (Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE): `[epoch:]version[-release]` with
 *   rpmvercmp on each part: alphanumeric segments, a numeric segment newer than an alphabetic
 *   one, `~` older and `^` newer than the end of the string.
 * - npm: semver 2.0.0 precedence (the `semver` package).
 * Each compare returns <0, 0 or >0. An unknown ecosystem has no order: `compareVersions` returns
 * undefined and the advisory is not matched, rather than matched by a guessed order.
 */
export type Compare = (a: string, b: string) => number;

/** dpkg's order of one character in a non-digit run: `~` first, the end 0, letters, then the rest. */
function dpkgOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp: one upstream version or revision against another. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !/\d/.test(a[i]!)) || (j < b.length && !/\d/.test(b[j]!))) {
      const ac = i < a.length && !/\d/.test(a[i]!) ? a[i] : undefined;
      const bc = j < b.length && !/\d/.test(b[j]!) ? b[j] : undefined;
      const d = dpkgOrder(ac) - dpkgOrder(bc);
      if (d) return d;
      if (ac !== undefined) i++;
      if (bc !== undefined) j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && /\d/.test(a[i]!) && j < b.length && /\d/.test(b[j]!)) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && /\d/.test(a[i]!)) return 1;
    if (j < b.length && /\d/.test(b[j]!)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

interface Evr { epoch: number; version: string; release: string }

/** `[epoch:]version[-release]`; the release starts at the last hyphen (dpkg and rpm agree). */
function splitEvr(v: string): Evr {
  const colon = v.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(v.slice(0, colon)) ? Number(v.slice(0, colon)) : 0;
  const rest = colon > 0 && /^\d+$/.test(v.slice(0, colon)) ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) } : { epoch, version: rest, release: '' };
}

/** Debian version order (dpkg --compare-versions). */
export const compareDebian: Compare = (a, b) => {
  const x = splitEvr(a.trim());
  const y = splitEvr(b.trim());
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return verrevcmp(x.version, y.version) || verrevcmp(x.release, y.release);
};

/** rpmvercmp (rpm's lib/rpmvercmp.c): one version or release string against another. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const alnum = (c: string | undefined) => c !== undefined && /[A-Za-z0-9]/.test(c);
  while (i < a.length || j < b.length) {
    while (i < a.length && !alnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !alnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    // Tilde: older than anything, even the end.
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++; j++;
      continue;
    }
    // Caret: newer than the end, older than any other segment.
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++; j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = /\d/.test(a[i]!);
    const re = numeric ? /\d/ : /[A-Za-z]/;
    let ie = i;
    let je = j;
    while (ie < a.length && re.test(a[ie]!)) ie++;
    while (je < b.length && re.test(b[je]!)) je++;
    let sa = a.slice(i, ie);
    let sb = b.slice(j, je);
    // Segments of different kinds: the numeric one is newer.
    if (sb.length === 0) return numeric ? 1 : -1;
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ie;
    j = je;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** RPM EVR order (rpm's rpmVersionCompare): epoch, then version, then release, each by rpmvercmp. */
export const compareRpm: Compare = (a, b) => {
  const x = splitEvr(a.trim());
  const y = splitEvr(b.trim());
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return rpmvercmp(x.version, y.version) || rpmvercmp(x.release, y.release);
};

/** semver 2.0.0 precedence; a version semver cannot read has no order (throws). */
export const compareSemver: Compare = (a, b) => {
  const x = semver.parse(a.trim());
  const y = semver.parse(b.trim());
  if (!x || !y) throw new RangeError(`not a semantic version: ${x ? b : a}`);
  return semver.compare(x, y);
};

/** The OSV ecosystems (before any `:release` suffix) with a known order. */
const BY_ECOSYSTEM: Record<string, Compare> = {
  Debian: compareDebian, Ubuntu: compareDebian,
  'Red Hat': compareRpm, AlmaLinux: compareRpm, 'Rocky Linux': compareRpm, SUSE: compareRpm, openSUSE: compareRpm, Mageia: compareRpm,
  npm: compareSemver,
};

/** The order of an OSV ecosystem such as `Debian:12` or `npm`; undefined when arcsim knows none. */
export function orderOf(ecosystem: string): Compare | undefined {
  const base = ecosystem.split(':')[0]!;
  return BY_ECOSYSTEM[base];
}

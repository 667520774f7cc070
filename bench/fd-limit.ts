import { execFileSync } from 'node:child_process';

/** What the bench found (and did) about the open-files limit, for the report. */
export interface FdLimit {
  soft: number;
  hard: number;
  /** File descriptors the pass needs in this process (its sockets plus a margin). */
  needed: number;
  /** One line for the report: what was checked, and whether the soft limit was raised. */
  note: string;
  ok: boolean;
}

/** Reads one process's RLIMIT_NOFILE with util-linux `prlimit` (no shell); undefined without it. */
function readLimit(pid: number): { soft: number; hard: number } | undefined {
  try {
    const out = execFileSync('prlimit', ['--pid', String(pid), '--nofile', '--output', 'SOFT,HARD', '--raw', '--noheadings'], { encoding: 'utf8' });
    const [soft, hard] = out.trim().split(/\s+/).map((v) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v)));
    return soft !== undefined && hard !== undefined && !Number.isNaN(soft) && !Number.isNaN(hard) ? { soft, hard } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure this process (the control plane's: one socket per agent) may open `needed` files.
 * When the soft limit is lower and the hard limit allows it, the soft limit is raised to the hard
 * limit with `prlimit --pid <own pid>` (an unprivileged process may do that); child processes
 * forked afterwards (the agent fleets) inherit it. Never fails by itself: `ok` says whether the
 * pass can run, `note` says what was found and done.
 */
export function ensureFdLimit(needed: number): FdLimit {
  const before = readLimit(process.pid);
  if (!before) return { soft: 0, hard: 0, needed, ok: true, note: `open-files limit not checked (no util-linux prlimit); the pass needs ${needed}: raise it with ulimit -n if sockets fail with EMFILE` };
  if (before.soft >= needed) return { ...before, needed, ok: true, note: `open-files limit ${before.soft} (hard ${before.hard}) >= ${needed} needed` };
  if (before.hard < needed) {
    return { ...before, needed, ok: false, note: `open-files limit: hard ${before.hard} < ${needed} needed; raise it (ulimit -Hn as root, or LimitNOFILE= in systemd) and rerun` };
  }
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`]);
  } catch (err) {
    return { ...before, needed, ok: false, note: `open-files limit ${before.soft} < ${needed} needed and raising it failed: ${(err as Error).message}` };
  }
  const after = readLimit(process.pid) ?? before;
  return { ...after, needed, ok: after.soft >= needed, note: `open-files soft limit raised from ${before.soft} to ${after.soft} (the hard limit) for ${needed} needed` };
}

import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux build that matters). */
const TICKS_PER_SECOND = 100;

interface Stat { ppid: number; utime: number; stime: number; cutime: number; cstime: number }

function stat(pid: number, file = `/proc/${pid}/stat`): Stat | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    // Fields after the command name (which may hold spaces, inside parentheses).
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, all threads) a process has used so far, ms; 0 when it is gone. Linux only. */
export function processCpuMs(pid: number): number {
  const s = stat(pid);
  return s ? ((s.utime + s.stime) * 1000) / TICKS_PER_SECOND : 0;
}

/**
 * CPU time of a process and all its children, live and reaped, ms: what a PostgreSQL server (the
 * postmaster and its backends, which come and go) has used so far. Linux only.
 */
export function processTreeCpuMs(pid: number): number {
  const root = stat(pid);
  if (!root) return 0;
  let ticks = root.utime + root.stime + root.cutime + root.cstime;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s && s.ppid === pid) ticks += s.utime + s.stime;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time (user + system) this process's main thread has used so far, ms (its task id is the
 * process id); undefined where /proc is not there. process.cpuUsage counts every thread (worker
 * threads, GC helpers, libuv's pool): the difference is what ran beside the main thread.
 */
export function mainThreadCpuMs(): number | undefined {
  const s = stat(process.pid, `/proc/${process.pid}/task/${process.pid}/stat`);
  return s ? ((s.utime + s.stime) * 1000) / TICKS_PER_SECOND : undefined;
}

import type { SqlInstanceFacts } from '../protocol/index.ts';

type Engine = SqlInstanceFacts['engine'];

/** What discovery needs from the host: running processes and listening TCP ports. */
export interface ProcessInfo {
  pid: number;
  parentPid?: number;
  name: string;
  /** Executable path or command, e.g. /usr/lib/postgresql/15/bin/postgres. */
  command?: string;
  path?: string;
  params?: string;
}

export interface ListenerInfo {
  port: number;
  pid?: number | null;
  process?: string;
}

/** How each engine shows itself: process names and its well-known TCP port. */
const ENGINES: Record<Engine, { processes: RegExp; port: number; defaultName: string }> = {
  sqlserver: { processes: /^sqlservr(\.exe)?$/i, port: 1433, defaultName: 'MSSQLSERVER' },
  postgresql: { processes: /^(postgres|postmaster)(\.exe)?$/i, port: 5432, defaultName: 'PostgreSQL' },
  mysql: { processes: /^(mysqld|mariadbd)(\.exe)?$/i, port: 3306, defaultName: 'MySQL' },
};

const engineOf = (name: string): Engine | undefined =>
  (Object.keys(ENGINES) as Engine[]).find((e) => ENGINES[e].processes.test(name.trim()));

/** Version hints from install paths (`/usr/lib/postgresql/15/bin/postgres` -> PostgreSQL 15). */
function versionFrom(engine: Engine, p: ProcessInfo): string | undefined {
  const text = `${p.path ?? ''} ${p.command ?? ''} ${p.params ?? ''}`;
  if (engine === 'postgresql') {
    const m = /postgresql[/-](\d+(?:\.\d+)?)/i.exec(text) ?? /pgsql-(\d+)/i.exec(text);
    return m ? `PostgreSQL ${m[1]}` : undefined;
  }
  if (engine === 'mysql' && /mariadb/i.test(`${p.name} ${text}`)) return 'MariaDB';
  return undefined;
}

/**
 * Finds SQL Server, PostgreSQL and MySQL/MariaDB instances from running processes (one instance
 * per top-level server process; worker children are folded into their parent) and from
 * listening ports (a well-known port with no known process is still an instance). Declared
 * instances (config, persona) are added, and win over discovered ones of the same name.
 */
export function discoverSqlInstances(input: {
  processes?: ProcessInfo[];
  listeners?: ListenerInfo[];
  declared?: Array<Omit<SqlInstanceFacts, 'discoveredBy'> & { discoveredBy?: SqlInstanceFacts['discoveredBy'] }>;
}): SqlInstanceFacts[] {
  const processes = input.processes ?? [];
  const listeners = input.listeners ?? [];
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const found: Array<{ engine: Engine; pid?: number; ports: number[]; version?: string; by: 'process' | 'port' }> = [];
  const claimed = new Set<number>();

  for (const p of processes) {
    const engine = engineOf(p.name);
    if (!engine) continue;
    const parent = p.parentPid !== undefined ? byPid.get(p.parentPid) : undefined;
    if (parent && engineOf(parent.name) === engine) continue; // a worker of an instance already counted
    const ports = listeners.filter((l) => l.pid === p.pid).map((l) => l.port);
    ports.forEach((port) => claimed.add(port));
    found.push({ engine, pid: p.pid, ports, version: versionFrom(engine, p), by: 'process' });
  }
  // Listeners without a pid (not readable without root): give a lone instance its engine's port.
  for (const f of found) {
    const port = ENGINES[f.engine].port;
    if (f.ports.length === 0 && !claimed.has(port) && found.filter((g) => g.engine === f.engine).length === 1
      && listeners.some((l) => l.port === port)) {
      f.ports.push(port);
      claimed.add(port);
    }
  }
  for (const l of listeners) {
    if (claimed.has(l.port)) continue;
    const engine = (Object.keys(ENGINES) as Engine[]).find((e) => ENGINES[e].port === l.port);
    if (!engine) continue;
    claimed.add(l.port);
    found.push({ engine, ports: [l.port], by: 'port' });
  }

  const out = new Map<string, SqlInstanceFacts>();
  for (const f of found) {
    const same = found.filter((g) => g.engine === f.engine);
    const base = ENGINES[f.engine].defaultName;
    const name = same.length === 1 ? base : `${base}_${f.ports[0] ?? f.pid}`;
    const ports = [...new Set(f.ports)].sort((a, b) => a - b);
    out.set(name, {
      instanceName: name, engine: f.engine, discoveredBy: f.by,
      ...(f.version ? { version: f.version } : {}),
      ...(ports.length ? { tcpStaticPorts: ports.join(',') } : {}),
    });
  }
  for (const d of input.declared ?? []) out.set(d.instanceName, { ...d, discoveredBy: d.discoveredBy ?? 'config' });
  return [...out.values()];
}

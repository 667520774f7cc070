import { execFile, spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A throwaway PostgreSQL cluster on 127.0.0.1 (tests and `npm run bench -- --store postgres`). */
export interface TestPostgres {
  /** The server's process id (for its CPU time). */
  pid(): number | undefined;
  /** A new empty database on the cluster; its connection string. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server and deletes its directory. */
  stop(): Promise<void>;
}

const BINARIES = ['initdb', 'pg_ctl'];

/**
 * The directory holding initdb and pg_ctl: ARCSIM_PG_BIN when set (and only it), else PATH, then
 * Debian's /usr/lib/postgresql/<major>/bin (newest major first).
 */
export function findPostgresBin(): string | undefined {
  const executable = (dir: string) => BINARIES.every((b) => {
    try {
      accessSync(join(dir, b), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  const chosen = process.env.ARCSIM_PG_BIN;
  if (chosen !== undefined) return executable(chosen) ? chosen : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && executable(dir)) return dir;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  return majors.map((v) => join(root, v, 'bin')).find(executable);
}

/**
 * Starts a throwaway cluster with the binaries in `bin` (initdb, pg_ctl; run as the postgres user
 * when this process is root) on a free loopback port, durability off; stop() removes it.
 */
export async function startCluster(bin: string, options: { serverOptions?: string[] } = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  // initdb and the server refuse to run as root: hand the directory to the postgres user.
  const asRoot = process.getuid?.() === 0;
  const exec = (tool: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    return run(file, argv, { timeout: 60_000 });
  };
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (ids.status !== 0) throw new Error('running as root but there is no "postgres" user to run initdb as (it comes with the postgresql package)');
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const stopSync = () => {
    spawnSync(asRoot ? 'runuser' : join(bin, 'pg_ctl'), [...(asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl')] : []), '-D', data, 'stop', '-m', 'immediate', '-w'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  // If the test process dies before stop(), do not leave a server running.
  process.once('exit', stopSync);
  try {
    await exec('initdb', ['-D', data, '-U', 'arcsim', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const serverOptions = [
        '-c listen_addresses=127.0.0.1', `-p ${port}`, `-k ${dir}`,
        // Throwaway data: durability off for speed; deadlocks reported fast (the store retries them).
        '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c deadlock_timeout=100ms',
        ...(options.serverOptions ?? []),
      ].join(' ');
      try {
        await exec('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', serverOptions, 'start']);
        break;
      } catch (err) {
        // The free port may have been taken between the probe and the start: try another once or twice.
        if (attempt >= 3) throw new Error(`pg_ctl start failed: ${(err as Error).message}\n${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
      }
    }
    let n = 0;
    const admin = `postgres://arcsim@127.0.0.1:${port}/postgres`;
    return {
      pid() {
        try {
          return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        } catch {
          return undefined;
        }
      },
      async createDatabase(name = `arcsim_test_${++n}`) {
        const client = new pg.Client({ connectionString: admin });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        } finally {
          await client.end();
        }
        return `postgres://arcsim@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        process.removeListener('exit', stopSync);
        await exec('pg_ctl', ['-D', data, 'stop', '-m', 'fast', '-w']).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    process.removeListener('exit', stopSync);
    stopSync();
    throw err;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

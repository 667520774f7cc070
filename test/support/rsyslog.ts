import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A real rsyslogd (Debian's package) started by a test: TCP and UDP inputs on loopback, one output file. */
export interface TestRsyslog {
  tcpPort: number;
  udpPort: number;
  /** The lines rsyslog has written so far, split into the template's fields. */
  lines(): RsyslogLine[];
  /** Waits (polling the file, up to `timeoutMs`) until `count` lines are there. */
  waitForLines(count: number, timeoutMs?: number): Promise<RsyslogLine[]>;
  stop(): Promise<void>;
}

/** The fields rsyslog parsed from each RFC 5424 message (its property names). */
export interface RsyslogLine {
  input: 'tcp' | 'udp';
  pri: number;
  timereported: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  msg: string;
}

export type RsyslogOrSkip = { rsyslog: TestRsyslog; skip: undefined } | { rsyslog: undefined; skip: string };

function findRsyslogd(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = join(dir, 'rsyslogd');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch { /* next */ }
  }
  return undefined;
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts rsyslogd in the foreground with its own config (no system inputs), or says why not:
 * skipped locally when rsyslogd is missing, an error in CI (CI=true) so the test never passes silently.
 */
export async function startRsyslog(): Promise<RsyslogOrSkip> {
  const bin = findRsyslogd();
  if (!bin) {
    const reason = 'rsyslogd not found (apt-get install rsyslog)';
    if (process.env.CI === 'true') throw new Error(`${reason} (required in CI)`);
    return { rsyslog: undefined, skip: reason };
  }
  const dir = mkdtempSync(join(tmpdir(), 'arcsim-rsyslog-'));
  const out = join(dir, 'received.log');
  const [tcpPort, udpPort] = [await freeTcpPort(), await freeUdpPort()];
  // Tab-separated properties of each message, as rsyslog's RFC 5424 parser read them.
  writeFileSync(join(dir, 'rsyslog.conf'), `
global(workDirectory="${dir}" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
template(name="fields" type="string" string="%inputname%\\t%pri%\\t%timereported:::date-rfc3339%\\t%hostname%\\t%app-name%\\t%procid%\\t%msgid%\\t%structured-data%\\t%msg%\\n")
ruleset(name="lab") { action(type="omfile" file="${out}" template="fields") }
input(type="imtcp" port="${tcpPort}" address="127.0.0.1" ruleset="lab")
input(type="imudp" port="${udpPort}" address="127.0.0.1" ruleset="lab")
`);
  const child: ChildProcess = spawn(bin, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  // Ready once the TCP input accepts a connection.
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(tcpPort, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 100 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`rsyslogd did not start: ${stderr}`);
    }
    await delay(50);
  }
  const lines = (): RsyslogLine[] => {
    if (!existsSync(out)) return [];
    return readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [input, pri, timereported, hostname, appName, procId, msgId, structuredData, ...msg] = l.split('\t');
      return { input: input === 'imudp' ? 'udp' : 'tcp', pri: Number(pri), timereported: timereported!, hostname: hostname!, appName: appName!, procId: procId!, msgId: msgId!, structuredData: structuredData!, msg: msg.join('\t') } as RsyslogLine;
    });
  };
  return {
    skip: undefined,
    rsyslog: {
      tcpPort, udpPort, lines,
      async waitForLines(count, timeoutMs = 10_000) {
        const until = Date.now() + timeoutMs;
        while (lines().length < count && Date.now() < until) await delay(50);
        return lines();
      },
      async stop() {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, delay(5_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}

/** The SD-PARAMs of `[id k="v" ...]` with RFC 5424 escapes undone. */
export function sdParams(sd: string, id: string): Record<string, string> {
  const element = sd.startsWith(`[${id} `) ? sd.slice(id.length + 2) : '';
  const out: Record<string, string> = {};
  for (const m of element.matchAll(/([^\s=\]]+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!.replace(/\\(["\\\]])/g, '$1');
  return out;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanup, tempDir } from '../helpers.ts';

// Issue 12, found case: the README's "Running it for real" failed as written (`arcsim run
// examples/onprem.yaml`: 0/6 FAIL, "no MDE extension") because no step turned a Defender plan on.
// This test takes the commands from README.md itself, so it breaks when the README drifts, and runs
// them against a real control plane (https, its own lab CA) and a real agent, on loopback.
//
// What is substituted, and why (everything else runs as written):
//   cp.lab, 10.0.0.5       -> localhost            the only name this machine has; the cert names it
//   --host 0.0.0.0         -> --host 127.0.0.1     tests stay on loopback
//   7070                   -> a free port          tests run side by side
//   /etc/arcsim, /var/lib/arcsim*, $PWD/ca.pem, arcsim-ca.pem -> a temporary directory
//   arcsim_admin_... / arcsim_enroll_...           -> the key and token the previous commands printed
//   npx arcsim             -> node bin/arcsim.js   the same bin, without npx's lookup
//   step 3a (curl | sudo bash install.sh) is skipped: it needs root and systemd; 3b runs the same agent.

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'arcsim.js');
const run = promisify(execFile);

/** The shell block of the README section, as one command per entry (continuations joined, comments dropped). */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Running it for real'));
  assert.ok(section, 'README has a "Running it for real" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.replace(/\\\n\s*/g, ' ').split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l && !l.startsWith('#'));
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Reads a child's stdout until `pattern` matches; resolves with the match. */
function waitFor(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output so far:\n${out}`)), timeoutMs);
    const on = (b: Buffer) => {
      out += b.toString();
      const m = pattern.exec(out);
      if (m) { clearTimeout(timer); resolve(m); }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${what}: process exited ${code}:\n${out}`)); });
  });
}

test('README "Running it for real", run as written: control plane over TLS, a real agent, plan on, examples/onprem.yaml passes', { timeout: 300_000 }, async (t) => {
  const commands = readmeCommands();
  assert.ok(commands.some((c) => /arcsim plan set servers on/.test(c)), 'the README turns Defender for Servers on');
  assert.ok(commands.some((c) => /arcsim run examples\/onprem\.yaml/.test(c)), 'the README runs examples/onprem.yaml');

  const dir = tempDir();
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null) { c.kill('SIGTERM'); await new Promise((r) => c.once('exit', r)); }
    cleanup(dir);
  });
  const port = await freePort();
  const env: Record<string, string> = { ...process.env as Record<string, string>, ARCSIM_LOG_LEVEL: 'warn' };
  delete env.ARCSIM_API_KEY; delete env.ARCSIM_ADMIN_KEY; delete env.ARCSIM_CONTROL_PLANE; delete env.ARCSIM_STORE_URL;
  let adminKey = '';
  let enrollToken = '';

  const substitute = (line: string) => line
    .replace(/\bcp\.lab\b/g, 'localhost').replace(/10\.0\.0\.5/g, 'localhost')
    .replace('--host 0.0.0.0', '--host 127.0.0.1').replace(/\b7070\b/g, String(port))
    .replace(/\/etc\/arcsim\b/g, join(dir, 'etc'))
    .replace(/\/var\/lib\/arcsim-agent\b/g, join(dir, 'agent-state')).replace(/\/var\/lib\/arcsim\b/g, join(dir, 'data'))
    .replace('$PWD/ca.pem', join(dir, 'etc', 'tls', 'ca.pem')).replace(/(?<=\s)arcsim-ca\.pem\b/g, join(dir, 'etc', 'tls', 'ca.pem'))
    .replace(/arcsim_admin_\.\.\./g, () => adminKey).replace(/arcsim_enroll_\.\.\./g, () => enrollToken);

  const ran: string[] = [];
  for (const raw of commands) {
    const line = substitute(raw);
    if (/^(curl|sed) /.test(line)) continue; // step 3a: root + systemd (see above)
    const exp = /^export (\w+)=(\S+)$/.exec(line);
    if (exp) { env[exp[1]!] = exp[2]!; ran.push(line); continue; }
    assert.match(line, /^npx arcsim /, `a command the test knows how to run: ${raw}`);
    const args = line.replace(/^npx arcsim /, '').split(/\s+/);
    ran.push(args.slice(0, 2).join(' '));
    if (args[0] === 'control-plane') {
      const cp = spawn(process.execPath, [BIN, ...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(cp);
      adminKey = (await waitFor(cp, /Admin API key[^\n]*\n\s+(arcsim_admin_\S+)/, 'the admin key'))[1]!;
      continue;
    }
    if (args[0] === 'agent') {
      const agent = spawn(process.execPath, [BIN, ...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(agent);
      // The agent is connected once the control plane lists its machine.
      for (let i = 0; ; i++) {
        const r = await run(process.execPath, [BIN, 'inventory', 'assets', '--json'], { env, cwd: ROOT }).catch((e) => e);
        if (typeof r.stdout === 'string' && /Connected/.test(r.stdout)) break;
        assert.ok(i < 60 && agent.exitCode === null, `the agent connects (agent exit ${agent.exitCode}); last: ${r.stdout ?? r.message}`);
        await new Promise((res) => setTimeout(res, 200)); // polling a real process, not waiting on a window
      }
      continue;
    }
    const r = await run(process.execPath, [BIN, ...args], { env, cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((e) => e);
    assert.equal(r.code ?? 0, 0, `${line}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    if (args[0] === 'token') enrollToken = /arcsim_enroll_[A-Za-z0-9_-]+/.exec(r.stdout)![0];
    if (args[0] === 'run') assert.doesNotMatch(r.stdout, /\bFAIL\b/, r.stdout);
  }
  assert.deepEqual(ran.filter((c) => !c.startsWith('export')), ['tls init', 'control-plane --host', 'key create', 'token create', 'agent --control-plane', 'plan set', 'run examples/onprem.yaml']);
});

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadLibrary, loadScenarioFile, planRun, LIBRARY_DIR, type InputValue, type Scenario } from '../scenarios/index.ts';
import { importAtomicFile, scenarioToYaml } from '../scenarios/atomic-import.ts';
import { toNdjson } from '../scenarios/recording.ts';
import { readRecordedEvents, RECORDED_FORMATS, summarizeRead, type RecordedFormat } from '../scenarios/recorded/index.ts';
import { ArcsimError, protocolError } from '../protocol/errors.ts';
import type { SensorEvent } from '../protocol/index.ts';
import { formatDuration } from '../lib/duration.ts';
import { createLogger } from '../lib/logger.ts';
import { Agent, AGENT_DEFAULTS, collectHostFacts } from '../agent/index.ts';
import { replayThroughAgent } from '../agent/replay.ts';
import { table } from '../lib/text-table.ts';
import { adminKeyOption, apiKeyOption, caFileOption, controlPlaneOption, durationOption, positiveIntOption } from './options.ts';
import { loadPinnedCa } from '../agent/pinned-ca.ts';
import { apiOf, keyOf } from './api.ts';

/** Where `play` starts when no --start is given: fixed, so two plays with one seed are identical. */
export const DEFAULT_RECORDING_START = '2026-01-01T00:00:00.000Z';

type Out = (text: string) => void;
const stdout: Out = (t) => process.stdout.write(t);

function collect(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('NAME=VALUE');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function speedOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('a number >= 0 (0 = all at once, 1 = real time, 3600 = an hour per second)');
  return n;
}

function timeOption(value: string): number {
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new InvalidArgumentError('an ISO 8601 time, e.g. 2026-01-01T00:00:00Z');
  return t;
}

/** A scenario by library slug, id, or file path. */
export function findScenario(ref: string, dir = LIBRARY_DIR): Scenario {
  if (existsSync(ref) && statSync(ref).isFile()) return loadScenarioFile(ref);
  const lib = loadLibrary(dir);
  const found = lib.get(ref) ?? [...lib.values()].find((s) => s.id === ref);
  if (!found) throw new Error(`no scenario "${ref}" in ${dir} (try "arcsim scenario list"), and no such file`);
  return found;
}

/** Scenario files named by `paths` (directories are expanded); the library when none is given. */
function scenarioFiles(paths: string[]): string[] {
  const targets = paths.length ? paths : [LIBRARY_DIR];
  return targets.flatMap((p) => (existsSync(p) && statSync(p).isDirectory()
    ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(p, f))
    : [p]));
}

/** Validates files; returns the number that failed. */
export function validateFiles(paths: string[], o: { json?: boolean }, out: Out = stdout): number {
  const results = scenarioFiles(paths).map((file) => {
    try {
      const s = loadScenarioFile(file);
      return { file, ok: true as const, slug: s.slug };
    } catch (err) {
      const e = err as ArcsimError;
      return { file, ok: false as const, code: e.code ?? 'error', path: e.path ?? '', message: e.message };
    }
  });
  const failed = results.filter((r) => !r.ok).length;
  if (o.json) out(JSON.stringify(results, null, 2) + '\n');
  else {
    for (const r of results) {
      out(r.ok ? `ok    ${r.file} (${r.slug})\n` : `FAIL  ${r.file}\n      ${r.code}${r.path ? ` at ${r.path}` : ''}: ${r.message}\n`);
    }
    out(`${results.length - failed}/${results.length} valid\n`);
  }
  return failed;
}

/** A deterministic detonation id for a recording: same scenario, variant and seed, same id. */
function recordingDetonationId(slug: string, variant: string, seed: string | number): string {
  const h = createHash('sha256').update(`${slug}/${variant}/${seed}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function summarize(e: SensorEvent): string {
  const r = e as Record<string, unknown>;
  const pick = (...k: string[]) => k.map((x) => r[x]).filter((v) => v !== undefined && v !== '').join(' ');
  switch (e.Table) {
    case 'DeviceProcessEvents': return pick('InitiatingProcessFileName') + ' -> ' + pick('ProcessCommandLine');
    case 'DeviceNetworkEvents': return `${pick('InitiatingProcessFileName')} -> ${pick('RemoteIP')}:${pick('RemotePort')} ${pick('RemoteUrl')}`;
    case 'DeviceLogonEvents': return `${pick('AccountName')} from ${pick('RemoteIP')} ${pick('LogonType', 'Protocol', 'FailureReason')}`;
    case 'DeviceFileEvents': return `${pick('InitiatingProcessFileName')} ${pick('FolderPath')}`;
    case 'DeviceRegistryEvents': return `${pick('InitiatingProcessFileName')} ${pick('RegistryKey')} ${pick('RegistryValueName')}`;
    case 'DeviceImageLoadEvents': return `${pick('InitiatingProcessFileName')} loads ${pick('FolderPath')}`;
    case 'DeviceEvents': return `${pick('InitiatingProcessFileName')} ${pick('FileName', 'RemoteUrl', 'RegistryKey')}`;
    case 'DeviceInfo': return pick('OSPlatform', 'OSVersion', 'OSArchitecture');
    case 'DeviceNetworkInfo': return `${pick('NetworkAdapterName')} ${pick('MacAddress')}`;
    case 'DeviceFileCertificateInfo': return `${pick('SHA1')} ${pick('Signer')}`;
    case 'SqlEvents': return `${pick('ServerPrincipalName')}@${pick('ClientIP')} ${pick('Statement') || pick('ErrorNumber')}`;
    case 'KubernetesAudit': return `${pick('Verb')} ${pick('RequestUri')}`;
  }
}

function clip(text: string, width: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > width ? one.slice(0, width - 1) + '…' : one;
}

export function scenarioCommand(): Command {
  const cmd = new Command('scenario').description('scenario files: list, show, validate, play (record), run on a connected agent, import from Atomic Red Team, replay a recording');

  cmd
    .command('list')
    .description('list the scenarios of a library directory')
    .option('--dir <dir>', 'scenario directory', LIBRARY_DIR)
    .option('--json', 'print JSON')
    .action((opts) => {
      const lib = [...loadLibrary(resolve(opts.dir)).values()];
      if (opts.json) return void stdout(JSON.stringify(lib, null, 2) + '\n');
      const rows = lib.map((s) => ({
        slug: s.slug, techniques: s.techniques.join(','), platforms: s.platforms.join(','),
        expects: s.expect.alerts.map((a) => a.alertType).join(', '), benign: s.benign ? 'yes' : 'no',
      }));
      stdout(table(rows, ['slug', 'techniques', 'platforms', 'benign', 'expects']) + '\n');
    });

  cmd
    .command('show <scenario>')
    .description('show one scenario (library slug, id or file): inputs, phases, expected alerts')
    .option('--dir <dir>', 'scenario directory', LIBRARY_DIR)
    .option('--json', 'print JSON')
    .action((ref: string, opts) => {
      const s = findScenario(ref, resolve(opts.dir));
      if (opts.json) return void stdout(JSON.stringify(s, null, 2) + '\n');
      stdout(`${s.name}\n${s.slug}  ${s.id}\n\n${s.description.trim()}\n\n`);
      stdout(`techniques  ${s.techniques.join(', ')}\ntactics     ${s.tactics.join(', ') || '-'}\nplatforms   ${s.platforms.join(', ')}\n`);
      if (s.startTimeOfDay) stdout(`starts at   ${s.startTimeOfDay} UTC\n`);
      if (Object.keys(s.inputs).length) {
        stdout('\nInputs\n' + table(Object.entries(s.inputs).map(([name, a]) => ({ name, type: a.type, default: a.default, description: a.description })), ['name', 'type', 'default', 'description']) + '\n');
      }
      for (const phase of ['warmup', 'detonate', 'cleanup'] as const) {
        if (!s[phase].length) continue;
        stdout(`\n${phase}\n` + table(s[phase].map((st) => ({
          step: st.name, after: st.after, repeat: st.repeat, every: st.every === '0s' ? '' : st.every, jitter: st.jitter === '0s' ? '' : st.jitter,
          events: st.events.map((e) => `${String(e.Table)}/${String(e.ActionType ?? e.Verb)}`).join(', '),
        })), ['step', 'after', 'repeat', 'every', 'jitter', 'events']) + '\n');
      }
      stdout('\nExpected alerts\n' + table(s.expect.alerts.map((a) => ({ ...a })), ['alertType', 'count', 'product']) + '\n');
      stdout(`\nBenign twin: ${s.benign ? s.benign.description.trim() : 'none'}\n`);
    });

  cmd
    .command('validate [paths...]')
    .description('validate scenario files or directories (default: the library); prints each error with its code and path, exits 1 if any fails')
    .option('--json', 'print JSON')
    .action((paths: string[], opts) => {
      if (validateFiles(paths, opts)) process.exitCode = 1;
    });

  cmd
    .command('play <scenario>')
    .description('play a scenario locally into an event stream (nothing is executed, nothing is sent): a table, NDJSON with --json, or a recording with --out')
    .addOption(new Option('--variant <variant>', 'attack or its benign twin').choices(['attack', 'benign']).default('attack'))
    .option('--seed <seed>', 'random seed (jitter and ids); same seed, same bytes', '1')
    .addOption(new Option('--start <time>', 'event time of the start (ISO 8601)').default(Date.parse(DEFAULT_RECORDING_START), DEFAULT_RECORDING_START).argParser(timeOption))
    .option('--input <name=value>', 'override an input (repeatable)', collect, {})
    .option('--host <name>', 'DeviceName of the events', 'arcsim-recorder')
    .option('--device-id <id>', 'DeviceId of the events', 'recording')
    .option('--detonation-id <id>', 'DetonationId (default: derived from scenario, variant and seed)')
    .option('--out <file>', 'write the stream as NDJSON (one event per line)')
    .option('--dir <dir>', 'scenario directory', LIBRARY_DIR)
    .option('--json', 'print the stream as NDJSON on stdout')
    .action((ref: string, opts) => {
      const s = findScenario(ref, resolve(opts.dir));
      const seed = /^-?\d+$/.test(opts.seed) ? Number(opts.seed) : opts.seed;
      const plan = planRun(s, {
        variant: opts.variant, seed, startTime: opts.start, inputs: opts.input as Record<string, InputValue>,
        detonationId: opts.detonationId ?? recordingDetonationId(s.slug, opts.variant, seed), device: { id: opts.deviceId, name: opts.host },
      });
      if (plan.failure) throw plan.failure.error;
      const events = plan.events.map((p) => p.event);
      if (opts.out) {
        writeFileSync(opts.out, toNdjson(events));
        const phases = ['warmup', 'detonate', 'cleanup'].map((ph) => `${ph} ${plan.events.filter((p) => p.phase === ph).length}`).join(', ');
        stdout(`wrote ${events.length} events (${phases}) spanning ${formatDuration(plan.spanMs)} of event time to ${opts.out}\ndetonation ${plan.detonationId}\n`);
        return;
      }
      if (opts.json) return void stdout(toNdjson(events));
      stdout(table(plan.events.map((p) => ({
        time: p.event.Timestamp, phase: p.phase, table: p.event.Table, action: p.event.ActionType ?? (p.event as { Verb?: string }).Verb, what: clip(summarize(p.event), 90),
      })), ['time', 'phase', 'table', 'action', 'what']) + `\n${events.length} events, detonation ${plan.detonationId}\n`);
    });

  cmd
    .command('run <scenario>')
    .description("play a library scenario (slug or id) on a machine's connected agent through the control plane; prints the detonation id, and with --wait the alerts it raised")
    .requiredOption('--machine <name>', 'Arc machine name (see GET /api/machines)')
    .addOption(new Option('--variant <variant>', 'attack or its benign twin').choices(['attack', 'benign']).default('attack'))
    .option('--seed <seed>', 'random seed (jitter and ids)')
    .option('--input <name=value>', 'override an input (repeatable)', collect, {})
    .option('--wait', 'wait until the agent has played it, then print the alerts raised')
    .addOption(new Option('--timeout <duration>', 'with --wait: how long to wait (at most 10m)').default(120_000, '2m').argParser(durationOption))
    .addOption(controlPlaneOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (ref: string, opts) => {
      const api = apiOf(opts);
      const seed = opts.seed === undefined ? undefined : /^-?\d+$/.test(opts.seed) ? Number(opts.seed) : opts.seed;
      const inputs = Object.keys(opts.input).length ? opts.input as Record<string, string> : undefined;
      const r = await api.runScenario(opts.machine, {
        scenario: ref, variant: opts.variant, seed, inputs, wait: !!opts.wait, ...(opts.wait ? { timeout: formatDuration(opts.timeout) } : {}),
      });
      const alerts = opts.wait ? await api.alertsOf(r.detonationId) : undefined;
      if (opts.json) return void stdout(JSON.stringify({ ...r, alerts }, null, 2) + '\n');
      stdout(`detonation ${r.detonationId}: ${r.scenario} (${opts.variant}) on ${r.machine}${opts.wait ? '' : ' sent'}\n`);
      if (!opts.wait || !alerts) return;
      if (r.ok === false) {
        process.exitCode = 1;
        stdout(`the agent reported a failure: ${r.message ?? ''}\n`);
      }
      stdout(`${r.events ?? 0} events collected\n`);
      stdout(alerts.length
        ? table(alerts.map((a) => ({ alertType: a.alertType, displayName: a.displayName, count: a.count, systemAlertId: a.systemAlertId })), ['alertType', 'displayName', 'count', 'systemAlertId']) + '\n'
        : 'no alerts raised\n');
    });

  cmd
    .command('import-atomic <file>')
    .description('turn an Atomic Red Team technique file into arcsim scenarios describing what each test would run (nothing is run)')
    .option('--out-dir <dir>', 'write one <slug>.yaml per scenario here (default: print YAML documents)')
    .option('--json', 'print JSON: scenarios, skipped tests, notes')
    .action((file: string, opts) => {
      const r = importAtomicFile(file);
      if (opts.json) return void stdout(JSON.stringify(r, null, 2) + '\n');
      for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      for (const sk of r.skipped) process.stderr.write(`skipped: ${sk.test}: ${sk.reason}\n`);
      if (opts.outDir) {
        mkdirSync(opts.outDir, { recursive: true });
        for (const s of r.scenarios) {
          const path = join(opts.outDir, `${s.slug}.yaml`);
          writeFileSync(path, scenarioToYaml(s));
          stdout(`wrote ${path}\n`);
        }
        stdout(`${r.scenarios.length} scenario${r.scenarios.length === 1 ? '' : 's'} imported, ${r.skipped.length} test${r.skipped.length === 1 ? '' : 's'} skipped; expected alerts are empty: add them (expect.alerts) before using them in a suite\n`);
      } else {
        stdout(r.scenarios.map(scenarioToYaml).join('---\n'));
      }
    });

  cmd
    .command('replay <file>')
    .description('send a recorded NDJSON stream through the real agent path (enroll, socket, acks) as a new run, with host, ids and addresses rewritten')
    .addOption(controlPlaneOption({ required: true }))
    .addOption(caFileOption())
    .addOption(new Option('--token <token>', 'enrollment token (first use of --state-dir)').env('ARCSIM_TOKEN'))
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--state-dir <dir>', 'identity of the replaying agent (keep it apart from a running agent\'s, or one replaces the other)', join(homedir(), '.arcsim', 'replay-agent'))
    .option('--host <name>', 'host name to register and stamp on the events (default: this host\'s)')
    .option('--map-ip <old=new>', 'rewrite an address everywhere it appears (repeatable)', collect, {})
    .addOption(new Option('--speed <n>', 'time-warp factor (0 = at once)').default(0).argParser(speedOption))
    .option('--keep-time', 'keep the recorded timestamps (default: move the stream to end now, spacing kept)')
    .option('--detonation-id <id>', 'DetonationId of the replay (default: a new UUID)')
    .addOption(new Option('--spool-max-events <n>', "the replaying agent's spool capacity, events").default(AGENT_DEFAULTS.spoolMaxEvents).argParser(positiveIntOption))
    .addOption(new Option('--eps <n>', 'events sent per second at most').default(AGENT_DEFAULTS.eventsPerSecond).argParser(positiveIntOption))
    .option('--no-back-pressure', 'push the whole recording into the spool at once instead of waiting for acks (it overflows when larger than the spool; the replay then exits 1)')
    .addOption(new Option('--format <format>', 'arcsim: a recording (NDJSON sensor events); evtx-json / flat-json: recorded Windows telemetry, mapped to MDE rows (see arcsim detect --help)').choices([...RECORDED_FORMATS]).default('arcsim'))
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts) => {
      const read = readRecordedEvents(readFileSync(file, 'utf8'), opts.format as RecordedFormat, file);
      // Records that gave no row are reported, never dropped silently.
      if (read.format !== 'arcsim') process.stderr.write(summarizeRead(read) + '\n');
      const recorded = read.events;
      const logger = createLogger({ format: 'pretty', level: 'warn', component: 'replay' });
      const real = (await collectHostFacts()).machine;
      const hostName = opts.host ?? real.hostname;
      const agent = new Agent({
        controlPlane: opts.controlPlane, ca: opts.caFile ? loadPinnedCa(opts.caFile) : undefined, token: opts.token, stateDir: opts.stateDir, logger, spoolMaxEvents: opts.spoolMaxEvents, eventsPerSecond: opts.eps,
        facts: async () => ({ machine: { ...real, hostname: hostName }, sqlInstances: [] }),
        // The replaying agent sends the recording only: no DeviceInfo / DeviceNetworkInfo rows of its own.
        deviceState: false,
      });
      const registered = agent.waitRegistered();
      await agent.start();
      try {
        const reg = await registered;
        const r = await replayThroughAgent(agent, recorded, {
          hostName, ipMap: opts.mapIp, speed: opts.speed, keepTime: !!opts.keepTime, detonationId: opts.detonationId, backPressure: opts.backPressure,
        });
        // Reading alerts needs an API key (reader or stronger); without one the replay itself still counts.
        const alerts = keyOf(opts) ? (await apiOf(opts).alertsOf(r.detonationId)).map((a) => a.alertType) : null;
        const result = {
          ...r, delivered: r.events - r.dropped, machineId: reg.machineId, alerts,
          ...(read.format !== 'arcsim' ? { recorded: { format: read.format, records: read.records, mapped: read.mapped, rows: read.events.length, unmapped: read.unmapped, skipped: read.skipped } } : {}),
        };
        if (opts.json) stdout(JSON.stringify(result, null, 2) + '\n');
        else {
          const alertLine = alerts ? alerts.join(', ') || 'none' : 'not read (pass --api-key or set ARCSIM_API_KEY to list them)';
          stdout(`replayed ${result.delivered} of ${r.events} events as ${hostName} (${reg.machineId})\ndetonation ${r.detonationId}, ${r.first} .. ${r.last}\nalerts: ${alertLine}\n`);
        }
        if (r.dropped > 0) {
          throw protocolError('ARCSIM_E_EVENTS_DROPPED', `${r.dropped} of ${r.events} events were dropped (spool capacity ${agent.spoolCapacity()} events) and not stored`);
        }
      } finally {
        await agent.stop();
      }
    });
  return cmd;
}

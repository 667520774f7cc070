import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { stringify } from 'yaml';
import { readYaml } from '../lib/yaml.ts';
import { z } from 'zod';
import { ArcsimError, fileError, issuePath } from '../protocol/errors.ts';
import { validateScenario } from './loader.ts';
import type { Scenario, ScenarioInput } from './schema.ts';

/**
 * The Atomic Red Team technique file format (atomics/Txxxx/Txxxx.yaml), strictly: a key ART
 * does not define is refused rather than silently dropped.
 */
const ArtInput = z.strictObject({
  description: z.string().optional(),
  type: z.string(),
  default: z.union([z.string(), z.number(), z.boolean()]).nullable().optional(),
});
const ArtDependency = z.strictObject({
  description: z.string().optional(),
  prereq_command: z.string(),
  get_prereq_command: z.string().optional(),
});
const ArtTest = z.strictObject({
  name: z.string().min(1),
  auto_generated_guid: z.uuid().optional(),
  description: z.string().optional(),
  supported_platforms: z.array(z.string()).min(1),
  input_arguments: z.record(z.string(), ArtInput).nullable().optional(),
  dependency_executor_name: z.string().optional(),
  dependencies: z.array(ArtDependency).nullable().optional(),
  executor: z.strictObject({
    name: z.string(),
    command: z.string().optional(),
    cleanup_command: z.string().nullable().optional(),
    elevation_required: z.boolean().optional(),
    steps: z.string().optional(),
  }),
});
export const AtomicFileSchema = z.strictObject({
  attack_technique: z.string(),
  display_name: z.string(),
  atomic_tests: z.array(ArtTest).min(1),
});
type ArtTest = z.infer<typeof ArtTest>;

export interface AtomicImport {
  /** Valid arcsim scenarios, one per importable test. */
  scenarios: Scenario[];
  /** Tests that could not become a scenario, with the reason. */
  skipped: Array<{ test: string; reason: string }>;
  /** Things the importer changed on the way (dropped unused arguments, renamed ones). */
  notes: string[];
}

type Os = 'windows' | 'linux';

/** How each ART executor would have started its command, described as a process event. */
const EXECUTORS: Record<string, { os: Os | 'either'; render(cmd: string, os: Os): { FileName: string; FolderPath: string; ProcessCommandLine: string } }> = {
  command_prompt: {
    os: 'windows',
    render: (cmd) => ({ FileName: 'cmd.exe', FolderPath: 'C:\\Windows\\System32\\cmd.exe', ProcessCommandLine: `"cmd.exe" /c ${lines(cmd).join(' & ')}` }),
  },
  powershell: {
    os: 'either',
    render: (cmd, os) => os === 'windows'
      ? { FileName: 'powershell.exe', FolderPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', ProcessCommandLine: `"powershell.exe" & {${lines(cmd).join('; ')}}` }
      : { FileName: 'pwsh', FolderPath: '/opt/microsoft/powershell/7/pwsh', ProcessCommandLine: `pwsh -Command "& {${lines(cmd).join('; ')}}"` },
  },
  sh: { os: 'linux', render: (cmd) => ({ FileName: 'sh', FolderPath: '/bin/sh', ProcessCommandLine: `sh -c ${shQuote(cmd.trim())}` }) },
  bash: { os: 'linux', render: (cmd) => ({ FileName: 'bash', FolderPath: '/bin/bash', ProcessCommandLine: `bash -c ${shQuote(cmd.trim())}` }) },
};

/** Where Invoke-AtomicTest keeps the atomics, per OS (ART's PathToAtomicsFolder). */
const ATOMICS_FOLDER: Record<Os, string> = { windows: 'C:\\AtomicRedTeam\\atomics', linux: '/opt/AtomicRedTeam/atomics' };
const CLOUD_PLATFORMS: Record<string, string> = { 'iaas:aws': 'aws', 'iaas:gcp': 'gcp', 'iaas:azure': 'azure' };

/**
 * ART's `PathToAtomicsFolder` (or `$PathToAtomicsFolder`) placeholder, where Invoke-AtomicTest keeps
 * the atomics. PowerShell's `-replace`, which Invoke-AtomicTest uses for it, ignores case.
 */
function atomicsPath(text: string, os: Os): string {
  return text.replace(/\$?PathToAtomicsFolder/gi, ATOMICS_FOLDER[os]);
}

/** POSIX single-quoting, as a shell would receive the script in `-c`. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function lines(cmd: string): string[] {
  return cmd.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

function slugify(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** A stable UUID for a test without auto_generated_guid (name-based, like a v5). */
function nameUuid(text: string): string {
  const h = createHash('sha1').update(`arcsim-atomic:${text}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** ART argument types -> arcsim input types. */
function inputType(t: string): 'string' | 'integer' | 'number' {
  const l = t.toLowerCase();
  return l === 'integer' ? 'integer' : l === 'float' || l === 'number' ? 'number' : 'string';
}

/**
 * Turns an Atomic Red Team technique file into arcsim scenarios whose events describe what
 * each test would have run — the executor's process with its command line, dependencies'
 * checks as warmup, `cleanup_command` as cleanup — without running any of it. Expected alerts
 * are left empty: ART files carry no detection criteria, so add them after importing.
 */
export function importAtomic(text: string, file = 'atomic.yaml'): AtomicImport {
  const doc = readYaml(text);
  if (doc.errors.length) throw fileError('ARCSIM_E_SCENARIO_YAML', file, '', doc.errors[0]!.message.split('\n')[0]!);
  const parsed = AtomicFileSchema.safeParse(doc.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      throw fileError('ARCSIM_E_SCENARIO_UNKNOWN_KEY', file, issuePath([...issue.path, issue.keys[0]!]), `${issue.keys.map((k) => `"${k}"`).join(', ')} is not part of the Atomic Red Team format`);
    }
    throw fileError('ARCSIM_E_SCENARIO_SCHEMA', file, issuePath(issue.path), issue.message);
  }
  const art = parsed.data;
  const out: AtomicImport = { scenarios: [], skipped: [], notes: [] };
  art.atomic_tests.forEach((t, i) => {
    const label = `${art.attack_technique} test ${i + 1} "${t.name}"`;
    try {
      const s = convertTest(art.attack_technique, art.display_name, t, i, out.notes, label);
      if (typeof s === 'string') out.skipped.push({ test: label, reason: s });
      else out.scenarios.push(validateScenario(s, `${basename(file)} atomic_tests.${i}`));
    } catch (err) {
      if (!(err instanceof ArcsimError)) throw err;
      out.skipped.push({ test: label, reason: `${err.code}: ${err.message}` });
    }
  });
  return out;
}

function convertTest(technique: string, displayName: string, t: ArtTest, index: number, notes: string[], label: string): ScenarioInput | string {
  const executor = EXECUTORS[t.executor.name];
  if (!executor) return `executor "${t.executor.name}" describes manual steps or an unknown runner; there is no command to describe`;
  if (!t.executor.command) return 'the executor has no command';
  const hostPlatforms = t.supported_platforms.flatMap((p): Os[] => (p === 'windows' || p === 'linux' ? [p] : []));
  const clouds = t.supported_platforms.flatMap((p) => (CLOUD_PLATFORMS[p] ? [CLOUD_PLATFORMS[p]!] : []));
  const os: Os | undefined = executor.os === 'either' ? (hostPlatforms.includes('windows') ? 'windows' : hostPlatforms[0]) : executor.os;
  if (!os || !hostPlatforms.includes(os)) {
    return `no arcsim platform for it: supported_platforms ${t.supported_platforms.join(', ')} with executor ${t.executor.name} (arcsim simulates Windows and Linux hosts)`;
  }

  // Input arguments: arcsim names are lower_snake; ART's #{name} templates are renamed to match.
  const rename = new Map<string, string>();
  const inputs: NonNullable<ScenarioInput['inputs']> = {};
  for (const [name, arg] of Object.entries(t.input_arguments ?? {})) {
    let n = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    if (!/^[a-z]/.test(n)) n = `arg_${n}`;
    if (n !== name) notes.push(`${label}: input "${name}" is "${n}" in arcsim`);
    rename.set(name, n);
    const type = inputType(arg.type);
    const raw = arg.default ?? '';
    // Invoke-AtomicTest replaces PathToAtomicsFolder after filling in the arguments, so defaults get it too.
    const value = type === 'string' ? atomicsPath(String(raw), os) : Number(raw);
    if (type !== 'string' && !Number.isFinite(value)) throw new Error(`${label}: default of ${name} is not a number`);
    inputs[n] = { description: arg.description?.trim() || `${arg.type} argument of the atomic test`, type, default: value };
  }
  const prepare = (cmd: string) => atomicsPath(cmd, os)
    .replace(/#\{([^}]+)\}/g, (m, name: string) => (rename.has(name) ? `#{${rename.get(name)}}` : m));

  const account = t.executor.elevation_required ? (os === 'windows' ? 'Administrator' : 'root') : 'atomic';
  const parent = os === 'windows'
    ? { InitiatingProcessFileName: 'powershell.exe', InitiatingProcessFolderPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', InitiatingProcessCommandLine: `powershell.exe -Command "Invoke-AtomicTest ${technique} -TestNumbers ${index + 1}"` }
    : { InitiatingProcessFileName: 'pwsh', InitiatingProcessFolderPath: '/opt/microsoft/powershell/7/pwsh', InitiatingProcessCommandLine: `pwsh -Command "Invoke-AtomicTest ${technique} -TestNumbers ${index + 1}"` };
  const processEvent = (runner: (typeof EXECUTORS)[string], cmd: string) => ({
    Table: 'DeviceProcessEvents', ActionType: 'ProcessCreated', ...runner.render(prepare(cmd), os),
    ...(os === 'windows' ? { AccountDomain: '.' } : {}), AccountName: account, ...parent,
  });

  const depRunner = EXECUTORS[t.dependency_executor_name ?? t.executor.name] ?? executor;
  const warmup = (t.dependencies ?? []).map((d, i) => ({
    // The description may name arguments too (`#{MimiPenguin_Location}`): renamed like the commands.
    name: `check prerequisite ${i + 1}: ${prepare((d.description ?? 'dependency').trim().split('\n')[0]!)}`,
    events: [processEvent(depRunner, d.prereq_command)],
  }));
  const detonate = [{ name: `run ${t.executor.name}`, after: warmup.length ? '1s' : '0s', events: [processEvent(executor, t.executor.command)] }];
  const cleanup = t.executor.cleanup_command?.trim()
    ? [{ name: 'cleanup_command', after: '2s', events: [processEvent(executor, t.executor.cleanup_command)] }]
    : [];

  // Arguments the commands never use would fail validation (ART tolerates them): drop them.
  const usedText = JSON.stringify([warmup, detonate, cleanup]);
  for (const n of Object.keys(inputs)) {
    if (!usedText.includes(`#{${n}}`)) {
      delete inputs[n];
      notes.push(`${label}: input "${n}" is not used by any command and was dropped`);
    }
  }
  const tech = technique.toUpperCase();
  return {
    id: t.auto_generated_guid ?? nameUuid(`${tech}/${t.name}`),
    slug: `atomic-${slugify(tech)}-${index + 1}-${slugify(t.name)}`.slice(0, 100).replace(/-+$/, ''),
    name: `${displayName}: ${t.name}`,
    description: `${(t.description ?? t.name).trim()}\n\nImported from Atomic Red Team ${tech} test ${index + 1}${t.auto_generated_guid ? ` (${t.auto_generated_guid})` : ''}, executor ${t.executor.name}. The events describe what the test would run; nothing is executed.`,
    techniques: [tech],
    // An ART test for a host OS runs on any host; iaas:* platforms narrow it to those clouds.
    platforms: (clouds.length ? [os, ...clouds] : [os, 'onprem', 'aws', 'gcp', 'azure']) as ScenarioInput['platforms'],
    inputs,
    expect: { alerts: [] },
    warmup,
    detonate,
    cleanup,
  };
}

/** Reads an ART file from disk. */
export function importAtomicFile(path: string): AtomicImport {
  return importAtomic(readFileSync(path, 'utf8'), basename(path));
}

const STEP_DEFAULTS: Record<string, unknown> = { after: '0s', repeat: 1, every: '0s', jitter: '0s' };

/** A scenario as YAML, without the values its defaults would give, ready to save under scenarios/library/. */
export function scenarioToYaml(s: Scenario): string {
  const steps = (list: Scenario['detonate']) => list.map((step) => Object.fromEntries(Object.entries(step).filter(([k, v]) => STEP_DEFAULTS[k] !== v)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if ((k === 'warmup' || k === 'cleanup' || k === 'tactics') && Array.isArray(v) && v.length === 0) continue;
    out[k] = k === 'warmup' || k === 'detonate' || k === 'cleanup' ? steps(v as Scenario['detonate']) : v;
  }
  return stringify(out, { lineWidth: 0 });
}

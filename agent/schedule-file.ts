import { existsSync, readFileSync } from 'node:fs';
import { readYaml } from '../lib/yaml.ts';
import { z } from 'zod';
import { issuePath } from '../protocol/errors.ts';
import { loadScenarioFile, type Scenario } from '../scenarios/index.ts';
import { shippedLibrary } from './scenario-library.ts';

// The schedule file and scenario references: apart from the runner (agent/scheduler.ts) so an agent
// without schedules never loads YAML, the scenario loader or the embedded library.

/** One cron entry of the agent's schedule file. */
const ScheduleEntrySchema = z.strictObject({
  name: z.string().min(1).max(128),
  /** node-schedule cron: `m h dom mon dow`, or with a leading seconds field. */
  cron: z.string().min(1),
  /** A library slug, or a path to a scenario file. */
  scenario: z.string().min(1),
  variant: z.enum(['attack', 'benign']).default('attack'),
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  seed: z.union([z.number().int(), z.string()]).optional(),
  /** Time-warp factor (0 = all at once). */
  speed: z.number().nonnegative().default(0),
  /** Let this run overlap another run on the host; otherwise a run due while another plays is skipped. */
  allowOverlap: z.boolean().default(false),
});
const ScheduleFileSchema = z.strictObject({ schedules: z.array(ScheduleEntrySchema) });
export type ScheduleEntry = z.infer<typeof ScheduleEntrySchema>;

/** Reads and checks a schedule file (YAML `schedules: [...]`); errors name the file and path. */
export function loadScheduleFile(file: string): ScheduleEntry[] {
  const doc = readYaml(readFileSync(file, 'utf8'));
  if (doc.errors.length) throw new Error(`${file}: not valid YAML: ${doc.errors[0]!.message}`);
  const parsed = ScheduleFileSchema.safeParse(doc.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file} at ${issuePath(issue.path) || '(root)'}: ${issue.message}`);
  }
  return parsed.data.schedules;
}

/** Finds a schedule's scenario: a library slug, or a file path. */
export function resolveScenarioRef(ref: string, library: () => Map<string, Scenario> = shippedLibrary): Scenario {
  const bySlug = library().get(ref);
  if (bySlug) return bySlug;
  if (existsSync(ref)) return loadScenarioFile(ref);
  throw new Error(`scenario "${ref}" is neither a library slug nor a scenario file`);
}

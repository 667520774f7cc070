import { z } from 'zod';

/** A duration written in the file: `500ms`, `3s`, `10m`, `24h`, `1h30m`. */
const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
/** A value that is exactly one `#{input}` template (resolved at play time). */
const WHOLE_TEMPLATE_RE = /^#\{[a-z][a-z0-9_]*\}$/;

/** A duration, or a `#{input}` naming a `duration` (or string) input. */
const Duration = z.string().refine((v) => DURATION_RE.test(v) || WHOLE_TEMPLATE_RE.test(v), 'a duration such as 500ms, 3s, 10m, 24h, or a #{input}');

/** ATT&CK Enterprise tactics, in the PascalCase MDC uses for `intent`. */
export const TACTICS = [
  'Reconnaissance', 'ResourceDevelopment', 'InitialAccess', 'Execution', 'Persistence', 'PrivilegeEscalation',
  'DefenseEvasion', 'CredentialAccess', 'Discovery', 'LateralMovement', 'Collection', 'CommandAndControl',
  'Exfiltration', 'Impact',
] as const;

export const PLATFORMS = ['windows', 'linux', 'onprem', 'aws', 'gcp', 'azure', 'sql', 'kubernetes'] as const;
export const INPUT_TYPES = ['string', 'integer', 'number', 'boolean', 'duration'] as const;
export const PHASES = ['warmup', 'detonate', 'cleanup'] as const;
export type Phase = (typeof PHASES)[number];

const InputArgument = z.strictObject({
  description: z.string().optional(),
  type: z.enum(INPUT_TYPES),
  default: z.union([z.string(), z.number(), z.boolean()]),
});

/** One step: after `after` (relative to the previous step's end), emit `events`, `repeat` times `every` apart. */
const Step = z.strictObject({
  name: z.string().min(1),
  after: Duration.default('0s'),
  repeat: z.union([z.number().int().min(1).max(100_000), z.string()]).default(1),
  every: Duration.default('0s'),
  /** Each repetition is shifted by a seeded random amount in [0, jitter). */
  jitter: Duration.default('0s'),
  events: z.array(z.record(z.string(), z.unknown())).min(1),
});

const ExpectedAlert = z.strictObject({
  alertType: z.string().min(1),
  /** Alerts of this type after dedup (normally 1). */
  count: z.number().int().min(0).default(1),
  /** The product whose sensor raises it (MDE-detected alerts are also shown in MDC). */
  product: z.enum(['MDE', 'MDC', 'DefenderForSQL', 'CSPM']),
});

/** `HH:MM` or `HH:MM:SS`, UTC. */
const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'a UTC time of day, HH:MM or HH:MM:SS');

/**
 * The three Stratus-style phases of one variant. `warmup` prepares (the attacker's foothold,
 * a dependency check), `detonate` is the attack, `cleanup` undoes — and always runs, even when
 * the detonation fails or is cancelled.
 */
const phases = {
  /**
   * Pins the variant's event time to the latest moment with this UTC time of day at or before
   * the requested start, for scenarios whose meaning depends on the hour (office hours).
   */
  startTimeOfDay: TimeOfDay.optional(),
  warmup: z.array(Step).default([]),
  detonate: z.array(Step).min(1),
  cleanup: z.array(Step).default([]),
};

const Variant = z.strictObject({
  description: z.string().min(1),
  ...phases,
});

export const ScenarioSchema = z.strictObject({
  id: z.uuid(),
  slug: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lower-case words joined by dashes').max(100),
  name: z.string().min(1),
  description: z.string().min(1),
  techniques: z.array(z.string()).min(1),
  tactics: z.array(z.string()).default([]),
  platforms: z.array(z.enum(PLATFORMS)).min(1),
  inputs: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and _'), InputArgument).default({}),
  expect: z.strictObject({ alerts: z.array(ExpectedAlert) }),
  ...phases,
  /** The benign twin: same shape, ordinary activity that must raise nothing. */
  benign: Variant.optional(),
});

/** A validated scenario. */
export type Scenario = z.infer<typeof ScenarioSchema>;
/** A scenario as written in a file (defaults may be left out). */
export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type ScenarioStep = z.infer<typeof Step>;
export type InputValue = string | number | boolean;
export type Variant = 'attack' | 'benign';

/** The phases of one variant of a scenario, with the path prefix errors use. */
export function variantPhases(s: Scenario, variant: Variant): { prefix: string; startTimeOfDay: string | undefined; phases: Record<Phase, ScenarioStep[]> } | undefined {
  const v = variant === 'benign' ? s.benign : s;
  if (!v) return undefined;
  return {
    prefix: variant === 'benign' ? 'benign.' : '',
    startTimeOfDay: v.startTimeOfDay,
    phases: { warmup: v.warmup, detonate: v.detonate, cleanup: v.cleanup },
  };
}

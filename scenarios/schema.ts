import { z } from 'zod';

/** A duration written in the file: `500ms`, `3s`, `10m`, `24h`. */
const Duration = z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h|d))+$/, 'a duration such as 500ms, 3s, 10m, 24h');

const InputArgument = z.strictObject({
  description: z.string().optional(),
  type: z.enum(['string', 'integer', 'number', 'boolean']),
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
  product: z.enum(['MDE', 'MDC', 'DefenderForSQL', 'CSPM']),
});

const Variant = z.strictObject({
  description: z.string().min(1),
  steps: z.array(Step).min(1),
});

export const ScenarioSchema = z.strictObject({
  id: z.uuid(),
  slug: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lower-case words joined by dashes'),
  name: z.string().min(1),
  description: z.string().min(1),
  techniques: z.array(z.string()).min(1),
  tactics: z.array(z.string()).default([]),
  platforms: z.array(z.enum(['windows', 'linux', 'onprem', 'aws', 'gcp', 'azure', 'sql'])).min(1),
  inputs: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), InputArgument).default({}),
  expect: z.strictObject({ alerts: z.array(ExpectedAlert) }),
  steps: z.array(Step).min(1),
  /** The benign twin: same shape, ordinary activity that must raise nothing. */
  benign: Variant.optional(),
});

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioStep = z.infer<typeof Step>;
export type InputValue = string | number | boolean;

import { z } from 'zod';
import { FaultsSchema } from '../protocol/index.ts';
import { PRODUCT_VIEWS, SYNC_PROFILES } from '../control-plane/products/sync-matrix.ts';

/** A duration written in the suite: `500ms`, `3s`, `10m`. */
const Duration = z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h))+$/, 'a duration such as 500ms, 3s, 10m');
const Id = z.string().regex(/^[a-z0-9]+([-_.][a-z0-9]+)*$/, 'lower-case words joined by - _ or .');

export const CLOUDS = ['onprem', 'aws', 'gcp', 'azure'] as const;
const Product = z.enum(PRODUCT_VIEWS);
const AlertStatus = z.enum(['Active', 'InProgress', 'Resolved', 'Dismissed']);

/** Which connected machines a name stands for; every given field must match. */
export const HostSelectorSchema = z.strictObject({
  description: z.string().optional(),
  /** `cloudMetadata.provider` of the machine (N/A = onprem). */
  cloud: z.union([z.enum(CLOUDS), z.array(z.enum(CLOUDS)).min(1)]).optional(),
  os: z.enum(['linux', 'windows']).optional(),
  /** Cloud tags the machine reports (AWS AccountId/InstanceId, GCP ProjectId/..., `Cloud`), exact values. */
  tags: z.record(z.string(), z.string()).optional(),
  /** true: at least one SQL instance discovered; false: none. */
  sql: z.boolean().optional(),
  /** A persona name, or false for machines registered with their real facts (no persona). */
  persona: z.union([z.string().min(1), z.literal(false)]).optional(),
  /** Hostname glob (`*` and `?`), case-insensitive. */
  hostname: z.string().min(1).optional(),
});
export type HostSelector = z.infer<typeof HostSelectorSchema>;

export const ExpectedAlertSchema = z.strictObject({
  alertType: z.string().min(1),
  /** Distinct alerts of this type after dedup. */
  count: z.number().int().min(0).default(1),
  /** Occurrences folded into them (the alerts' `count` summed); e.g. 2 after `rounds: 2`. */
  occurrences: z.number().int().min(1).optional(),
  /** Longest control-plane detection latency (event batch arrived -> alert committed). */
  maxLatency: Duration.optional(),
  /** Exactly the product views that must show the alert. */
  products: z.array(Product).min(1).optional(),
});

export const StatusChangeSchema = z.strictObject({
  alertType: z.string().min(1),
  action: z.enum(['dismiss', 'resolve', 'inProgress', 'activate']),
  /** The product view the change is made in. */
  in: Product,
  /** Status each named product view must show afterwards. */
  expect: z.partialRecord(Product, AlertStatus),
});

export const ExpectSchema = z.strictObject({
  alerts: z.array(ExpectedAlertSchema).default([]),
  /** Fail on alerts of types not listed (default true; a benign twin expects no alert at all). */
  noOtherAlerts: z.boolean().default(true),
  /** `one`: the run's alerts that reach M365D form exactly one incident; `none`: none is in an incident. */
  incident: z.enum(['one', 'none']).optional(),
  statusChanges: z.array(StatusChangeSchema).optional(),
  /** Inventory merge: the machine is `count` asset(s) with `sources` source records (CSPM + Arc). */
  asset: z.strictObject({ count: z.number().int().min(0).default(1), sources: z.number().int().min(1) }).optional(),
});

export const ScenarioRunSchema = z.strictObject({
  /** Row id in the matrix; unique in the suite. */
  id: Id,
  /** A library scenario slug, or a path to a scenario file (relative to the suite file) ending in .yaml/.yml. */
  scenario: z.string().min(1),
  variant: z.enum(['attack', 'benign']).default('attack'),
  /** Host selector names (keys of `hosts`). */
  hosts: z.array(z.string().min(1)).min(1),
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  seed: z.union([z.number().int(), z.string()]).optional(),
  /** Time-warp factor; 0 (default) plays instantly with the original spacing of event times. */
  speed: z.number().nonnegative().default(0),
  /** Plays per host; repeats fold into the same alerts (dedup). */
  rounds: z.number().int().min(1).max(20).default(1),
  faults: FaultsSchema.optional(),
  /**
   * The sync profile this row needs. The runner chooses it on the control plane (a contributor
   * key: PUT /api/sync/profile) for the row's plays and checks, and puts the previous one back after.
   */
  sync: z.strictObject({ profile: z.enum(SYNC_PROFILES) }).optional(),
  /** Default: the scenario's own expected alerts (attack) or no alert at all (benign). */
  expect: ExpectSchema.optional(),
});

export const IncidentCheckSchema = z.strictObject({
  id: Id,
  description: z.string().optional(),
  hosts: z.array(z.string().min(1)).min(1),
  /** Alerts, each named by the scenario run that raises it and its type. */
  alerts: z.array(z.strictObject({ run: Id, alertType: z.string().min(1) })).min(2),
  /** `same`: they form one incident; `separate`: each is in a different incident. */
  expect: z.enum(['same', 'separate']).default('same'),
});

export const SuiteSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  /** The sync profile the status expectations are written for; checked against the control plane (`blog-2022` = `mdc-classic`). */
  sync: z.strictObject({ profile: z.enum(SYNC_PROFILES) }).optional(),
  settings: z.strictObject({
    /** Longest wait for one scenario command. */
    commandTimeout: Duration.default('60s'),
    /** How long to keep polling for expected outcomes after the plays. */
    settle: Duration.default('5s'),
    pollInterval: Duration.default('100ms'),
  }).default({ commandTimeout: '60s', settle: '5s', pollInterval: '100ms' }),
  hosts: z.record(Id, HostSelectorSchema).refine((h) => Object.keys(h).length > 0, 'at least one host selector'),
  scenarios: z.array(ScenarioRunSchema).min(1),
  incidents: z.array(IncidentCheckSchema).default([]),
});
export type SuiteInput = z.input<typeof SuiteSchema>;
export type Expect = z.infer<typeof ExpectSchema>;
export type ExpectedAlert = z.infer<typeof ExpectedAlertSchema>;
export type IncidentCheck = z.infer<typeof IncidentCheckSchema>;

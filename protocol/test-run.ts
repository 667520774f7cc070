import { z } from 'zod';
import { FaultsSchema } from './faults.ts';

/**
 * The result of a multi-cloud test run (issue #7), as the runner produces it, the control plane
 * stores it (`POST /api/runs`) and bundles carry it. A cell is one expectation set: a suite row
 * (a scenario run, or an incident-grouping check) on one host.
 */
/** `not-applicable`: the scenario is not written for the host's OS (its `platforms`); it counts as no failure. */
export const CELL_STATUSES = ['pass', 'fail', 'not-run', 'not-checked', 'not-applicable'] as const;
export type CellStatus = (typeof CELL_STATUSES)[number];

/** Why a cell did not pass; the words the matrix prints. */
export const CELL_REASONS = [
  'telemetry missing', 'alert missing', 'extra alert', 'wrong count after dedup', 'wrong incident grouping', 'sync wrong',
  'too slow', 'asset merge wrong', 'command failed', 'not run', 'not checked: inventory API missing', 'not applicable',
] as const;
export type CellReason = (typeof CELL_REASONS)[number];

const Reason = z.enum(CELL_REASONS);
const Status = z.enum(CELL_STATUSES);

export const CheckSchema = z.strictObject({
  /** What was checked, e.g. `alert VM_SshBruteForceFailed`, `telemetry`, `sync dismiss in M365D`. */
  name: z.string(),
  status: Status,
  reason: Reason.optional(),
  detail: z.string(),
});
export type Check = z.infer<typeof CheckSchema>;

export const RunAlertSchema = z.strictObject({
  systemAlertId: z.string(),
  alertType: z.string(),
  displayName: z.string(),
  count: z.number().int(),
  /** Control-plane latency: the batch carrying the triggering event arrived -> alert committed, ms. */
  latencyMs: z.number().nullable(),
  /** Status per product view that shows the alert (MDE, M365D, MDC, Sentinel). */
  products: z.record(z.string(), z.string()),
  incidentId: z.string().nullable(),
  techniques: z.array(z.string()),
  detonationIds: z.array(z.string()),
});
export type RunAlert = z.infer<typeof RunAlertSchema>;

export const CellSchema = z.strictObject({
  cellId: z.string(),
  rowId: z.string(),
  kind: z.enum(['scenario', 'incident']),
  /** Scenario slug (scenario rows). */
  scenario: z.string().optional(),
  variant: z.enum(['attack', 'benign']).optional(),
  /** The matrix column: a host (`name (cloud)`) or, when no host matched, the selector's name. */
  host: z.string(),
  agentId: z.string().nullable(),
  cloud: z.string().nullable(),
  status: Status,
  reasons: z.array(Reason),
  checks: z.array(CheckSchema),
  detonationIds: z.array(z.string()),
  events: z.strictObject({
    played: z.number().int(),
    stored: z.number().int(),
    /** Events the scenario produced that no installed sensor collects (no MDE / SQL extension), per table. */
    notCollected: z.record(z.string(), z.number().int().nonnegative()).optional(),
  }),
  alerts: z.array(RunAlertSchema),
  durationMs: z.number(),
  faults: FaultsSchema.optional(),
  techniques: z.array(z.string()),
});
export type Cell = z.infer<typeof CellSchema>;

export const RunHostSchema = z.strictObject({
  column: z.string(),
  agentId: z.string().nullable(),
  name: z.string(),
  cloud: z.string().nullable(),
  os: z.string().nullable(),
  persona: z.string().nullable(),
  connected: z.boolean(),
  /** Host selectors of the suite this host matched. */
  selectors: z.array(z.string()),
});
export type RunHost = z.infer<typeof RunHostSchema>;

export const RunResultSchema = z.strictObject({
  runId: z.string().min(1).max(128),
  suite: z.strictObject({ name: z.string(), description: z.string().optional(), file: z.string().optional() }),
  controlPlane: z.string(),
  syncProfile: z.string().nullable(),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }),
  durationMs: z.number(),
  ok: z.boolean(),
  summary: z.strictObject({
    cells: z.number().int(), pass: z.number().int(), fail: z.number().int(), notRun: z.number().int(), notChecked: z.number().int(),
    /** Cells whose scenario is not for the host's OS (absent in runs stored before it existed). */
    notApplicable: z.number().int().optional(),
  }),
  hosts: z.array(RunHostSchema),
  rows: z.array(z.strictObject({
    rowId: z.string(), kind: z.enum(['scenario', 'incident']), scenario: z.string().optional(), variant: z.enum(['attack', 'benign']).optional(),
    /** The sync profile the row ran under, when the row asked for its own (`sync:` on the row). */
    syncProfile: z.string().optional(),
  })),
  cells: z.array(CellSchema),
  /** ATT&CK techniques the attack runs exercised, and those an alert of the run detected. */
  coverage: z.strictObject({ exercised: z.array(z.string()), detected: z.array(z.string()) }),
});
export type RunResult = z.infer<typeof RunResultSchema>;

/** What `POST /api/runs` takes: the result plus the suite as run (scenario documents resolved). */
export const StoreRunBodySchema = z.strictObject({
  result: RunResultSchema,
  suite: z.record(z.string(), z.unknown()),
});

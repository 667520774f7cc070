import { z } from 'zod';

/** The portal's paging and list limits, in one place (units beside each number). */
export const PORTAL_LIMITS = {
  /** Rows per page of a list (alerts, inventory, runs). */
  pageSize: 50,
  /** Events per page of a device timeline. */
  timelinePageSize: 100,
  /** Highest page number a list accepts (offset paging stays cheap below it: 50 × 200 = 10,000 rows). */
  maxPage: 200,
  /** Incidents on the overview. */
  recentIncidents: 10,
  /** The overview chart: days back, one bucket per day. */
  chartDays: 14,
  chartBucketMs: 86_400_000,
} as const;

/** `page` from a query string: a positive integer up to maxPage, 1 when absent or bad. */
export const PageParam = z.coerce.number().int().min(1).max(PORTAL_LIMITS.maxPage).catch(1).default(1);
export const DirParam = z.enum(['asc', 'desc']).catch('desc').default('desc');
/** An optional text filter: trimmed, at most 200 characters, empty when bad. */
export const TextParam = z.string().max(200).transform((s) => s.trim()).optional().catch(undefined);
/** An optional choice among `values`; anything else is "no filter". */
export const ChoiceParam = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values).optional().catch(undefined);

export const offsetOf = (page: number, pageSize: number) => (page - 1) * pageSize;

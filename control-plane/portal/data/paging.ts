import { z } from 'zod';
import { PORTAL_LIMITS } from '../limits.ts';

/** The portal's limits (paging among them) are one object, in ../limits.ts; pages import it from here with the params. */
export { PORTAL_LIMITS };

/** `page` from a query string: a positive integer up to maxPage, 1 when absent or bad. */
export const PageParam = z.coerce.number().int().min(1).max(PORTAL_LIMITS.maxPage).catch(1).default(1);
export const DirParam = z.enum(['asc', 'desc']).catch('desc').default('desc');
/** An optional text filter: trimmed, at most 200 characters, empty when bad. */
export const TextParam = z.string().max(200).transform((s) => s.trim()).optional().catch(undefined);
/** An optional choice among `values`; anything else is "no filter". */
export const ChoiceParam = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values).optional().catch(undefined);

export const offsetOf = (page: number, pageSize: number) => (page - 1) * pageSize;

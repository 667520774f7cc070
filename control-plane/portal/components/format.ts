/** ISO-8601 UTC without milliseconds (what the portals show), or '' for no time. */
export const isoTime = (ms: number | null | undefined): string => (ms === null || ms === undefined || !Number.isFinite(ms) ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** A `datetime-local` input's value (UTC) for `ms`, and back. */
export const toLocalInput = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 19));
export function fromLocalInput(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  return Number.isFinite(t) ? t : undefined;
}

/** `1234 ms`, `12.3 s`. */
export const duration = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '' : ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

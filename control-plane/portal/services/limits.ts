/** The portal's own limits and defaults, with their units (docs/portal.md). */
export const PORTAL_LIMITS = {
  /** How often a live feed (server-sent events) reads new changes, ms. */
  livePollMs: 1000,
  /** A comment line keeps idle live connections open through proxies, every ms. */
  liveKeepAliveMs: 15_000,
  /** Live feeds open at once in this process; more get 503 ARCSIM_E_BUSY. */
  maxLiveStreams: 200,
  /** Changes of each kind one poll reads at most. */
  liveBatch: 200,
  /** Completion items returned at most. */
  maxCompletions: 100,
  /** A hunting query's text, characters at most (the API's own cap). */
  maxQueryChars: 100_000,
  /** Saved queries per key name. */
  maxSavedQueries: 200,
  /** A saved query's name, characters. */
  maxSavedQueryName: 100,
  /** Rows of a page of alerts or incidents at most. */
  maxPageRows: 200,
} as const;

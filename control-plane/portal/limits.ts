/** The portal's own limits and defaults, with their units (docs/portal.md): one object for pages, paging and services. */
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

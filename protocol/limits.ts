/** Wire limits, one object, a unit beside each number. Both sides read these defaults. */
export const LIMITS = {
  /** Largest accepted WebSocket frame, bytes (ws defaults to 100 MiB; far too generous). */
  maxFrameBytes: 1024 * 1024,
  /** Most events in one `events` batch. */
  maxEventsPerBatch: 1000,
  /**
   * Sustained events per second accepted from one agent. Ten times what a Wazuh agent sends by
   * default (client_buffer events_per_second: 500), so a scenario's burst is not throttled.
   */
  maxEventsPerSecond: 5000,
  /** Burst allowance on top of the rate, events. */
  eventsBurst: 10_000,
  /** Time allowed between the upgrade and the `register` frame, ms. */
  handshakeTimeoutMs: 10_000,
  /** Interval between server pings; a missing pong by the next ping ends the socket, ms. */
  pingIntervalMs: 30_000,
  /** Heartbeat interval asked of agents, seconds (real Arc: 300; labs want seconds). */
  heartbeatIntervalSec: 30,
  /** Least delay advised to an agent whose batch the store could not commit, before it resends, ms. */
  storeRetryAfterMs: 1000,
  /** Least delay advised to an agent whose batch was over its events-per-second budget, ms. */
  rateLimitRetryAfterMs: 1000,
  /**
   * Registrations (claim, store, inventory merge) handled at once; the rest wait, count. Those in
   * flight are stored together (one transaction, up to maxRegistrationsPerCommit) and merged together.
   */
  maxRegistrationsInFlight: 16,
  /** Most registrations stored in one transaction (and merged in one more), count. */
  maxRegistrationsPerCommit: 16,
  /**
   * Registrations (and upgraded sockets not yet registered) allowed to wait beyond those in flight,
   * count; past it an agent is refused with ARCSIM_E_BUSY and a server-advised retry delay.
   */
  maxRegistrationsWaiting: 256,
  /** Agent upgrades (key lookup + WebSocket handshake) handled per turn of the event loop, count; the rest wait for the next turn. */
  maxUpgradesPerTurn: 16,
  /**
   * Connections the kernel may hold for the control plane before it accepts them (listen backlog),
   * count; Linux caps it at net.core.somaxconn (4096 by default since 5.4). Node's own default,
   * 511, overflowed when 10,000 agents connected at once: the kernel dropped their handshakes,
   * and agents waited out their connect retries (issue 16).
   */
  listenBacklog: 4096,
  /**
   * Longest delay advised to a refused (ARCSIM_E_BUSY) agent before the server has measured how fast
   * places free up (the first refusals of a burst), ms: the advice is a random point between
   * busyRetryMinMs and this, so those agents come back once the rate is known and get their turns.
   */
  busyRetryAfterMs: 2000,
  /**
   * Least delay advised to a refused agent from the virtual queue, ms. Once the rate at which
   * upgraded sockets register (or leave) is measured, each refused agent is given its own turn,
   * one measured interval after the previous refused agent's (control-plane/gateway/admission.ts).
   */
  busyRetryMinMs: 250,
  /** That rate is the mean of the latest this many intervals between registrations (while others wait), count. */
  admissionRateSamples: 64,
  /**
   * Longest a heartbeat waits in memory before it is written with the others that came meanwhile,
   * in one transaction, ms (an agent's next frame writes it sooner). 10,000 agents at 5 s are 2,000
   * heartbeats a second: one commit each kept the control plane busy (issue 16).
   */
  heartbeatFlushMs: 1000,
  /**
   * Most agents' batches the gateway commits in one transaction, count: batches waiting when the
   * store is free are taken one per agent in turn, round after round while every agent of the
   * last round still had one (a round that empties an agent's queue ends the group), and
   * committed together, each acked after the commit.
   */
  maxBatchesPerCommit: 32,
  /** Most events in one such commit, count (a single batch may be larger, up to maxEventsPerBatch, and goes alone). */
  maxEventsPerCommit: 2000,
  /**
   * Least time between the starts of two such commits, ms: batches that come sooner wait for the
   * next one and share it (10,000 agents send 1,000 small batches a second; one commit each was
   * the largest steady cost, issue 16). 0 commits every batch as soon as the loop is free.
   */
  commitIntervalMs: 5,
  /**
   * Worker threads that decode, validate and match agents' event batches against the rules' selections,
   * count; the main thread keeps the store writes, correlation, alerts and acks. 0 (the default)
   * does all of it on the main thread; 1 adds 3-8 points of ingest throughput on 2 cores but raises the
   * detection latency p99 at 10,000 events/s past 50 ms (docs/performance.md, "Change 3").
   */
  ingestWorkers: 0,
  /** Largest REST request body, bytes (1 MiB), except the routes below. */
  maxBodyBytes: 1024 * 1024,
  /** Largest body of a snapshot import or a stored run result (`POST /api/runs`), bytes (64 MiB). */
  maxImportBodyBytes: 64 * 1024 * 1024,
} as const;

export type Limits = { -readonly [K in keyof typeof LIMITS]: number };

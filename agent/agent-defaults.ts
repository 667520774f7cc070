/**
 * Agent defaults, one object, a unit beside each number. Anchors: Wazuh's client buffer
 * (5000 events, 500 events/s, flood warning at 90 %), the real Arc agent's 5-minute heartbeat
 * (the control plane decides the interval; labs use seconds). Apart from agent/agent-config.ts so
 * the running agent does not load the config file's YAML parser and schema.
 */
export const AGENT_DEFAULTS = {
  /** Most events kept in the on-disk spool; when full the oldest are dropped, events. */
  spoolMaxEvents: 5000,
  /** Spool fill level that raises a flood warning, fraction of spoolMaxEvents. */
  spoolWarnRatio: 0.9,
  /** Sustained send rate to the control plane, events per second. */
  eventsPerSecond: 500,
  /** Events that may be sent at once on top of the rate (token bucket size), events. */
  eventsBurst: 1000,
  /** Batches sent and not yet acked. */
  maxInflightBatches: 8,
  /** Reconnect backoff bounds (full jitter), ms. */
  backoffMinMs: 500,
  backoffMaxMs: 30_000,
  /**
   * Resend delays of a batch the control plane could not commit (ARCSIM_E_STORE_WRITE, a full disk
   * or a locked database): exponential with full jitter between these bounds, and never sooner
   * than the delay the control plane advised, ms.
   */
  batchRetryMinMs: 500,
  batchRetryMaxMs: 30_000,
  /** Client-side ping interval; a missing pong (or any frame) by the next ping means the server is dead, ms. */
  pingIntervalMs: 30_000,
  /** One instance-metadata request, ms (IMDS answers in a few ms when it is there at all). */
  metadataTimeoutMs: 1000,
  /** Real metadata endpoints; overridable so tests serve fakes on loopback. */
  awsImdsUrl: 'http://169.254.169.254',
  gcpMetadataUrl: 'http://metadata.google.internal',
  /** How often the installed software is looked at again (sent only when it changed), ms. */
  softwareInventoryIntervalMs: 3_600_000,
  /** Software rows spooled at once; the next slice waits for the acks of the last, rows. */
  softwareSliceRows: 100,
  /**
   * Pause between two software slices, ms. Keeps the service's allocation rate low while it sends
   * a snapshot (a few hundred KB per slice), so V8 gives the young generation's second half back
   * at the next GC instead of keeping it committed for the idle hours after (about 1 MB of RSS;
   * docs/performance.md, "Agent footprint: seventh pass").
   */
  softwareSlicePauseMs: 1000,
  /** Where DMI/SMBIOS facts are read from (`<root>/sys/class/dmi/id/...`); tests point it at a fake tree. */
  sysRoot: '/',
} as const;

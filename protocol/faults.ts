import { z } from 'zod';

/** A duration on the wire: `250ms`, `2s`. */
const Duration = z.string().regex(/^(\d+(\.\d+)?(ms|s|m))+$/, 'a duration such as 250ms or 2s');

/**
 * Delivery faults an agent injects into one scenario playback (issue #7 test runs), so a suite
 * can prove that nothing is lost and no count changes when the network misbehaves. The control
 * plane's guarantees (ack after commit, dedup by ReportId, event-time windows) must absorb all of
 * them; none changes what the scenario describes.
 */
export const FaultsSchema = z.strictObject({
  /** Close the connection abruptly right after sending the Nth batch (1-based), once, before its ack. */
  dropConnection: z.strictObject({ afterBatches: z.number().int().min(1).max(10_000).default(1) }).optional(),
  /** Send every batch twice (same seq, same events): the redelivery must store nothing. */
  duplicateBatches: z.boolean().optional(),
  /**
   * Shuffle the events (seeded), each moving by at most `window` of event time. Keep the window
   * inside the control plane's lateness (default 5m) or late events are, correctly, dropped from windows.
   */
  reorder: z.strictObject({ window: Duration.default('30s') }).optional(),
  /** Hold every batch this long before sending it. */
  delay: Duration.optional(),
  /** Events per batch (default: as many as the limits allow), so a mid-run drop has batches after it. */
  batchSize: z.number().int().min(1).max(1000).optional(),
});
export type Faults = z.infer<typeof FaultsSchema>;

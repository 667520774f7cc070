/** IPC between bench/connections.ts and its agent child processes (bench/connections-fleet.ts). */
export interface ConnAgentPlan {
  agentId: string;
  agentKey: string;
  hostname: string;
}

export type ToConnFleet =
  | {
    type: 'plan'; wsUrl: string; agents: ConnAgentPlan[];
    /** Heartbeat interval, ms (each agent starts at a random phase within it). */
    heartbeatMs: number;
    /** Interval between an agent's `events` batches, ms (random phase too). */
    batchMs: number;
    /** Events per batch. */
    batchEvents: number;
    /** A valid event (DeviceProcessEvents) each batch copies, with its own ids and time. */
    template: Record<string, unknown>;
    /** Agents not registered by then count as failed, ms after `go`. */
    deadlineMs: number;
  }
  /** Everyone starts connecting now. */
  | { type: 'go' }
  /** Stop sending; report once every batch sent is acked (or refused). */
  | { type: 'stop' };

export interface ConnFleetConnected {
  /** Agents of this process that got `registered`. */
  registered: number;
  /** From `go` to this process's last `registered`, ms. */
  allRegisteredMs: number;
  /** From `go` to each agent's `registered`, ms. */
  latenciesMs: number[];
  /** ARCSIM_E_BUSY refusals seen (HTTP 503 upgrades + error frames), and attempts after the first. */
  busy: number;
  retries: number;
  /** Why attempts ended without registering, by cause (fleet-connect.ts ConnectCounters.causes). */
  causes: Record<string, number>;
  /** Events and heartbeats sent so far (by agents already registered), to tell the steady phase's own. */
  eventsSent: number;
  heartbeatsSent: number;
}

export interface ConnFleetDone {
  batchesSent: number;
  eventsSent: number;
  batchesAcked: number;
  /** Sum of `stored` over all acks. */
  storedAcked: number;
  heartbeatsSent: number;
  /** Error frames, early closes, unacked batches: one line each (first 20), and how many in all. */
  errors: string[];
  errorCount: number;
  /** CPU time of this fleet process from `go` to `done`, ms. */
  cpuMs: number;
}

export type FromConnFleet =
  | { type: 'ready' }
  | { type: 'connected'; result: ConnFleetConnected }
  | { type: 'done'; result: ConnFleetDone }
  | { type: 'failed'; message: string };

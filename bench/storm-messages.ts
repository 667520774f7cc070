/** IPC between bench/storm.ts and its agent child process (bench/storm-fleet.ts). */
export interface StormAgentPlan {
  agentId: string;
  agentKey: string;
  hostname: string;
  /** Which stormFacts() the agent registers with. */
  index: number;
}

export type ToStormFleet = { type: 'plan'; wsUrl: string; agents: StormAgentPlan[]; deadlineMs: number };

export interface StormFleetResult {
  /** Agents that got `registered`. */
  registered: number;
  /** From the common start to the last `registered`, ms. */
  allRegisteredMs: number;
  /** Per registered agent: from its first connection attempt to its `registered`, ms. */
  latenciesMs: number[];
  /** Refusals with ARCSIM_E_BUSY seen by the agents (HTTP 503 upgrades + error frames). */
  busy: number;
  /** Connection attempts after the first, all agents together. */
  retries: number;
  /** Anything else that went wrong, one line each (first 20). */
  errors: string[];
}

export type FromStormFleet = { type: 'done'; result: StormFleetResult } | { type: 'failed'; message: string };

/**
 * The host facts agent `i` of the storm registers with (and was stored with before the storm),
 * so a reconnect is the same host coming back. Distinct hostname, SMBIOS UUID, MAC and IP each.
 */
export function stormFacts(i: number): Record<string, unknown> {
  const n = String(i).padStart(5, '0');
  const hex = i.toString(16).padStart(8, '0');
  return {
    hostname: `storm-${n}`,
    osType: 'linux',
    osName: 'linux',
    vmUuid: `${hex}-0000-4000-8000-000000000000`,
    agentVersion: 'bench',
    detectedProperties: {},
    cloudMetadata: { provider: 'N/A' },
    networkInterfaces: [{ name: 'eth0', macAddress: `02:00:${hex.match(/../g)!.join(':')}`, ipAddresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] }],
  };
}

import { hostname as osHostname, networkInterfaces as osNetworkInterfaces } from 'node:os';
import type { Systeminformation } from 'systeminformation';
import type { MachineFacts, NetworkInterfaceSchema } from '../protocol/index.ts';
import type { z } from 'zod';
import { VERSION } from '../lib/version.ts';
import { meaningful, readDmi, type DmiFacts } from './dmi.ts';
import { localCloudEvidence, type LocalEvidence } from './cloud-detector.ts';

/** Runs one probe; a fact that cannot be read is absent, never a crash. */
export async function probe<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

/**
 * OS, CPU, memory and SMBIOS facts change only with a reboot, and systeminformation reads them
 * by running several commands (about a second here): read once per process, on first use.
 */
let staticFacts: Promise<[Systeminformation.OsData | undefined, Systeminformation.CpuData | undefined, Systeminformation.MemData | undefined]> | undefined;
let systemFacts: Promise<Systeminformation.SystemData | undefined> | undefined;

/**
 * systeminformation, loaded on the first inventory (not at module load): the agent service takes
 * its inventory in a child process and must never load it (docs/performance.md).
 */
export async function loadSysteminformation(): Promise<typeof import('systeminformation')> {
  const m = await import('systeminformation');
  return (m as { default?: typeof import('systeminformation') }).default ?? m;
}

/** Network interfaces from Node itself: no child processes (systeminformation's take ~1.5 s). */
function readInterfaces(): Array<z.infer<typeof NetworkInterfaceSchema>> {
  const out: Array<z.infer<typeof NetworkInterfaceSchema>> = [];
  for (const [name, addrs] of Object.entries(osNetworkInterfaces())) {
    const external = (addrs ?? []).filter((a) => !a.internal);
    if (external.length === 0) continue;
    const mac = meaningful(external[0]!.mac.replace(/^00(:00){5}$/, ''));
    out.push({ name, ...(mac ? { macAddress: mac } : {}), ipAddresses: external.map((a) => a.address) });
  }
  return out;
}

export interface HostFactsOptions {
  /** Root of the DMI tree (`<root>/sys/class/dmi/id`); `/` reads the real one. */
  sysRoot?: string;
}

export interface HostFacts {
  machine: MachineFacts;
  dmi: DmiFacts;
  local: LocalEvidence;
}

/**
 * Collects the real host's facts, shaped like the Arc machine properties: hostname, FQDN,
 * OS, SMBIOS UUID, cores, memory, network interfaces, and the cloud local evidence points to
 * (no network request here). Only reads; never changes the host. With a `sysRoot` other than
 * `/`, hardware identity comes only from that tree (so tests are hermetic on any machine).
 */
export async function collectHostFacts(options: HostFactsOptions = {}): Promise<HostFacts> {
  const sysRoot = options.sysRoot ?? '/';
  const realRoot = sysRoot === '/';
  const si = await loadSysteminformation();
  staticFacts ??= Promise.all([probe(() => si.osInfo()), probe(() => si.cpu()), probe(() => si.mem())]);
  if (realRoot) systemFacts ??= probe(() => si.system());
  const [[os, cpu, mem], system] = await Promise.all([staticFacts, realRoot ? systemFacts : undefined]);
  const dmi = readDmi(sysRoot);
  const hostname = meaningful(osHostname()) ?? meaningful(os?.hostname) ?? 'localhost';
  const fqdn = meaningful(os?.fqdn);
  const vmUuid = (dmi.productUuid ?? meaningful(system?.uuid))?.toUpperCase();
  const manufacturer = dmi.sysVendor ?? meaningful(system?.manufacturer);
  const model = dmi.productName ?? meaningful(system?.model);
  const osType = os?.platform === 'win32' || os?.platform === 'Windows' ? 'windows' : os?.platform === 'darwin' ? 'darwin' : 'linux';
  const detected: Record<string, string> = {};
  if (manufacturer) detected.manufacturer = manufacturer;
  if (model) detected.model = model;
  if (cpu?.physicalCores) detected.coreCount = String(cpu.physicalCores);
  if (cpu?.cores) detected.logicalCoreCount = String(cpu.cores);
  if (cpu?.processors) detected.processorCount = String(cpu.processors);
  if (mem?.total) detected.totalPhysicalMemoryInGigabytes = String(Math.max(1, Math.round(mem.total / 1024 ** 3)));
  const local = localCloudEvidence(dmi, { manufacturer, model, vmUuid });
  detected.cloudprovider = local.provider;
  detected.mssqldiscovered = 'false';

  const interfaces = readInterfaces();

  const machine: MachineFacts = {
    hostname,
    machineFqdn: fqdn ?? hostname,
    // Arc reports osName as the family (`linux` / `windows`), the distribution in osSku, the kernel/build in osVersion.
    osName: osType,
    osType,
    agentVersion: VERSION,
    detectedProperties: detected,
    cloudMetadata: { provider: local.provider },
    networkInterfaces: interfaces,
  };
  if (fqdn && fqdn.includes('.')) machine.domainName = fqdn.slice(fqdn.indexOf('.') + 1);
  const osVersion = meaningful(osType === 'linux' ? os?.kernel : os?.release);
  if (osVersion) machine.osVersion = osVersion;
  const osSku = osType === 'windows' ? meaningful(os?.distro) : meaningful([os?.distro, os?.release].filter(Boolean).join(' '));
  if (osSku) machine.osSku = osSku;
  if (vmUuid) machine.vmUuid = vmUuid;
  return { machine, dmi, local };
}

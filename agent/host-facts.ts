import { hostname as osHostname } from 'node:os';
import si from 'systeminformation';
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
  const [os, system, cpu, mem, nics] = await Promise.all([
    probe(() => si.osInfo()),
    realRoot ? probe(() => si.system()) : Promise.resolve(undefined),
    probe(() => si.cpu()),
    probe(() => si.mem()),
    probe(() => si.networkInterfaces()),
  ]);
  const dmi = readDmi(sysRoot);
  const hostname = meaningful(os?.hostname) ?? osHostname();
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

  const interfaces: Array<z.infer<typeof NetworkInterfaceSchema>> = (Array.isArray(nics) ? nics : nics ? [nics] : [])
    .filter((n) => !n.internal && (n.ip4 || n.ip6))
    .map((n) => {
      const mac = meaningful(n.mac);
      return { name: n.iface, ...(mac ? { macAddress: mac } : {}), ipAddresses: [n.ip4, n.ip6].filter((ip): ip is string => !!ip) };
    });

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

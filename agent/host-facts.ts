import si from 'systeminformation';
import type { MachineFacts, NetworkInterfaceSchema } from '../protocol/index.ts';
import type { z } from 'zod';
import { VERSION } from '../lib/version.ts';

/** Runs one systeminformation probe; a fact that cannot be read is absent, never a crash. */
async function probe<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

const nonEmpty = (s: string | undefined | null): string | undefined => {
  const t = (s ?? '').trim();
  return t && !/^(default string|to be filled by o\.e\.m\.|none|not specified|-)$/i.test(t) ? t : undefined;
};

/** Local (DMI) evidence of the cloud a host runs in: AWS, GCP, Azure, or N/A (on-prem). */
export function cloudFromDmi(manufacturer?: string, model?: string, vmUuid?: string): string {
  const m = `${manufacturer ?? ''} ${model ?? ''}`.toLowerCase();
  if (m.includes('amazon') || /^ec2/i.test(vmUuid ?? '')) return 'AWS';
  if (m.includes('google')) return 'GCP';
  if (m.includes('microsoft corporation') && m.includes('virtual machine')) return 'Azure';
  return 'N/A';
}

/**
 * Collects the real host's facts, shaped like the Arc machine properties: hostname, FQDN,
 * OS, SMBIOS UUID, cores, memory, network interfaces. Only reads; never changes the host.
 */
export async function collectHostFacts(): Promise<MachineFacts> {
  const [os, system, cpu, mem, nics] = await Promise.all([
    probe(() => si.osInfo()),
    probe(() => si.system()),
    probe(() => si.cpu()),
    probe(() => si.mem()),
    probe(() => si.networkInterfaces()),
  ]);
  const hostname = nonEmpty(os?.hostname) ?? (await import('node:os')).hostname();
  const fqdn = nonEmpty(os?.fqdn);
  const vmUuid = nonEmpty(system?.uuid)?.toUpperCase();
  const manufacturer = nonEmpty(system?.manufacturer);
  const model = nonEmpty(system?.model);
  const osType = os?.platform === 'win32' || os?.platform === 'Windows' ? 'windows' : os?.platform === 'darwin' ? 'darwin' : 'linux';
  const detected: Record<string, string> = {};
  if (manufacturer) detected.manufacturer = manufacturer;
  if (model) detected.model = model;
  if (cpu?.physicalCores) detected.coreCount = String(cpu.physicalCores);
  if (cpu?.cores) detected.logicalCoreCount = String(cpu.cores);
  if (cpu?.processors) detected.processorCount = String(cpu.processors);
  if (mem?.total) detected.totalPhysicalMemoryInGigabytes = String(Math.max(1, Math.round(mem.total / 1024 ** 3)));
  const provider = cloudFromDmi(manufacturer, model, vmUuid);
  detected.cloudprovider = provider;
  detected.mssqldiscovered = 'false';

  const interfaces: Array<z.infer<typeof NetworkInterfaceSchema>> = (Array.isArray(nics) ? nics : nics ? [nics] : [])
    .filter((n) => !n.internal && (n.ip4 || n.ip6))
    .map((n) => ({ name: n.iface, macAddress: nonEmpty(n.mac), ipAddresses: [n.ip4, n.ip6].filter((ip): ip is string => !!ip) }));

  return {
    hostname,
    machineFqdn: fqdn ?? hostname,
    domainName: fqdn && fqdn.includes('.') ? fqdn.slice(fqdn.indexOf('.') + 1) : undefined,
    // Arc reports osName as the family (`linux` / `windows`), the distribution in osSku, the kernel/build in osVersion.
    osName: osType,
    osType,
    osVersion: nonEmpty(osType === 'linux' ? os?.kernel : os?.release) ?? undefined,
    osSku: osType === 'windows' ? nonEmpty(os?.distro) : nonEmpty([os?.distro, os?.release].filter(Boolean).join(' ')),
    vmUuid,
    agentVersion: VERSION,
    detectedProperties: detected,
    cloudMetadata: { provider },
    networkInterfaces: interfaces,
  };
}

import { machineOsFamily, type MachineFacts } from '../protocol/index.ts';
import type { Scenario } from './schema.ts';

/** The entries of `platforms` that name an operating system; the others (onprem, aws, gcp, azure, sql) say where, not which OS. */
const OS_PLATFORMS = ['windows', 'linux'] as const;

/**
 * Why the scenario must not be played on a host with these OS facts, or undefined when it may:
 * a scenario that lists operating systems in `platforms` plays only on one of them (never a
 * Windows scenario, with its `C:\` paths and Windows alert types, on a Linux host). A scenario
 * listing no OS plays anywhere.
 */
export function wrongOsReason(s: Pick<Scenario, 'slug' | 'platforms'>, facts: Pick<MachineFacts, 'osName' | 'osType' | 'osSku' | 'osEdition' | 'osVersion'>): string | undefined {
  const oses = s.platforms.filter((p): p is (typeof OS_PLATFORMS)[number] => (OS_PLATFORMS as readonly string[]).includes(p));
  if (oses.length === 0) return undefined;
  const family = machineOsFamily(facts);
  if ((oses as string[]).includes(family)) return undefined;
  const os = facts.osSku ?? facts.osName ?? facts.osType ?? 'an unknown OS';
  return `${s.slug} is written for ${oses.join(', ')}; the host runs ${family === 'other' ? os : `${family} (${os})`}`;
}

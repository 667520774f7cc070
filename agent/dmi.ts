import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** SMBIOS facts Linux exposes under /sys/class/dmi/id (and the Xen hypervisor uuid). */
export interface DmiFacts {
  sysVendor?: string;
  productName?: string;
  /** SMBIOS UUID; readable by root only on most distributions. */
  productUuid?: string;
  boardVendor?: string;
  /** On EC2 Nitro instances: the instance id. */
  boardAssetTag?: string;
  /** On Azure VMs: 7783-7084-3265-9085-8269-3286-77. */
  chassisAssetTag?: string;
  biosVendor?: string;
  /** /sys/hypervisor/uuid on Xen guests (older EC2 instance types): starts with `ec2`. */
  hypervisorUuid?: string;
}

const FILES: Record<keyof DmiFacts, string> = {
  sysVendor: 'sys/class/dmi/id/sys_vendor',
  productName: 'sys/class/dmi/id/product_name',
  productUuid: 'sys/class/dmi/id/product_uuid',
  boardVendor: 'sys/class/dmi/id/board_vendor',
  boardAssetTag: 'sys/class/dmi/id/board_asset_tag',
  chassisAssetTag: 'sys/class/dmi/id/chassis_asset_tag',
  biosVendor: 'sys/class/dmi/id/bios_vendor',
  hypervisorUuid: 'sys/hypervisor/uuid',
};

/** Placeholders firmware writes when a field is not filled in: treated as absent. */
export function meaningful(s: string | undefined | null): string | undefined {
  const t = (s ?? '').replace(/\0/g, '').trim();
  return t && !/^(default string|to be filled by o\.e\.m\.|none|not specified|not applicable|n\/a|-|0+)$/i.test(t) ? t : undefined;
}

/**
 * Reads the DMI files under `root` (default `/`). A file that is missing or unreadable (a
 * container has no DMI; product_uuid is root-only) leaves its field absent; never throws.
 */
export function readDmi(root = '/'): DmiFacts {
  const out: DmiFacts = {};
  for (const [key, rel] of Object.entries(FILES) as Array<[keyof DmiFacts, string]>) {
    try {
      const v = meaningful(readFileSync(join(root, rel), 'utf8'));
      if (v) out[key] = v;
    } catch { /* absent or not readable: the fact is unknown */ }
  }
  return out;
}

import type { DmiFacts } from './dmi.ts';
import { fetchAwsMetadata, fetchGcpMetadata } from './instance-metadata.ts';

/** `cloudMetadata.provider` values as Arc reports them; `N/A` is on-premises. */
export type CloudProvider = 'AWS' | 'GCP' | 'Azure' | 'N/A';

/** Azure writes this chassis asset tag on every VM it hosts. */
const AZURE_CHASSIS_TAG = '7783-7084-3265-9085-8269-3286-77';

export interface LocalEvidence {
  provider: CloudProvider;
  /** Which fact pointed there, for logs and `arcsim agent inventory`. */
  evidence?: string;
}

/**
 * Guesses the cloud from local facts only (no network): DMI vendor/product, an SMBIOS or Xen
 * UUID starting with `ec2`, an EC2 Nitro board asset tag (`i-...`), Azure's chassis tag.
 * `manufacturer`/`model`/`vmUuid` are what systeminformation read, used when DMI files are not.
 */
export function localCloudEvidence(dmi: DmiFacts, si: { manufacturer?: string; model?: string; vmUuid?: string } = {}): LocalEvidence {
  const vendor = `${dmi.sysVendor ?? si.manufacturer ?? ''} ${dmi.biosVendor ?? ''} ${dmi.boardVendor ?? ''}`.toLowerCase();
  const product = `${dmi.productName ?? si.model ?? ''}`.toLowerCase();
  const uuid = dmi.productUuid ?? si.vmUuid ?? '';
  if (vendor.includes('amazon')) return { provider: 'AWS', evidence: `DMI vendor "${dmi.sysVendor ?? si.manufacturer ?? dmi.biosVendor}"` };
  if (/^ec2/i.test(uuid)) return { provider: 'AWS', evidence: 'SMBIOS UUID starts with ec2' };
  if (/^ec2/i.test(dmi.hypervisorUuid ?? '')) return { provider: 'AWS', evidence: 'Xen hypervisor UUID starts with ec2' };
  if (/^i-[0-9a-f]{8,17}$/.test(dmi.boardAssetTag ?? '')) return { provider: 'AWS', evidence: 'board asset tag is an EC2 instance id' };
  if (vendor.includes('google') || product.includes('google compute engine')) return { provider: 'GCP', evidence: `DMI vendor/product "${dmi.sysVendor ?? si.manufacturer ?? dmi.productName}"` };
  if (dmi.chassisAssetTag === AZURE_CHASSIS_TAG) return { provider: 'Azure', evidence: 'Azure chassis asset tag' };
  if (vendor.includes('microsoft corporation') && product.includes('virtual machine')) {
    // Hyper-V on-premises looks the same from DMI; without the chassis tag it stays on-prem.
    return { provider: 'N/A', evidence: 'Hyper-V guest without the Azure chassis tag' };
  }
  return { provider: 'N/A' };
}

export interface CloudDetectionOptions {
  awsImdsUrl: string;
  gcpMetadataUrl: string;
  /** Per metadata request, ms. */
  timeoutMs: number;
}

export interface CloudDetection {
  provider: CloudProvider;
  /** Fields the real Arc agent reports from the cloud (AWS account/instance/region, GCP project/zone, ...). */
  details?: Record<string, string>;
  evidence?: string;
  /** Why the metadata service gave nothing, when it was asked and failed. */
  metadataError?: string;
}

/**
 * Detects the cloud: local evidence first; only when it points to AWS or GCP is that cloud's
 * metadata service asked (once, with a short timeout). The provider found locally stands even
 * when the metadata service does not answer — DMI written by the hypervisor is strong evidence —
 * but then there are no details. On-premises hosts make no network request at all.
 */
export async function detectCloud(local: LocalEvidence, o: CloudDetectionOptions): Promise<CloudDetection> {
  const base = { provider: local.provider, evidence: local.evidence };
  if (local.provider === 'AWS') {
    const r = await fetchAwsMetadata({ baseUrl: o.awsImdsUrl, timeoutMs: o.timeoutMs });
    return r.ok ? { ...base, details: r.details } : { ...base, metadataError: `AWS IMDSv2: ${r.reason}` };
  }
  if (local.provider === 'GCP') {
    const r = await fetchGcpMetadata({ baseUrl: o.gcpMetadataUrl, timeoutMs: o.timeoutMs });
    return r.ok ? { ...base, details: r.details } : { ...base, metadataError: `GCP metadata: ${r.reason}` };
  }
  return base;
}

import { z } from 'zod';
import type { SettingsRepository } from '../store/index.ts';
import { canonicalProfile, SYNC_PROFILES, syncEdges, sentinelEnabled, type SyncConfig } from './sync-matrix.ts';

/** What each profile means, for `arcsim sync profile show`, the API and the portal. */
export const PROFILE_DESCRIPTIONS: Record<string, string> = {
  'mdc-classic': 'the seed\'s table: MDE <-> M365D both ways; MDC status reaches neither; M365D status does not reach MDC (MDE -> MDC only with mdeStatusToMdc)',
  'sentinel-hub': 'mdc-classic with Microsoft Sentinel as the two-way hub: MDC connector MDC <-> Sentinel, XDR connector M365D <-> Sentinel',
  'xdr-unified': 'current Defender XDR: MDE, M365D and MDC sync both ways; MDC alerts appear in M365D',
};

/** The body of `PUT /api/sync/profile`. `mdeStatusToMdc` left out keeps the current reading. */
export const SyncProfileSetSchema = z.strictObject({
  profile: z.enum(SYNC_PROFILES),
  /** The other reading of the seed: a status change in MDE (or M365D, the same service) reaches MDC. */
  mdeStatusToMdc: z.boolean().optional(),
});
export type SyncProfileSet = z.infer<typeof SyncProfileSetSchema>;

/** Where the stored choice lives: the settings table, so a replica starting on the same database applies it too. */
export const SYNC_PROFILE_SETTING = 'sync.profile';

const Stored = SyncProfileSetSchema.extend({ setAt: z.string(), setBy: z.string() });
type StoredChoice = z.infer<typeof Stored>;

/** The active profile as the API shows it. */
export interface SyncProfileView {
  profile: string;
  mdeStatusToMdc: boolean;
  sentinel: boolean;
  /** `config`: from the config file (or the default); `api`: chosen with `arcsim sync profile set`. */
  source: 'config' | 'api';
  setAt?: string;
  setBy?: string;
  description: string;
  edges: Array<{ from: string; to: string }>;
  profiles: Array<{ name: string; description: string }>;
}

/**
 * The control plane's sync setting, changeable at run time. The one `SyncConfig` object is shared
 * by ingest and the status routes, so a choice is applied to it in place; the choice is stored,
 * and a control plane (re)starting on the same store applies the stored choice over its config.
 */
export class SyncProfiles {
  private chosen: StoredChoice | undefined;

  constructor(private readonly config: SyncConfig, private readonly settings: SettingsRepository) {}

  /** Applies the stored choice, if any (at start-up). */
  async load(): Promise<void> {
    const text = await this.settings.getSetting(SYNC_PROFILE_SETTING);
    if (text === undefined) return;
    const parsed = Stored.safeParse(JSON.parse(text));
    if (parsed.success) this.apply(parsed.data);
  }

  /** Chooses a profile (stored, then applied). */
  async set(choice: SyncProfileSet, who: string, now: number): Promise<SyncProfileView> {
    const stored: StoredChoice = { ...choice, setAt: new Date(now).toISOString(), setBy: who };
    await this.settings.setSetting(SYNC_PROFILE_SETTING, JSON.stringify(stored));
    this.apply(stored);
    return this.view();
  }

  view(): SyncProfileView {
    const profile = canonicalProfile(this.config.profile);
    return {
      profile, mdeStatusToMdc: this.config.mdeStatusToMdc, sentinel: sentinelEnabled(this.config),
      source: this.chosen ? 'api' : 'config', ...(this.chosen ? { setAt: this.chosen.setAt, setBy: this.chosen.setBy } : {}),
      description: PROFILE_DESCRIPTIONS[profile] ?? profile, edges: syncEdges(this.config),
      profiles: Object.entries(PROFILE_DESCRIPTIONS).map(([name, description]) => ({ name, description })),
    };
  }

  private apply(choice: StoredChoice): void {
    this.chosen = choice;
    this.config.profile = canonicalProfile(choice.profile) as SyncConfig['profile'];
    if (choice.mdeStatusToMdc !== undefined) this.config.mdeStatusToMdc = choice.mdeStatusToMdc;
  }
}

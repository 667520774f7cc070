import { z } from 'zod';

/** The product views an alert can appear in, each with its own copy and status. */
export const PRODUCT_VIEWS = ['MDE', 'M365D', 'MDC', 'Sentinel'] as const;
export type ProductView = (typeof PRODUCT_VIEWS)[number];

const Edge = z.strictObject({ from: z.enum(PRODUCT_VIEWS), to: z.enum(PRODUCT_VIEWS) });
export type SyncEdge = z.infer<typeof Edge>;

/**
 * The sync profiles a user chooses (`sync.profile` in the config file, `arcsim sync profile set`).
 * The sources this project follows disagree with themselves (REFERENCE.md, "Sync between
 * products"), so both readings are expressible:
 * - `mdc-classic` (the seed's table; `blog-2022` is its former name and still accepted):
 *   MDE <-> M365D two-way (one service); MDC status reaches neither; M365D status does not reach
 *   MDC. Whether MDE status reaches MDC is `mdeStatusToMdc` (off by default, the reading "M365D
 *   changes do not reach MDC"; on, a change in MDE — or in M365D, the same service — also reaches
 *   MDC). MDC-detected alerts are not shown in M365D.
 * - `sentinel-hub`: `mdc-classic` with Microsoft Sentinel as the two-way hub: the MDC connector
 *   carries MDC -> Sentinel (and Sentinel -> MDC with `sentinel.bidirectional`, default on), the
 *   XDR connector carries M365D <-> Sentinel.
 * - `xdr-unified` (current Defender XDR): every product syncs both ways; MDC alerts appear in M365D.
 * `matrix`: an explicit list of directed edges replaces the profile's edges. `sentinel.enabled`
 * adds the hub to any profile.
 */
export const SYNC_PROFILES = ['mdc-classic', 'sentinel-hub', 'xdr-unified', 'blog-2022'] as const;
export type SyncProfile = (typeof SYNC_PROFILES)[number];

/** A profile's current name (`blog-2022` is the former name of `mdc-classic`). */
export function canonicalProfile(profile: string): string {
  return profile === 'blog-2022' ? 'mdc-classic' : profile;
}

export const SyncConfigSchema = z.strictObject({
  profile: z.enum(SYNC_PROFILES).default('mdc-classic'),
  mdeStatusToMdc: z.boolean().default(false),
  sentinel: z.strictObject({
    enabled: z.boolean().default(false),
    bidirectional: z.boolean().default(true),
  }).default({ enabled: false, bidirectional: true }),
  matrix: z.array(Edge).optional(),
  /** Whether MDC-detected alerts appear in M365D (default: yes under xdr-unified, no otherwise). */
  mdcAlertsInM365d: z.boolean().optional(),
});
export type SyncConfig = z.infer<typeof SyncConfigSchema>;

/** The directed sync edges a configuration yields. */
export function syncEdges(config: SyncConfig): SyncEdge[] {
  const edges: SyncEdge[] = [];
  const two = (a: ProductView, b: ProductView) => edges.push({ from: a, to: b }, { from: b, to: a });
  if (config.matrix) {
    edges.push(...config.matrix);
  } else if (config.profile === 'xdr-unified') {
    const core: ProductView[] = ['MDE', 'M365D', 'MDC'];
    for (const a of core) for (const b of core) if (a !== b) edges.push({ from: a, to: b });
  } else {
    two('MDE', 'M365D');
    if (config.mdeStatusToMdc) edges.push({ from: 'MDE', to: 'MDC' });
  }
  if (sentinelEnabled(config) && !config.matrix) {
    edges.push({ from: 'MDC', to: 'Sentinel' });
    if (config.sentinel.bidirectional) edges.push({ from: 'Sentinel', to: 'MDC' });
    two('M365D', 'Sentinel');
  }
  return edges;
}

/** Whether Microsoft Sentinel is in the picture: the `sentinel-hub` profile, or `sentinel.enabled`. */
export function sentinelEnabled(config: SyncConfig): boolean {
  return config.profile === 'sentinel-hub' || config.sentinel.enabled;
}

/**
 * The product views that show an alert raised by `detectingProduct`. An MDE alert reaches MDC only
 * when its machine runs a server OS (`serverOs`, protocol/os-class.ts): "only server OS-related
 * alerts are synced from MDE to MDC"; a client's alert stays in MDE / M365D (and Sentinel).
 */
export function visibleIn(detectingProduct: string, config: SyncConfig, serverOs = true): ProductView[] {
  const mdcInM365d = config.mdcAlertsInM365d ?? config.profile === 'xdr-unified';
  const views: ProductView[] = detectingProduct === 'MDE' ? (serverOs ? ['MDE', 'M365D', 'MDC'] : ['MDE', 'M365D']) : mdcInM365d ? ['MDC', 'M365D'] : ['MDC'];
  if (sentinelEnabled(config)) views.push('Sentinel');
  return views;
}

/** The product that owns the detection itself (the others hold copies). */
export function owningView(detectingProduct: string): ProductView {
  return detectingProduct === 'MDE' ? 'MDE' : 'MDC';
}

/**
 * Where a status change made in `origin` travels: breadth-first along the edges, only through
 * views that hold a copy, each reached once, with the view it came through.
 */
export function propagation(origin: ProductView, edges: SyncEdge[], present: ReadonlySet<ProductView>): Array<{ product: ProductView; via: ProductView }> {
  const out: Array<{ product: ProductView; via: ProductView }> = [];
  const seen = new Set<ProductView>([origin]);
  const queue: ProductView[] = [origin];
  while (queue.length) {
    const from = queue.shift()!;
    for (const e of edges) {
      if (e.from !== from || seen.has(e.to) || !present.has(e.to)) continue;
      seen.add(e.to);
      out.push({ product: e.to, via: from });
      queue.push(e.to);
    }
  }
  return out;
}

import type { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Role } from '../auth/roles.ts';
import type { PortalSessions } from '../auth/portal-sessions.ts';
import type { Store } from '../store/index.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import type { Html } from './html.ts';

/** Who is signed in, for the page header; `csrf` only when signed in through a session (its forms carry it). */
export interface Viewer {
  name: string;
  role: Role;
  csrf?: string;
}

/** Run reports the portal offers as downloads; given by the caller that builds the control plane (testruns/ sits above it). */
export interface RunReportRenderers {
  junit(result: unknown): string;
  navigator(result: unknown): unknown;
  markdown(result: unknown): string;
}

/** What every page and action is given: the store and clock, never a global. */
export interface PortalDeps {
  store: Store;
  clock: Clock;
  sessions: PortalSessions;
  /** The control plane's public base URL (deep links); empty when unknown. */
  baseUrl?: () => string;
  reports?: RunReportRenderers;
  /** The sync matrix the status actions follow (the control plane's `sync` config). */
  sync?: SyncConfig;
}

/** The nav entries of the layout (components/layout.ts), by id. */
export type NavId = 'overview' | 'inventory' | 'alerts' | 'incidents' | 'hunting' | 'recommendations' | 'runs' | 'none';

export interface PageInput<P, Q> {
  params: P;
  query: Q;
  viewer: Viewer;
  /** The request's path and query, for links that keep the current filters. */
  url: string;
}

/** A page's answer: a page to render in the layout, a not-found page, or a file to download. */
export type PageOutcome =
  | { kind: 'page'; title: string; nav: NavId; body: Html }
  | { kind: 'not-found'; title: string; message: string; nav: NavId }
  | { kind: 'file'; filename: string; contentType: string; body: string };

/**
 * One portal page: a GET route under /portal whose module loads its data (through data/) and
 * renders it (with components/). `query` schemas should `.catch()` bad values to their default,
 * so a hand-edited URL shows the default page instead of an error.
 */
export interface PortalPage<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  path: string;
  summary: string;
  /** Least role that may open it (default reader). */
  role?: Role;
  params?: P;
  query?: Q;
  handle(deps: PortalDeps, input: PageInput<z.infer<P>, z.infer<Q>>): Promise<PageOutcome>;
}

export interface ActionInput<P, B> {
  params: P;
  body: B;
  viewer: Viewer;
}

/**
 * A write from a portal form (POST, `application/x-www-form-urlencoded`). The registrar checks the
 * role (through the route's security, like every API route) and, for a browser session, the
 * hidden `csrf` field; the handler answers with where to go next (303) or a page.
 */
export interface PortalAction<P extends z.ZodType = z.ZodType, B extends z.ZodObject = z.ZodObject> {
  path: string;
  summary: string;
  role: Role;
  params?: P;
  body: B;
  handle(deps: PortalDeps, input: ActionInput<z.infer<P>, z.infer<B>>): Promise<{ kind: 'redirect'; location: string } | PageOutcome>;
}

/** Identity helpers that keep a page module's types inferred from its schemas. */
export const definePage = <P extends z.ZodType, Q extends z.ZodType>(p: PortalPage<P, Q>): PortalPage<P, Q> => p;
export const defineAction = <P extends z.ZodType, B extends z.ZodObject>(a: PortalAction<P, B>): PortalAction<P, B> => a;

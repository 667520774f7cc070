export { portal } from './routes.ts';
export type { PortalDeps, RunReportRenderers } from './page.ts';

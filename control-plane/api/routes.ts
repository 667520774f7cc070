import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Clock } from '../../lib/clock.ts';
import type { MachineRow, Store } from '../store/index.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import type { SyncProfiles } from '../products/sync-profile.ts';
import type { CommandBody, CommandResult } from '../gateway/agent-session.ts';
import type { RuleSet } from '../detection/index.ts';
import type { IngestOptions } from '../ingest/ingest.ts';
import type { Inventory } from '../inventory/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Limits } from '../../protocol/index.ts';
import type { StoreHealth } from '../health/store-health.ts';
import { apiGuard } from '../auth/api-guard.ts';
import { PortalSessions } from '../auth/portal-sessions.ts';
import { auditHook } from './audit-hook.ts';
import { keyRoutes } from './key-routes.ts';
import type { AgentLifecycle } from '../auth/agent-lifecycle.ts';
import { installErrorHandling } from './http.ts';
import { registerOpenApi } from './openapi.ts';
import { metaRoutes } from './meta-routes.ts';
import { tokenRoutes } from './token-routes.ts';
import { machineRoutes } from './machine-routes.ts';
import { alertRoutes } from './alert-routes.ts';
import { exportRoutes } from './export-routes.ts';
import { graphRoutes } from './graph-routes.ts';
import { armAlertRoutes } from './arm-alert-routes.ts';
import { agentRoutes } from './agent-routes.ts';
import { runRoutes } from './run-routes.ts';
import { inventoryRoutes } from './inventory-routes.ts';
import { clusterRoutes } from './cluster-routes.ts';
import { portal, type RunReportRenderers } from '../portal/index.ts';
import { portalServices } from '../portal/services/index.ts';
import { installRoutes } from './install-routes.ts';
import { queryRoutes } from './query-routes.ts';
import type { QueryLimits } from '../query/index.ts';
import type { Transport } from '../tls/transport.ts';
import type { Sinks } from '../sinks/index.ts';
import type { VulnerabilityAssessor } from '../vulnerabilities/index.ts';
import { vulnerabilityRoutes } from './vulnerability-routes.ts';

export interface ApiDeps {
  store: Store;
  /** Whether store writes currently succeed (`/api/health`). */
  health: StoreHealth;
  /** True while listening and accepting agents (`/api/ready`). */
  acceptingAgents(): boolean;
  clock: Clock;
  version: string;
  /** The control plane's own base URL, for links inside resources. */
  baseUrl(): string;
  /** How this control plane serves (reported by /api/health). */
  transport: Transport;
  /** With TLS: the CA agents pin (served at /install/ca.pem, its SHA-256 carried by install.sh). */
  ca?: { pem: string; sha256: string };
  connectedAgents(): string[];
  command(agentId: string, body: CommandBody, timeoutMs: number): Promise<CommandResult>;
  sync: SyncConfig;
  /** The sync profile a user chooses at run time (`PUT /api/sync/profile`). */
  syncProfiles: SyncProfiles;
  /** A per-process admin key for in-process callers (see apiGuard). */
  processAdminKey?: string;
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
  inventory: Inventory;
  /** Agent key revocation and rotation, machine deletion. */
  lifecycle: AgentLifecycle;
  /** Closes the sockets of agents whose keys were just revoked. */
  disconnectRevoked(agentIds: string[]): void;
  rules: RuleSet;
  newId: () => string;
  ingest: IngestOptions;
  logger: Logger;
  /** `maxBodyBytes` (every route) and `maxImportBodyBytes` (snapshot imports, run results). */
  limits: Pick<Limits, 'maxBodyBytes' | 'maxImportBodyBytes'>;
  /** The configured sinks (their state on /api/health). */
  sinks?: Pick<Sinks, 'health' | 'size' | 'wake'>;
  /** Vulnerability management (OSV feeds, findings, the machines' vulnerability assessment). */
  vulnerabilities: VulnerabilityAssessor;
  /** Prometheus metrics served at GET /metrics. */
  metrics?: import('../metrics/metrics.ts').Metrics;
  /** KQL limits (row cap, timeout, scan cap); QUERY_LIMITS when not given. */
  queryLimits?: Partial<QueryLimits>;
  /** The portal's run report downloads (JUnit, Navigator, Markdown); the run page offers none without them. */
  runReports?: RunReportRenderers;
}

/**
 * The HTTP API: each route group a plugin whose zod schemas validate requests, serialise replies
 * and make the OpenAPI document. Validation, errors and the admin guard are set here once, on the
 * root scope the plugins inherit. Every /api route and portal page declares the least role it needs
 * (`ROLE.x`, api/http.ts) or `config.public`; start-up fails for one that declares neither.
 */
export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  // onRequest: the key is checked before the body is read or validated, so a caller without it
  // learns nothing from schema errors and cannot make the server read a large body.
  const sessions = new PortalSessions(deps.clock);
  const auth = apiGuard({ store: deps.store, clock: deps.clock, processKey: deps.processAdminKey, sessions });
  app.addHook('onRequest', auth.onRequest);
  app.addHook('onResponse', auditHook(deps.store, deps.clock, deps.logger));
  app.addHook('onRoute', (route) => {
    // Every API route and portal page says who may call it: a role, or `config.public` on purpose.
    const guarded = /^\/(api|portal)(\/|$)/.test(route.url);
    const declared = route.schema?.security !== undefined || (route.config as { public?: boolean } | undefined)?.public === true;
    if (guarded && !declared) {
      throw new Error(`route ${([] as string[]).concat(route.method).join(',')} ${route.url} declares neither a role (security: ROLE.x) nor config.public`);
    }
  });
  registerOpenApi(app, deps.version);

  app.register(metaRoutes, { ...deps, identify: auth.identify });
  app.register(tokenRoutes, deps);
  app.register(machineRoutes, deps);
  app.register(alertRoutes, deps);
  app.register(exportRoutes, deps);
  app.register(graphRoutes, deps);
  app.register(armAlertRoutes, deps);
  app.register(agentRoutes, deps);
  app.register(runRoutes, deps);
  app.register(inventoryRoutes, deps);
  app.register(clusterRoutes, deps);
  app.register(keyRoutes, deps);
  app.register(portal, { store: deps.store, clock: deps.clock, sessions, baseUrl: deps.baseUrl, reports: deps.runReports, sync: deps.sync });
  app.register(portalServices, deps);
  app.register(installRoutes, deps);
  app.register(queryRoutes, deps);
  app.register(vulnerabilityRoutes, deps);
}

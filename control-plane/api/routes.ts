import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Clock } from '../../lib/clock.ts';
import type { MachineRow, Store } from '../store/index.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import type { CommandBody, CommandResult } from '../gateway/agent-session.ts';
import type { RuleSet } from '../detection/index.ts';
import type { IngestOptions } from '../ingest/ingest.ts';
import type { Inventory } from '../inventory/index.ts';
import type { StoreHealth } from '../health/store-health.ts';
import { apiGuard } from '../auth/api-guard.ts';
import { installErrorHandling } from './http.ts';
import { registerOpenApi } from './openapi.ts';
import { metaRoutes } from './meta-routes.ts';
import { tokenRoutes } from './token-routes.ts';
import { machineRoutes } from './machine-routes.ts';
import { alertRoutes } from './alert-routes.ts';
import { agentRoutes } from './agent-routes.ts';
import { runRoutes } from './run-routes.ts';
import { inventoryRoutes } from './inventory-routes.ts';
import { portal } from './portal.ts';
import { installRoutes } from './install-routes.ts';

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
  connectedAgents(): string[];
  command(agentId: string, body: CommandBody, timeoutMs: number): Promise<CommandResult>;
  sync: SyncConfig;
  /** A per-process admin key for in-process callers (see apiGuard). */
  processAdminKey?: string;
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
  inventory: Inventory;
  rules: RuleSet;
  newId: () => string;
  ingest: IngestOptions;
}

/**
 * The HTTP API: each route group a plugin whose zod schemas validate requests, serialise replies
 * and make the OpenAPI document. Validation, errors and the admin guard are set here once, on the
 * root scope the plugins inherit. Routes that change state declare the role they need (`ROLE.x`, api/http.ts).
 */
export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  // onRequest: the key is checked before the body is read or validated, so a caller without it
  // learns nothing from schema errors and cannot make the server parse a large body.
  app.addHook('onRequest', apiGuard(deps.store, deps.processAdminKey));
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    const changesState = methods.some((m) => !['GET', 'HEAD', 'OPTIONS'].includes(m));
    const declared = route.schema?.security !== undefined || (route.config as { public?: boolean } | undefined)?.public === true;
    if (changesState && !declared) {
      throw new Error(`route ${methods.join(',')} ${route.url} changes state but declares neither a role (security: ROLE.x) nor config.public`);
    }
  });
  registerOpenApi(app, deps.version);

  app.register(metaRoutes, deps);
  app.register(tokenRoutes, deps);
  app.register(machineRoutes, deps);
  app.register(alertRoutes, deps);
  app.register(agentRoutes, deps);
  app.register(runRoutes, deps);
  app.register(inventoryRoutes, deps);
  app.register(portal, deps);
  app.register(installRoutes, deps);
}

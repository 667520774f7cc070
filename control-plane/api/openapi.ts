import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * The OpenAPI 3 document, generated from the route schemas (served by meta-routes.ts at `GET /openapi.json`), and Swagger UI at
 * `/docs`, served from the package's own files (no CDN). Registered on the root scope before the
 * route plugins, so its onRoute hook sees every route.
 */
export function registerOpenApi(app: FastifyInstance, version: string): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'arcsim control plane',
        version,
        description: 'REST API of the arcsim control plane. Errors are `{code, path, message}` with a stable `ARCSIM_E_*` code. '
          + 'Agents connect over a WebSocket at `/agent/v1` (not an HTTP route, so not listed here) with the `agentBearer` scheme.',
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http', scheme: 'bearer',
            description: 'An API key. Each operation lists the least role it needs (reader < responder < contributor < admin); '
              + 'a missing, unknown or revoked key gets 401 ARCSIM_E_UNAUTHORIZED, a weaker role 403 ARCSIM_E_FORBIDDEN, '
              + 'checked before the body is read. The admin key is printed by `arcsim control-plane` on first start '
              + '(`--reset-admin-key` makes a new one); `POST /api/keys` (`arcsim key create --role R`) makes keys with a role. '
              + 'Agent keys and enrollment tokens are not API keys. Portal pages also take the sign-in cookie of `/portal/login`.',
          },
          agentBearer: {
            type: 'http', scheme: 'bearer',
            description: '`<agentId>.<agentKey>` from `POST /api/enroll`; checked at the WebSocket upgrade of `/agent/v1`.',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  app.register(swaggerUi, { routePrefix: '/docs' });
}

import type { FastifyPluginAsync } from 'fastify';
import { agentArtifact } from '../install/agent-artifact.ts';
import { ARTIFACT_PATH, CA_PATH, renderInstallScript } from '../install/install-script.ts';
import { protocolError } from '../../protocol/errors.ts';

/**
 * GET /install.sh (with the bundle's SHA-256 baked in, and with TLS the CA and its SHA-256),
 * GET /agent/arcsim-agent.cjs (the agent, one file), GET /agent/arcsim-agent.cjs.sha256
 * (sha256sum's format) and, with TLS, GET /install/ca.pem (the CA agents pin). No auth: the token
 * given to the script is the secret; a CA certificate is public.
 */
export const installRoutes: FastifyPluginAsync<{ baseUrl(): string; ca?: { pem: string; sha256: string } }> = async (app, { baseUrl, ca }) => {
  const tags = ['install'];
  app.get('/install.sh', { schema: { tags, summary: 'The agent onboarding script (checks the agent file against its SHA-256; with TLS, carries and checks the pinned CA)', produces: ['text/x-shellscript'] } }, async (_req, reply) => {
    const { sha256 } = await agentArtifact();
    reply.type('text/x-shellscript; charset=utf-8').send(renderInstallScript(baseUrl(), sha256, ca));
  });
  app.get(ARTIFACT_PATH, { schema: { tags, summary: 'The agent: one JavaScript file that needs only Node.js 20 (its SHA-256 in x-checksum-sha256)', produces: ['text/javascript'] } }, async (_req, reply) => {
    const { bytes, sha256 } = await agentArtifact();
    reply.type('text/javascript; charset=utf-8').header('x-checksum-sha256', sha256).send(bytes);
  });
  app.get(`${ARTIFACT_PATH}.sha256`, { schema: { tags, summary: "The agent file's SHA-256, in sha256sum's format", produces: ['text/plain'] } }, async (_req, reply) => {
    const { sha256 } = await agentArtifact();
    reply.type('text/plain; charset=utf-8').send(`${sha256}  ${ARTIFACT_PATH.slice(ARTIFACT_PATH.lastIndexOf('/') + 1)}\n`);
  });
  // Public on purpose: a VM fetches it before it has any key, and checks its fingerprint itself.
  app.get(CA_PATH, { config: { public: true }, schema: { tags, summary: 'The lab CA agents pin (PEM; its SHA-256 of the DER in x-checksum-sha256); 404 without TLS', produces: ['application/x-pem-file'] } }, async (_req, reply) => {
    if (!ca) throw protocolError('ARCSIM_E_NOT_FOUND', 'this control plane serves no TLS of its own, so it has no CA to pin');
    reply.type('application/x-pem-file').header('x-checksum-sha256', ca.sha256).send(ca.pem);
  });
};

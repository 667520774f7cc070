import type { FastifyPluginAsync } from 'fastify';
import { agentArtifact } from '../install/agent-artifact.ts';
import { ARTIFACT_PATH, renderInstallScript } from '../install/install-script.ts';

/**
 * GET /install.sh (with the bundle's SHA-256 baked in), GET /agent/arcsim-agent.mjs (the agent,
 * one file) and GET /agent/arcsim-agent.mjs.sha256 (sha256sum's format). No auth: the token given
 * to the script is the secret.
 */
export const installRoutes: FastifyPluginAsync<{ baseUrl(): string }> = async (app, { baseUrl }) => {
  const tags = ['install'];
  app.get('/install.sh', { schema: { tags, summary: 'The agent onboarding script (checks the agent file against its SHA-256)', produces: ['text/x-shellscript'] } }, async (_req, reply) => {
    const { sha256 } = await agentArtifact();
    reply.type('text/x-shellscript; charset=utf-8').send(renderInstallScript(baseUrl(), sha256));
  });
  app.get(ARTIFACT_PATH, { schema: { tags, summary: 'The agent: one JavaScript file that needs only Node.js 20 (its SHA-256 in x-checksum-sha256)', produces: ['text/javascript'] } }, async (_req, reply) => {
    const { bytes, sha256 } = await agentArtifact();
    reply.type('text/javascript; charset=utf-8').header('x-checksum-sha256', sha256).send(bytes);
  });
  app.get(`${ARTIFACT_PATH}.sha256`, { schema: { tags, summary: "The agent file's SHA-256, in sha256sum's format", produces: ['text/plain'] } }, async (_req, reply) => {
    const { sha256 } = await agentArtifact();
    reply.type('text/plain; charset=utf-8').send(`${sha256}  ${ARTIFACT_PATH.slice(ARTIFACT_PATH.lastIndexOf('/') + 1)}\n`);
  });
};

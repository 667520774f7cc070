import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Fake instance-metadata servers on 127.0.0.1 (tests never contact the real link-local
 * metadata address). Each records the requests it saw, so a test can assert what was asked.
 */
export interface FakeServer {
  url: string;
  requests: Array<{ method: string; path: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<FakeServer> {
  const requests: FakeServer['requests'] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

export const AWS_DOC = {
  accountId: '123456789012', instanceId: 'i-0abc1234def567890', region: 'eu-west-1', availabilityZone: 'eu-west-1b',
  instanceType: 't3.large', privateIp: '10.20.1.17', imageId: 'ami-0123456789abcdef0',
};

/** AWS IMDSv2: a token from PUT /latest/api/token, required on every GET (401 without it). */
export function fakeAws(): Promise<FakeServer> {
  const token = 'AQAEAfakeToken==';
  return serve((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) { res.writeHead(400).end(); return; }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      return;
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== token) { res.writeHead(401).end(); return; }
    if (req.url === '/latest/dynamic/instance-identity/document') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(JSON.stringify({ ...AWS_DOC, version: '2017-09-30', architecture: 'x86_64' }));
      return;
    }
    res.writeHead(404).end();
  });
}

/** GCP metadata server: answers only with `Metadata-Flavor: Google`, and says so in its reply. */
export function fakeGcp(): Promise<FakeServer> {
  return serve((req, res) => {
    if (req.headers['metadata-flavor'] !== 'Google') { res.writeHead(403).end(); return; }
    const h = { 'content-type': 'application/json', 'metadata-flavor': 'Google' };
    if (req.url === '/computeMetadata/v1/instance/?recursive=true') {
      res.writeHead(200, h).end(JSON.stringify({
        id: 4567890123456789012, name: 'gce-web-01', zone: 'projects/987654321098/zones/europe-west1-b',
        machineType: 'projects/987654321098/machineTypes/e2-standard-2', image: 'projects/debian-cloud/global/images/debian-12-bookworm-v20260101',
        networkInterfaces: [{ ip: '10.132.0.5' }], serviceAccounts: { default: { email: '987654321098-compute@developer.gserviceaccount.com' } },
      }));
      return;
    }
    if (req.url === '/computeMetadata/v1/instance/id') {
      res.writeHead(200, { ...h, 'content-type': 'application/text' }).end('4567890123456789012');
      return;
    }
    if (req.url === '/computeMetadata/v1/project/?recursive=true') {
      res.writeHead(200, h).end(JSON.stringify({ projectId: 'arcsim-lab-gcp', numericProjectId: 987654321098 }));
      return;
    }
    res.writeHead(404).end();
  });
}

/** A metadata server that accepts connections and never answers. */
export function silentServer(): Promise<FakeServer> {
  return serve(() => { /* hang */ });
}

import { request } from 'node:https';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLabPki, type LabPki } from '../../control-plane/tls/lab-pki.ts';

/** A GET over https trusting only `ca` (what an agent pinning the lab CA does); fetch cannot take a CA. */
export function httpsGet(url: string, ca: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

/** A lab CA and server certificate for 127.0.0.1 and localhost, written to `dir` as `arcsim tls init` names them. */
export function writeTestPki(dir: string, hosts = ['127.0.0.1', 'localhost']): LabPki & { files: { cert: string; key: string; ca: string } } {
  const pki = createLabPki({ hosts });
  mkdirSync(dir, { recursive: true });
  const files = { cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem'), ca: join(dir, 'ca.pem') };
  writeFileSync(files.cert, pki.serverPem);
  writeFileSync(files.key, pki.serverKeyPem, { mode: 0o600 });
  writeFileSync(files.ca, pki.caPem);
  return { ...pki, files };
}

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Reads the CA the agent pins for an https control plane (`--ca-file`, $ARCSIM_CA_FILE): PEM, one
 * or more CA certificates. Throws, naming the file, when it cannot be read or holds no CA
 * certificate, so a wrong path stops the agent at start rather than trusting Node's CA store.
 */
export function loadPinnedCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`--ca-file ${file}: ${(err as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`--ca-file ${file}: no PEM certificate in the file`);
  for (const b of blocks) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(b);
    } catch (err) {
      throw new Error(`--ca-file ${file}: a certificate cannot be parsed: ${(err as Error).message}`);
    }
    if (!cert.ca) throw new Error(`--ca-file ${file}: ${cert.subject.replaceAll('\n', ', ')} is not a CA certificate (give the CA, e.g. ca.pem of "arcsim tls init", not the server certificate)`);
  }
  return blocks.join('\n') + '\n';
}

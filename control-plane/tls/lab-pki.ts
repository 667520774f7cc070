import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';
import { protocolError } from '../../protocol/errors.ts';

/** How long the lab CA and the server certificate are valid, and the key size (units in the names). */
export const LAB_PKI_DEFAULTS = {
  caValidityDays: 3650,
  /** Browsers cap server certificates at 398 days; agents do not, but the same rule keeps it usable in a browser. */
  serverValidityDays: 397,
  rsaBits: 2048,
} as const;

export interface LabPki {
  caPem: string;
  caKeyPem: string;
  /** The server certificate followed by the CA certificate (a full chain), what `--tls-cert` takes. */
  serverPem: string;
  serverKeyPem: string;
  /** SHA-256 of the CA certificate (DER), lower-case hex: what install.sh checks with sha256sum. */
  caSha256: string;
}

/** The SHA-256 fingerprint of a PEM certificate's DER bytes, lower-case hex without colons. */
export function certificateSha256(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
}

function rsaKeys(bits: number): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  // Node generates the key (native, fast); forge builds and signs the certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), pem: privateKey };
}

/** A positive serial number of 16 random bytes (RFC 5280: at most 20 octets, positive). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  // A minute back, so a peer whose clock is a little behind accepts it at once.
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
}

/**
 * Makes a lab CA and a server certificate it signs, with a subject alternative name for every
 * host (IP addresses as IP entries, anything else as a DNS name). The first host is the server
 * certificate's common name. Throws when `hosts` is empty or a name is not a host name or an IP.
 */
export function createLabPki(o: { hosts: string[]; now?: Date }): LabPki {
  if (o.hosts.length === 0) throw new Error('give at least one --host (a DNS name or an IP address agents use to reach the control plane)');
  for (const h of o.hosts) {
    if (!isIP(h) && !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h)) {
      throw new Error(`--host ${JSON.stringify(h)} is neither a DNS name nor an IP address`);
    }
  }
  const now = o.now ?? new Date();
  const sha256 = () => forge.md.sha256.create();

  const caKeys = rsaKeys(LAB_PKI_DEFAULTS.rsaBits);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  validity(ca, now, LAB_PKI_DEFAULTS.caValidityDays);
  const caName = [{ name: 'commonName', value: `arcsim lab CA ${now.toISOString().slice(0, 10)} ${randomBytes(4).toString('hex')}` }, { name: 'organizationName', value: 'arcsim lab' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, sha256());

  const serverKeys = rsaKeys(LAB_PKI_DEFAULTS.rsaBits);
  const server = forge.pki.createCertificate();
  server.publicKey = serverKeys.publicKey;
  server.serialNumber = serial();
  validity(server, now, LAB_PKI_DEFAULTS.serverValidityDays);
  server.setSubject([{ name: 'commonName', value: o.hosts[0]! }, { name: 'organizationName', value: 'arcsim lab' }]);
  server.setIssuer(ca.subject.attributes);
  server.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // type 7 = iPAddress, 2 = dNSName (RFC 5280 GeneralName).
    { name: 'subjectAltName', altNames: o.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  server.sign(caKeys.privateKey, sha256());

  // forge writes CRLF line ends; PEM tools and install.sh's shell read LF.
  const pem = (c: forge.pki.Certificate) => forge.pki.certificateToPem(c).replaceAll('\r\n', '\n');
  const caPem = pem(ca);
  return {
    caPem,
    caKeyPem: caKeys.pem,
    serverPem: pem(server) + caPem,
    serverKeyPem: serverKeys.pem,
    caSha256: certificateSha256(caPem),
  };
}

/** The files `arcsim tls init` writes, and their modes (private keys readable by the owner only). */
export const LAB_PKI_FILES = {
  ca: { name: 'ca.pem', mode: 0o644 },
  caKey: { name: 'ca-key.pem', mode: 0o600 },
  server: { name: 'server.pem', mode: 0o644 },
  serverKey: { name: 'server-key.pem', mode: 0o600 },
} as const;

/**
 * `arcsim tls init`: writes a new lab CA and server certificate into `dir` (created 0700). Throws
 * ARCSIM_E_TLS_FILES_EXIST, writing nothing, when any of the four files exists and `force` is not set.
 */
export function writeLabPki(o: { dir: string; hosts: string[]; force?: boolean; now?: Date }): LabPki & { files: Record<keyof typeof LAB_PKI_FILES, string> } {
  const files = Object.fromEntries(Object.entries(LAB_PKI_FILES).map(([k, f]) => [k, join(o.dir, f.name)])) as Record<keyof typeof LAB_PKI_FILES, string>;
  const present = Object.values(files).filter((f) => existsSync(f));
  if (present.length > 0 && !o.force) throw protocolError('ARCSIM_E_TLS_FILES_EXIST', present.join(', '));
  const pki = createLabPki({ hosts: o.hosts, now: o.now });
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  chmodSync(o.dir, 0o700);
  const text: Record<keyof typeof LAB_PKI_FILES, string> = { ca: pki.caPem, caKey: pki.caKeyPem, server: pki.serverPem, serverKey: pki.serverKeyPem };
  for (const [k, f] of Object.entries(LAB_PKI_FILES) as Array<[keyof typeof LAB_PKI_FILES, { name: string; mode: number }]>) {
    // Written to a temp name and renamed, so a reader never sees half a key; the mode is set before any byte is written.
    const tmp = `${files[k]}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, text[k], { mode: f.mode, flag: 'wx' });
    chmodSync(tmp, f.mode);
    renameSync(tmp, files[k]);
  }
  return { ...pki, files };
}

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { protocolError } from '../../protocol/errors.ts';
import { certificateSha256 } from './lab-pki.ts';

/** Paths of the files the control plane serves TLS with (`--tls-cert`, `--tls-key`, `--tls-ca`; config `tls`). */
export interface TlsFiles {
  /** PEM: the server certificate, optionally followed by its chain (what `arcsim tls init` writes: server + CA). */
  cert: string;
  /** PEM: the server certificate's private key. */
  key: string;
  /** PEM: the CA agents pin; default: the self-signed CA at the end of the `cert` chain. */
  ca?: string;
}

/** What https needs, and the CA install.sh hands to agents. */
export interface ServerTls {
  cert: string;
  key: string;
  /** The CA certificate agents pin (one PEM block). */
  caPem: string;
  /** SHA-256 of the CA certificate (DER), lower-case hex. */
  caSha256: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw protocolError('ARCSIM_E_TLS_CONFIG', `cannot read the ${what} ${file}: ${(err as Error).message}`);
  }
}

function certificates(text: string, file: string): X509Certificate[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw protocolError('ARCSIM_E_TLS_CONFIG', `${file} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw protocolError('ARCSIM_E_TLS_CONFIG', `${file}: a certificate cannot be parsed: ${(err as Error).message}`);
    }
  });
}

const selfSigned = (c: X509Certificate) => c.ca && c.checkIssued(c) && c.verify(c.publicKey);

/**
 * Reads and checks the TLS files at start-up, so a wrong file stops the control plane with
 * ARCSIM_E_TLS_CONFIG instead of failing each handshake: the key must match the certificate, the
 * CA must be a CA certificate, and the certificate must chain to it. `now` (ms) checks validity.
 */
export function loadServerTls(files: TlsFiles, now: number): ServerTls {
  const certText = read(files.cert, 'TLS certificate');
  const chain = certificates(certText, files.cert);
  const leaf = chain[0]!;
  let key: KeyObject;
  const keyText = read(files.key, 'TLS key');
  try {
    key = createPrivateKey(keyText);
  } catch (err) {
    throw protocolError('ARCSIM_E_TLS_CONFIG', `${files.key} is not a PEM private key: ${(err as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) throw protocolError('ARCSIM_E_TLS_CONFIG', `${files.key} is not the private key of the certificate in ${files.cert}`);
  if (Date.parse(leaf.validTo) < now) throw protocolError('ARCSIM_E_TLS_CONFIG', `the certificate in ${files.cert} expired on ${leaf.validTo}`);

  let ca: X509Certificate;
  if (files.ca) {
    const given = certificates(read(files.ca, 'CA certificate'), files.ca);
    if (given.length !== 1 || !given[0]!.ca) throw protocolError('ARCSIM_E_TLS_CONFIG', `${files.ca} must hold exactly one CA certificate`);
    ca = given[0]!;
  } else {
    const last = chain.at(-1)!;
    if (chain.length < 2 || !selfSigned(last)) {
      throw protocolError('ARCSIM_E_TLS_CONFIG', `${files.cert} does not end with the CA that signed it: give the CA agents should pin with --tls-ca (config tls.ca)`);
    }
    ca = last;
  }
  // The chain's top must be the CA or be issued by it, so agents pinning the CA accept the server.
  const top = chain.at(-1)!;
  const chained = top.raw.equals(ca.raw) || (top.checkIssued(ca) && top.verify(ca.publicKey));
  if (!chained) throw protocolError('ARCSIM_E_TLS_CONFIG', `the certificate in ${files.cert} is not signed by the CA ${ca.subject.replaceAll('\n', ', ')}`);
  const caPem = ca.toString();
  return { cert: certText, key: keyText, caPem, caSha256: certificateSha256(caPem) };
}

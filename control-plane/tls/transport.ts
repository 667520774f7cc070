import { isIP } from 'node:net';
import { protocolError } from '../../protocol/errors.ts';

/** How the control plane serves: https, plain http on loopback, or plain http elsewhere because asked to. */
export type Transport = 'https' | 'http-loopback' | 'http-insecure';

/** `localhost`, 127.0.0.0/8, ::1 (and its IPv4-mapped form): only this host can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** An address that listens on every interface: what install.sh and links can never use as a URL. */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '' || h === '0.0.0.0' || (isIP(h) === 6 && /^[0:]+$/.test(h));
}

/**
 * Decides the transport at start-up, refusing what would expose keys or hand out a URL no agent
 * can use: TLS and `insecureHttp` together (ARCSIM_E_TLS_CONFIG), plain http on a non-loopback
 * address without `insecureHttp` (ARCSIM_E_TLS_REQUIRED), a wildcard address without a public
 * URL (ARCSIM_E_PUBLIC_URL_REQUIRED), an http public URL while serving TLS (ARCSIM_E_TLS_CONFIG).
 */
export function decideTransport(o: { host: string; publicUrl?: string; tls: boolean; insecureHttp: boolean }): Transport {
  if (o.tls && o.insecureHttp) throw protocolError('ARCSIM_E_TLS_CONFIG', '--insecure-http (insecureHttp) and --tls-cert/--tls-key (tls) exclude each other', 'insecureHttp');
  const loopback = isLoopbackHost(o.host);
  if (!o.tls && !loopback && !o.insecureHttp) {
    throw protocolError('ARCSIM_E_TLS_REQUIRED',
      `--host ${o.host} is reachable from other machines, and without TLS admin and agent keys would travel in clear: ` +
        'give --tls-cert FILE --tls-key FILE (make them with "arcsim tls init --dir DIR --host NAME"), or accept plain http with --insecure-http', 'tls');
  }
  if (isWildcardHost(o.host) && !o.publicUrl) {
    throw protocolError('ARCSIM_E_PUBLIC_URL_REQUIRED',
      `--host ${o.host} listens on every interface, which is no address a VM can reach: give --public-url, e.g. --public-url https://lab-cp.example:7070`, 'publicUrl');
  }
  if (o.tls && o.publicUrl && !o.publicUrl.startsWith('https:')) {
    throw protocolError('ARCSIM_E_TLS_CONFIG', `--public-url ${o.publicUrl} must be https:// when the control plane serves TLS`, 'publicUrl');
  }
  return o.tls ? 'https' : loopback ? 'http-loopback' : 'http-insecure';
}

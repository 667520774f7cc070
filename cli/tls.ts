import { resolve } from 'node:path';
import { Command } from 'commander';
import { writeLabPki } from '../control-plane/tls/lab-pki.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `arcsim tls init`: a lab CA and a server certificate for the control plane, made in process (no openssl). */
export function tlsCommand(): Command {
  const cmd = new Command('tls').description('TLS for the control plane: a lab CA and a server certificate agents pin');
  cmd
    .command('init')
    .description('write a new lab CA (ca.pem, ca-key.pem) and a server certificate it signs (server.pem: server then CA; server-key.pem) into DIR (0700, keys 0600), and print the CA\'s SHA-256;\n' +
      'then: arcsim control-plane --tls-cert DIR/server.pem --tls-key DIR/server-key.pem --public-url https://NAME:PORT')
    .requiredOption('--dir <dir>', 'directory to write the four files into (created 0700)')
    .requiredOption('--host <name>', 'a DNS name or IP address agents use to reach the control plane, put in the certificate (repeatable: --host lab-cp.example --host 10.0.0.5)', collect, [])
    .option('--force', 'replace existing files (agents that pinned the old CA must be given the new one)')
    .action((opts: { dir: string; host: string[]; force?: boolean }) => {
      const dir = resolve(opts.dir);
      const pki = writeLabPki({ dir, hosts: opts.host, force: !!opts.force });
      process.stdout.write(
        `wrote ${pki.files.ca}, ${pki.files.caKey} (0600), ${pki.files.server}, ${pki.files.serverKey} (0600)\n` +
          `server certificate for: ${opts.host.join(', ')}\n` +
          `CA SHA-256 fingerprint: ${pki.caSha256}\n` +
          `(install.sh carries it and checks the CA against it; keep ca-key.pem offline if you can)\n`,
      );
    });
  return cmd;
}

import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../lib/logger.ts';
import { redactUrl } from '../control-plane/store/index.ts';
import { loadConfigFile } from '../control-plane/config-file.ts';
import { durationOption, portOption, urlOption } from './options.ts';
import { startControlPlane, untilSignal } from './service.ts';

export function controlPlaneCommand(): Command {
  return new Command('control-plane')
    .description('run the control plane (REST API + agent WebSocket gateway) on an embedded SQLite store, or on PostgreSQL (--store) so several replicas share one database;\n' +
      'settings come from --config FILE (YAML, see docs/configuration.md), and a flag given here overrides the same setting in the file')
    .option('--config <file>', 'YAML config file (every key optional; unknown keys refused)')
    .option('--host <addr>', 'address to listen on; anything but loopback needs --tls-cert/--tls-key or --insecure-http, a wildcard (0.0.0.0, ::) also --public-url', '127.0.0.1')
    .addOption(new Option('--port <port>', 'TCP port (0 = any free port)').default(7070).argParser(portOption))
    .addOption(new Option('--public-url <url>', 'URL agents, install.sh, alert links and the portal use to reach this control plane (default: the listen address; required with a wildcard --host such as 0.0.0.0; https with TLS)').argParser(urlOption))
    .option('--tls-cert <file>', 'serve https and wss with this PEM certificate (chain: server, then CA), e.g. server.pem of "arcsim tls init"')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert, e.g. server-key.pem')
    .option('--tls-ca <file>', 'the CA agents pin (default: the self-signed CA ending the --tls-cert chain)')
    .option('--insecure-http', 'allow plain http on a non-loopback --host (keys travel in clear; flagged at start and in /api/health)')
    .option('--data-dir <dir>', 'where the SQLite store (arcsim.db) lives', '.arcsim/control-plane')
    .addOption(
      new Option('--store <url>', 'PostgreSQL store instead of SQLite, e.g. postgres://arcsim@127.0.0.1:5432/arcsim; every replica given the same URL shares alerts, dedup and incidents')
        .env('ARCSIM_STORE_URL').argParser(storeUrlOption),
    )
    .option('--rules <dir...>', 'directories of Sigma rule files, read recursively and loaded as one rule set, rule by rule (default: the shipped rules)')
    .option('--strict', 'refuse to start when any rule is refused (default: load every rule that loads and print the refused count)')
    .option('--allow-no-rules', 'start even when the rules directories hold no rule (otherwise refused with ARCSIM_E_RULE_DIR)')
    .option('--import-dir <dir>', 'the only directory a connector pull may read files from (default: <data dir>/import)')
    .addOption(new Option('--heartbeat-interval <duration>', 'heartbeat interval asked of agents (real Arc: 5m)').default(30_000, '30s').argParser(durationOption))
    .option('--reset-admin-key', 'generate a new admin API key (the old one stops working)')
    .addOption(new Option('--log-format <fmt>', 'log format').choices(['json', 'pretty']).default('json'))
    .action(async (opts, cmd: Command) => {
      const file = opts.config ? loadConfigFile(opts.config) : {};
      // A flag on the command line (or its environment variable) beats the file; the file beats the flag's default.
      const given = (name: string) => ['cli', 'env'].includes(cmd.getOptionValueSource(name) ?? '');
      const pick = <T>(name: string, fromFile: T | undefined): T => (given(name) || fromFile === undefined ? opts[name] : fromFile);
      const host: string = pick('host', file.host);
      const port: number = pick('port', file.port);
      const dataDir: string = pick('dataDir', file.dataDir);
      const importDir = resolve(opts.importDir ?? file.importDir ?? resolve(dataDir, 'import'));
      // --data-dir on the command line means SQLite even when the file names a PostgreSQL store.
      const storeUrl: string | undefined = given('store') ? opts.store : given('dataDir') ? undefined : file.storeUrl;
      // TLS files: the command line replaces the file's tls block when it names a certificate or key.
      if (!!opts.tlsCert !== !!opts.tlsKey) cmd.error('error: give --tls-cert and --tls-key together');
      const tls = opts.tlsCert ? { cert: resolve(opts.tlsCert), key: resolve(opts.tlsKey), ...(opts.tlsCa ? { ca: resolve(opts.tlsCa) } : {}) }
        : file.tls ? { ...file.tls, ...(opts.tlsCa ? { ca: resolve(opts.tlsCa) } : {}) } : undefined;
      if (opts.tlsCa && !tls) cmd.error('error: --tls-ca needs --tls-cert and --tls-key (or tls in the config file)');
      const heartbeatIntervalSec = given('heartbeatInterval') || file.limits?.heartbeatIntervalSec === undefined
        ? Math.max(1, Math.round(opts.heartbeatInterval / 1000))
        : file.limits.heartbeatIntervalSec;
      const logger = createLogger({ format: pick('logFormat', file.logFormat), component: 'control-plane' });
      const svc = await startControlPlane({
        dataDir, storeUrl, host, port, resetAdminKey: opts.resetAdminKey, logger,
        config: {
          publicUrl: pick('publicUrl', file.publicUrl), rulesDirs: pick('rules', file.rulesDirs), strictRules: pick('strict', file.strictRules),
          tls, insecureHttp: opts.insecureHttp ?? file.insecureHttp,
          lateness: file.lateness, incidentWindow: file.incidentWindow, sync: file.sync,
          inventory: { ...file.inventory, importDir }, allowNoRules: opts.allowNoRules ?? file.allowNoRules,
          limits: { ...file.limits, heartbeatIntervalSec },
          ...(file.sinks ? { sinks: file.sinks } : {}),
          ...(file.metrics ? { metrics: file.metrics } : {}),
        },
      });
      if (svc.cp.refusedRules.length) {
        const dirs = pick<string[] | undefined>('rules', file.rulesDirs) ?? [];
        process.stdout.write(`${svc.cp.refusedRules.length} rule(s) refused, the others loaded; see which and why: arcsim rules check ${dirs.join(' ') || '<rules dir>'} (--strict makes a refusal fatal)\n`);
      }
      const where = storeUrl ? `store: ${redactUrl(storeUrl)}` : `data: ${dataDir}`;
      const publicUrl = svc.cp.url() === svc.url ? '' : `, public URL ${svc.cp.url()}`;
      process.stdout.write(`arcsim control plane listening on ${svc.url} (${where}${publicUrl})\n`);
      if (svc.cp.transport === 'https') {
        process.stdout.write(`https and wss; agents pin the CA with SHA-256 ${svc.cp.caSha256} (install.sh carries and checks it)\n`);
      } else if (svc.cp.transport === 'http-insecure') {
        process.stdout.write('WARNING: plain http on a non-loopback address (--insecure-http): admin and agent keys travel in clear; use --tls-cert/--tls-key (arcsim tls init)\n');
      }
      if (svc.adminKey) {
        process.stdout.write(
          `\nAdmin API key (shown once, only its hash is stored):\n  ${svc.adminKey}\n` +
            'Use it as "Authorization: Bearer <key>", or export ARCSIM_API_KEY for the arcsim commands.\n' +
            'Give others keys with only the role they need: arcsim key create --role reader|responder|contributor|admin\n\n',
        );
      }
      const sig = await untilSignal();
      logger.info('stopping', { signal: sig });
      await svc.stop();
    });
}

/** `--store` / ARCSIM_STORE_URL: a PostgreSQL URL (SQLite needs none: it is the default, in --data-dir). */
export function storeUrlOption(value: string): string {
  if (!/^postgres(ql)?:\/\/./.test(value)) throw new InvalidArgumentError('a PostgreSQL URL, postgres://user[:password]@host[:port]/database');
  return value;
}

import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EXTENSIONS, isExtensionName, LIMITS, protocolError, type Limits } from '../protocol/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { pinoShaped, silentLogger, type Logger } from '../lib/logger.ts';
import { parseDuration } from '../lib/duration.ts';
import type { MachineRow, Store } from './store/index.ts';
import type { RunReportRenderers } from './portal/index.ts';
import { compileRules, DEFAULT_RULES_DIR, DetectionEngine, readRuleSources, type RuleResult, type RuleSet } from './detection/index.ts';
import { FILE_PROFILE_LIMITS, primeFileProfiles } from './detection/file-profile.ts';
import { DecodePool } from './ingest/decode-pool.ts';
import { Ingest, type IngestResult } from './ingest/ingest.ts';
import { IngestQueue } from './ingest/ingest-queue.ts';
import { Gateway } from './gateway/gateway.ts';
import { StoreHealth } from './health/store-health.ts';
import type { AgentSession, CommandBody, CommandResult } from './gateway/agent-session.ts';
import { registerApi } from './api/routes.ts';
import { frameworkErrors } from './api/http.ts';
import { SyncConfigSchema, type SyncConfig } from './products/sync-matrix.ts';
import { SyncProfiles } from './products/sync-profile.ts';
import { createEnrollmentToken, type TokenRequest } from './auth/enrollment.ts';
import { ensureAdminKey } from './auth/admin-key.ts';
import { AgentLifecycle } from './auth/agent-lifecycle.ts';
import { VERSION } from '../lib/version.ts';
import { Inventory, InventoryConfigSchema, type ConnectedAgents } from './inventory/index.ts';
import { loadServerTls } from './tls/server-tls.ts';
import { decideTransport, type Transport } from './tls/transport.ts';
import { Sinks, SinksConfigSchema } from './sinks/index.ts';
import { SOFTWARE_TABLE, VulnerabilityAssessor } from './vulnerabilities/index.ts';
import { Metrics } from './metrics/metrics.ts';

/** Control-plane settings; every number has its unit in its name or comment. */
export const ControlPlaneConfigSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** TCP port; 0 picks a free one. */
  port: z.number().int().min(0).max(65_535).default(7070),
  /**
   * URL agents, install.sh, alert links and the portal use to reach this control plane; default:
   * the listen address. Required on a wildcard host (0.0.0.0, ::); https when `tls` is set.
   */
  publicUrl: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')).optional(),
  /** Serve https and wss with these PEM files (paths); `ca`: the CA agents pin, default the self-signed CA ending `cert`. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional() }).optional(),
  /** Plain http on a non-loopback host (keys travel in clear); flagged in the log and /api/health. */
  insecureHttp: z.boolean().default(false),
  /** How late an event (by event time) may arrive and still count in correlation windows. */
  lateness: z.string().default('5m'),
  /** Directories of Sigma rule files, loaded as one rule set; default: the shipped rules. */
  rulesDirs: z.array(z.string().min(1)).min(1).optional(),
  /** Refuse to start when any rule is refused (default: load every rule that loads, log the refused count). */
  strictRules: z.boolean().default(false),
  /** Start with an empty rule set; without it, rules directories holding no rule refuse the start (ARCSIM_E_RULE_DIR). */
  allowNoRules: z.boolean().default(false),
  /** Which status change flows between MDE, M365D, MDC and Sentinel (see products/sync-matrix.ts). */
  sync: SyncConfigSchema.default(SyncConfigSchema.parse({})),
  /** Related alerts this far apart (alert time) still form one M365D incident. */
  incidentWindow: z.string().default('24h'),
  /** Arc status thresholds, CSPM pulls, extension commands (see inventory/inventory.ts). */
  inventory: InventoryConfigSchema.default(InventoryConfigSchema.parse({})),
  /** Where alert changes stream to: syslog (TCP, UDP) and webhooks (see sinks/sink-config.ts, docs/sinks.md). */
  sinks: SinksConfigSchema,
  /** `GET /metrics` (Prometheus): `agentLabels: false` drops the per-agent label from the event counters and spool gauges (large fleets). */
  metrics: z.strictObject({ agentLabels: z.boolean().default(true) }).default({ agentLabels: true }),
  /** Whole positive numbers (the config file also keeps the frame and batch sizes from going below the protocol's). */
  // Every limit is a positive integer, but ingestWorkers, which may be 0 (no worker thread).
  limits: z.strictObject(Object.fromEntries(Object.keys(LIMITS).map((k) => [k, (k === 'ingestWorkers' ? z.number().int().min(0).max(64) : z.number().int().positive()).optional()])) as Record<keyof Limits, z.ZodOptional<z.ZodNumber>>).default({}),
});
export type ControlPlaneConfig = z.input<typeof ControlPlaneConfigSchema>;

export interface ControlPlaneDeps {
  store: Store;
  clock?: Clock;
  logger?: Logger;
  /** Alert id generator (injectable for deterministic tests). */
  newId?: () => string;
  config?: ControlPlaneConfig;
  /** Jitter source in [0, 1) for sink retry backoff (injectable for deterministic tests). */
  random?: () => number;
  /** Renderers of a test run's JUnit / Navigator / Markdown reports for the portal's downloads (testruns/ sits above the control plane, so its caller gives them). */
  runReports?: RunReportRenderers;
}

export interface ControlPlane extends EventEmitter {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly rules: RuleSet;
  /** The rules read at start that were refused (empty with strictRules, which makes a refusal fatal). */
  readonly refusedRules: RuleResult[];
  readonly limits: Limits;
  /** The ingest worker threads taking frames (limits.ingestWorkers; none before listen() and until each has compiled its rules). */
  ingestWorkers(): Worker[];
  readonly sync: SyncConfig;
  /** Connectors, Arc status sweep, assets, plans, recommendations. */
  readonly inventory: Inventory;
  /** Vulnerability management: OSV feeds, software findings, the machines' vulnerability assessment. */
  readonly vulnerabilities: VulnerabilityAssessor;
  /** The configured sinks (syslog, webhooks): `deliver()` runs one pass now, `health()` their state. */
  readonly sinks: Sinks;
  /** https, http-loopback (plain http, only this host can connect) or http-insecure (plain http on the network, asked for). */
  readonly transport: Transport;
  /** With TLS: SHA-256 (DER, lower-case hex) of the CA agents pin, carried by install.sh. */
  readonly caSha256: string | undefined;
  /** Public base URL: `publicUrl` when configured, else the listen address once listening, e.g. http://127.0.0.1:7070. */
  url(): string;
  /** Starts listening; resolves to the listen address (not `publicUrl`). */
  listen(): Promise<string>;
  close(): Promise<void>;
  /** First start: a new admin key in clear text (shown once); later starts: undefined. */
  ensureAdminKey(options?: { reset?: boolean }): Promise<string | undefined>;
  createToken(request: TokenRequest): ReturnType<typeof createEnrollmentToken>;
  connectedAgents(): string[];
  /** Registration admission now: running, waiting, upgraded-not-registered, refusals so far (ARCSIM_E_BUSY). */
  admission(): { running: number; waiting: number; handshaking: number; refused: number };
  session(agentId: string): AgentSession | undefined;
  /**
   * Installs (`enabled`) or removes an extension on a machine: stored, pushed to the agent when
   * it is connected (`delivered`), and re-sent in `registered` on every reconnect.
   */
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
  /** Sends a command to a connected agent and waits for its result. */
  command(agentId: string, body: CommandBody, timeoutMs?: number): Promise<CommandResult>;
  /**
   * Calls the REST API in process (no socket) with admin rights, through the same routes,
   * schemas and errors as a remote caller. For the lab and tests; the key never leaves memory.
   */
  adminRequest(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/**
 * Builds the control plane: REST API and WebSocket gateway on one Fastify server.
 * Emits `registered` (session, machine), `ingested` (session, result), `clone-suspected` (agentId, differences).
 */
export function createControlPlane(deps: ControlPlaneDeps): ControlPlane {
  const config = ControlPlaneConfigSchema.parse(deps.config ?? {});
  // This control plane's own copy: a sync profile chosen at run time changes it in place.
  config.sync = structuredClone(config.sync);
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger();
  const newId = deps.newId ?? randomUUID;
  const limits: Limits = { ...LIMITS };
  for (const [k, v] of Object.entries(config.limits)) if (v !== undefined) limits[k as keyof Limits] = v;
  if (limits.eventsBurst < limits.maxEventsPerBatch) {
    throw new Error(`config: limits.eventsBurst (${limits.eventsBurst}) must be at least limits.maxEventsPerBatch (${limits.maxEventsPerBatch})`);
  }
  if (limits.maxImportBodyBytes < limits.maxBodyBytes) {
    throw new Error(`config: limits.maxImportBodyBytes (${limits.maxImportBodyBytes}) must be at least limits.maxBodyBytes (${limits.maxBodyBytes})`);
  }
  // Transport first: a refused address or a wrong certificate stops the start before anything loads.
  const transport = decideTransport({ host: config.host, publicUrl: config.publicUrl, tls: !!config.tls, insecureHttp: config.insecureHttp });
  const tls = config.tls ? loadServerTls(config.tls, clock.now()) : undefined;
  const scheme = tls ? 'https' : 'http';
  // Rule by rule: every rule that loads is used; refusals are counted (or fatal with strictRules).
  const ruleDirs = config.rulesDirs ?? [DEFAULT_RULES_DIR];
  // The text is read once: the ingest workers compile exactly what this thread compiles.
  const ruleSources = readRuleSources(ruleDirs);
  const report = compileRules(ruleSources);
  // A control plane with no rule raises no alert: say so at start-up instead of running silently.
  if (report.results.length === 0 && !config.allowNoRules) {
    throw protocolError('ARCSIM_E_RULE_DIR', `${(config.rulesDirs ?? ['the shipped rules']).join(', ')}: no rule files (*.yml); give --allow-no-rules (allowNoRules) to start without rules`, 'rulesDirs');
  }
  if (config.strictRules && report.refused.length) throw (report.refused[0] as { error?: Error }).error ?? new Error(report.refused[0]!.message);
  const rules = report.set;
  if (report.refused.length) {
    logger.warn('rules refused', { loaded: report.results.length - report.refused.length, refused: report.refused.length, see: `arcsim rules check ${ruleDirs.join(' ')}` });
  }
  const engine = new DetectionEngine(rules, { latenessMs: parseDuration(config.lateness) });
  const syncProfiles = new SyncProfiles(config.sync, deps.store.settings);
  const ingest = new Ingest(deps.store, engine, clock, newId, { sync: config.sync, incidentWindowMs: parseDuration(config.incidentWindow) });
  // Sessions hand their batches to one queue: round-robin across agents, several batches per commit.
  const ingestQueue = new IngestQueue(ingest, limits);
  // Decoding, validation and rule matching of agents' batches on worker threads (issue 16); the
  // store, correlation, alerts and acks stay on this one. Started by listen(), after the store is open.
  const decodePool = new DecodePool({
    workers: limits.ingestWorkers, sources: ruleSources, maxEventsPerBatch: limits.maxEventsPerBatch, logger,
    certificates: () => (engine.profiles ? deps.store.events.latestFileCertificates(FILE_PROFILE_LIMITS.maxProfiles) : Promise.resolve([])),
  });
  // One logger for the process: Fastify writes its request lines and errors (with reqId) through winston.
  // With TLS the one server speaks https, and the gateway's WebSocket upgrade (wss) rides on it.
  const app = Fastify({
    loggerInstance: pinoShaped(logger), bodyLimit: limits.maxBodyBytes, frameworkErrors,
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
  }) as unknown as FastifyInstance;
  const emitter = new EventEmitter();
  let baseUrl = config.publicUrl ?? `${scheme}://${config.host}:${config.port}`;

  const durationOf = (text: string, name: string) => {
    try {
      return parseDuration(text);
    } catch (err) {
      throw new Error(`config: inventory.${name}: ${(err as Error).message}`);
    }
  };
  // The inventory and the gateway call each other; these closures reach the gateway built below.
  const agents: ConnectedAgents = {
    registered: () => [...gateway.sessions.values()].filter((s) => s.machine).map((s) => s.agentId),
    isRegistered: (agentId) => !!gateway.sessions.get(agentId)?.machine,
    setExtension: (agentId, name, enabled, timeoutMs) => command(agentId, { action: 'set-extension', name, enabled }, timeoutMs),
  };
  const inventory = new Inventory({
    store: deps.store, clock, logger, config: config.inventory,
    status: {
      heartbeatIntervalMs: limits.heartbeatIntervalSec * 1000,
      missedHeartbeats: config.inventory.missedHeartbeats,
      expiredAfterMs: durationOf(config.inventory.expiredAfter, 'expiredAfter'),
    },
    sweepIntervalMs: durationOf(config.inventory.sweepInterval, 'sweepInterval'),
    commandTimeoutMs: durationOf(config.inventory.commandTimeout, 'commandTimeout'),
    agents,
  });

  const vulnerabilities = new VulnerabilityAssessor({ store: deps.store, clock, logger });
  const sinks = new Sinks(config.sinks, { store: deps.store, clock, logger, baseUrl: () => baseUrl, ...(deps.random ? { random: deps.random } : {}) });
  const metrics: Metrics = new Metrics({
    connectedAgents: (): number => gateway.sessions.size,
    ...(config.sinks.length ? { sinks: () => sinks.health() } : {}),
  }, { agentLabels: config.metrics.agentLabels });
  const health = new StoreHealth(clock, (cause) => metrics.storeError(cause));
  let accepting = false;
  const gateway: Gateway = new Gateway(app.server, deps.store, limits, logger, {
    ingest: ingestQueue,
    ...(decodePool.size > 0 ? { decoder: decodePool } : {}),
    clock,
    health,
    metrics,
    onRegistering: (registered: Array<{ machine: MachineRow; before: MachineRow | undefined }>) => inventory.machinesRegistered(registered),
    onHeartbeat: (agentId: string) => inventory.heartbeat(agentId),
    onConnectedAgain: (agentIds: string[]) => inventory.connectedAgain(agentIds),
    onRegistered: (s: AgentSession, m: MachineRow) => {
      logger.info('machine registered', { agentId: s.agentId, machine: m.resourceId });
      emitter.emit('registered', s, m);
      inventory.provisionRegistered(s.agentId).catch((err) => logger.error('provisioning failed', { agentId: s.agentId, error: String(err) }));
    },
    onIngested: (s: AgentSession, r: IngestResult) => {
      if (r.alerts.some((a) => a.created)) sinks.wake();
      // Only a batch that stored software-inventory rows can bring a new snapshot: any other batch
      // would cost a timer and a read per agent for nothing (10,000 agents: 1,000 reads a second).
      if (r.storedByTable[SOFTWARE_TABLE]) vulnerabilities.ingested(s.agentId);
      emitter.emit('ingested', s, r);
    },
    onCloneSuspected: (agentId: string, differences: string[]) => emitter.emit('clone-suspected', agentId, differences),
    onDeregister: (agentId: string): Promise<string | null> => lifecycle.deregister(agentId),
  });
  const lifecycle: AgentLifecycle = new AgentLifecycle({
    store: deps.store, clock, logger, live: gateway, inventoryChanged: () => inventory.recompute(),
  });

  const processAdminKey = randomBytes(32).toString('base64url');
  const command = async (agentId: string, body: CommandBody, timeoutMs?: number) => {
    const s = gateway.sessions.get(agentId);
    if (!s) throw protocolError('ARCSIM_E_AGENT_OFFLINE', `agent ${agentId} is not connected`);
    return s.command(body, timeoutMs);
  };

  async function setExtension(machineName: string, name: string, enabled: boolean) {
    if (!isExtensionName(name)) {
      throw protocolError('ARCSIM_E_VALIDATION', `unknown extension ${name}; known: ${Object.keys(EXTENSIONS).join(', ')}`, 'params.ext');
    }
    const machine = (await deps.store.machines.listMachines()).find((m) => m.name === machineName);
    if (!machine) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${machineName}`);
    const extensions = machine.extensions.filter((e) => e.name !== name);
    if (enabled) extensions.push({ name, publisher: EXTENSIONS[name].publisher, status: 'Succeeded' });
    await deps.store.machines.setMachineExtensions(machine.agentId, extensions);
    const updated = (await deps.store.machines.getMachine(machine.agentId))!;
    const session = gateway.sessions.get(machine.agentId);
    if (!session) return { machine: updated, delivered: false, message: 'agent not connected: it gets the extension state when it reconnects' };
    try {
      const r = await session.command({ action: 'set-extension', name, enabled }, 10_000);
      return { machine: updated, delivered: r.ok, message: r.message };
    } catch (err) {
      return { machine: updated, delivered: false, message: (err as Error).message };
    }
  }

  registerApi(app, {
    health,
    acceptingAgents: () => accepting,
    processAdminKey,
    command,
    store: deps.store,
    clock,
    version: VERSION,
    baseUrl: () => baseUrl,
    transport,
    ca: tls ? { pem: tls.caPem, sha256: tls.caSha256 } : undefined,
    connectedAgents: () => [...gateway.sessions.keys()],
    sync: config.sync,
    syncProfiles,
    setExtension,
    lifecycle,
    disconnectRevoked: (agentIds: string[]) => lifecycle.disconnectRevoked(agentIds),
    inventory, rules, newId,
    ingest: { sync: config.sync, incidentWindowMs: parseDuration(config.incidentWindow) },
    logger, limits,
    sinks,
    vulnerabilities,
    metrics,
    runReports: deps.runReports,
  });

  return Object.assign(emitter, {
    app,
    store: deps.store,
    rules,
    refusedRules: report.refused,
    limits,
    ingestWorkers: () => decodePool.workers,
    sync: config.sync,
    inventory,
    sinks,
    vulnerabilities,
    transport,
    caSha256: tls?.caSha256,
    url: () => baseUrl,
    admission: () => gateway.admission.state(),
    async listen() {
      await syncProfiles.load();
      await inventory.start();
      await sinks.start();
      // Software snapshots and advisories stored before a restart: assess them now.
      void vulnerabilities.assess().catch(() => undefined);
      // File profiles (image_load signature rules) from the certificate rows stored before a restart.
      if (engine.profiles) await primeFileProfiles(engine.profiles, deps.store.events);
      await decodePool.start();
      await app.listen({ host: config.host, port: config.port, backlog: limits.listenBacklog });
      const addr = app.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const listening = `${scheme}://${host}:${addr.port}`;
      baseUrl = config.publicUrl ?? listening;
      accepting = true;
      logger.info('control plane listening', { url: listening, publicUrl: baseUrl, transport, rules: rules.detections.length + rules.correlations.length });
      if (transport === 'http-insecure') logger.warn('plain http on a non-loopback address (--insecure-http): admin and agent keys travel in clear', { url: listening });
      return listening;
    },
    async close() {
      accepting = false;
      await inventory.close();
      vulnerabilities.close();
      await vulnerabilities.idle();
      gateway.close();
      await gateway.heartbeats.close();
      await app.close();
      await sinks.close();
      await decodePool.close();
    },
    ensureAdminKey: (options?: { reset?: boolean }) => ensureAdminKey(deps.store, options),
    createToken: (request: TokenRequest) => createEnrollmentToken(deps.store, request, clock),
    connectedAgents: () => [...gateway.sessions.keys()],
    setExtension,
    session: (agentId: string) => gateway.sessions.get(agentId),
    command,
    async adminRequest(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) {
      const res = await app.inject({
        method, url: path, headers: { authorization: `Bearer ${processAdminKey}` },
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
    },
  }) as ControlPlane;
}

import { join } from 'node:path';

/**
 * How the agent is installed as a service, shared by `arcsim agent install` (agent/installer.ts) and
 * the control plane's install.sh (control-plane/install/), which must agree and must not import
 * each other.
 */
export const SERVICE_NAME = 'arcsim-agent.service';

/** The one file an install puts on a host: the agent bundle (scripts/build-agent.mjs). */
export const AGENT_ARTIFACT = 'arcsim-agent.cjs';

/**
 * Exit status of an agent whose key was revoked (ARCSIM_E_AGENT_REVOKED; 78 is EX_CONFIG): the unit
 * lists it in RestartPreventExitStatus, so systemd does not restart it into the same refusal.
 */
export const EXIT_REVOKED = 78;

/** Install locations, relative to the root (`/` on a real host). */
export const AGENT_PATHS = {
  installDir: 'opt/arcsim-agent',
  stateDir: 'var/lib/arcsim-agent',
  confDir: 'etc/arcsim-agent',
  envFile: 'etc/arcsim-agent/agent.env',
  /** The CA the agent pins for an https control plane (named by ARCSIM_CA_FILE in the env file). */
  caFile: 'etc/arcsim-agent/ca.pem',
  unitDir: 'etc/systemd/system',
} as const;

/**
 * Where an install puts things under `root` (default `/`; tests pass a temp dir, so no real system
 * path is touched). The unit's paths include the root, so a root install is self-consistent.
 */
export function installPaths(root = '/') {
  const at = (p: string) => join(root, p);
  return {
    installDir: at(AGENT_PATHS.installDir),
    artifact: at(join(AGENT_PATHS.installDir, AGENT_ARTIFACT)),
    stateDir: at(AGENT_PATHS.stateDir),
    confDir: at(AGENT_PATHS.confDir),
    envFile: at(AGENT_PATHS.envFile),
    caFile: at(AGENT_PATHS.caFile),
    unitFile: at(join(AGENT_PATHS.unitDir, SERVICE_NAME)),
  };
}

/**
 * Node options the service runs with (issue #3: idle footprint). `--optimize-for-size` keeps V8's
 * heap smaller at a small CPU cost the idle agent does not notice. V8 hands freed heap back to the
 * OS (its memory reducer) only 8 s after start-up's last big GC; the agent is idle once registered,
 * so 0.2 s: otherwise it stays ~4 MB above its idle size for those seconds (docs/performance.md).
 * `--max-opt=0`: V8 runs JavaScript in its interpreter only, never compiled to machine code
 * (neither Sparkplug nor TurboFan). The first TurboFan compilation pages ~3.3 MB of the compiler's
 * own code in from the node binary, resident for the life of the process; in the agent it came
 * within seconds of the first events batch (ws masks each frame in a JavaScript loop, which gets
 * hot), and an idle agent reached it anyway after ~80 s of 5 s heartbeats. Sparkplug's code costs
 * ~0.9 MB more. Measured without a visible cost: a library scenario's command and 40,000 events
 * through the spool take the same time (the agent's work is I/O, JSON and zlib, all native; it
 * sends at most `eventsPerSecond`, 500 by default). WebAssembly is unaffected (fetch needs it).
 * Command-line flags: V8 reads them when the heap is set up, so setting them from the code is too late.
 * Not `--lite-mode` (~1.5 MB less): it turns WebAssembly off, and Node's fetch (undici, used for
 * the cloud metadata probes) needs it.
 */
export const UNIT_NODE_ARGS: string[] = [
  '--gc-memory-reducer-start-delay-ms=200', '--optimize-for-size', '--max-opt=0',
  // Issue 16 leftover of issue 11 item 3 (docs/performance.md "eighth pass"): the agent measured
  // 50.2 / 51.2 MB (median / max) against its 50 MB target on a fresh machine, 47.0 / 48.8 MB with
  // these three and UNIT_ENVIRONMENT. ICU's own time-zone tables are not paged in: Date uses the
  // OS's zone (same offsets; only `Date#toString()` names the zone by its abbreviation, and the
  // agent writes ISO-8601 UTC timestamps everywhere). A 1 MB young generation: the idle agent
  // allocates little, and the default grows it to 16 MB that stays resident. Regular expressions
  // run in V8's bytecode interpreter instead of being compiled to machine code per pattern.
  '--no-icu-timezone-data', '--max-semi-space-size=1', '--regexp-interpret-all',
];

/**
 * Environment the service runs with, set by the unit (`Environment=`) and by the footprint bench.
 * glibc's malloc serves blocks of 64 KiB and more with mmap and gives them back to the OS when
 * freed; its default threshold (128 KiB, raised dynamically up to 32 MiB as large blocks are freed)
 * left zlib's and the JSON buffers' freed memory in the heap, resident, after each events batch.
 */
export const UNIT_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };

/**
 * The systemd unit. Values are inserted as given, so install.sh can render it with shell
 * variables (`${STATE_DIR}`) and `arcsim agent install` with real paths: one text for both.
 */
export function renderUnit(v: { node: string; entry: string; stateDir: string; envFile: string }): string {
  return `[Unit]
Description=arcsim agent (Arc-style lab agent: registers this host, plays synthetic scenarios)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
# ARCSIM_CONTROL_PLANE, ARCSIM_TOKEN (kept to re-enroll after node_invalid; remove it if you prefer)
# and, for an https control plane with a lab CA, ARCSIM_CA_FILE (the CA the agent pins).
EnvironmentFile=${v.envFile}
${Object.entries(UNIT_ENVIRONMENT).map(([k, val]) => `Environment=${k}=${val}`).join('\n')}
ExecStart=${[v.node, ...UNIT_NODE_ARGS, v.entry].join(' ')} run --control-plane \${ARCSIM_CONTROL_PLANE} --state-dir ${v.stateDir} --log-format json
WorkingDirectory=${v.stateDir}
Restart=on-failure
RestartSec=10
# Revoked by the control plane (ARCSIM_E_AGENT_REVOKED): stay down.
RestartPreventExitStatus=${EXIT_REVOKED}
NoNewPrivileges=true
ProtectSystem=full
ReadWritePaths=${v.stateDir}

[Install]
WantedBy=multi-user.target
`;
}

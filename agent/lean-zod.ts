
/**
 * The agent process runs zod without its JIT (imported first by cli/agent-main.ts, before any
 * schema is built: zod reads the setting when a schema is constructed). With the JIT, the first
 * parse of each object schema compiles a specialised parser with `new Function`, whose source and
 * code stay in memory for the life of the process; the agent parses a few small frames a minute,
 * so the interpreted path costs nothing that matters and the idle agent keeps less (issue 11: idle
 * RSS ≤ 50 MB). The control plane keeps the JIT.
 */
// zod keeps its settings on globalThis (`__zod_globalConfig`, zod/v4/core/core.js) and takes an
// object already there: set it without importing zod, which an idle agent never loads (agent/idle-decoder.ts).
const g = globalThis as { __zod_globalConfig?: { jitless?: boolean } };
g.__zod_globalConfig = Object.assign(g.__zod_globalConfig ?? {}, { jitless: true });
export {};

import { z } from 'zod';

/**
 * The agent process runs zod without its JIT (imported first by cli/agent-main.ts, before any
 * schema is built: zod reads the setting when a schema is constructed). With the JIT, the first
 * parse of each object schema compiles a specialised parser with `new Function`, whose source and
 * code stay in memory for the life of the process; the agent parses a few small frames a minute,
 * so the interpreted path costs nothing that matters and the idle agent keeps less (issue 11: idle
 * RSS ≤ 50 MB). The control plane keeps the JIT.
 */
z.config({ jitless: true });

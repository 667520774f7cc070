/**
 * Child-process entry (forked by storm.ts, never run directly): N raw WebSocket agents that all
 * connect at once and register, speaking the real protocol, each retrying as the real agent does
 * (bench/fleet-connect.ts). Talks to its parent only over IPC.
 */
import { performance } from 'node:perf_hooks';
import { connectAgent } from './fleet-connect.ts';
import { stormFacts, type FromStormFleet, type StormFleetResult, type ToStormFleet } from './storm-messages.ts';

function send(message: FromStormFleet): void {
  process.send!(message);
}

async function main(plan: ToStormFleet): Promise<void> {
  const result: StormFleetResult = { registered: 0, allRegisteredMs: 0, latenciesMs: [], busy: 0, retries: 0, errors: [] };
  const start = performance.now();
  const error = (line: string) => { if (result.errors.length < 20) result.errors.push(line); };
  await Promise.all(plan.agents.map(async (a) => {
    const ws = await connectAgent({
      wsUrl: plan.wsUrl, agent: a, register: { machine: stormFacts(a.index), sqlInstances: [] },
      deadlineMs: plan.deadlineMs, counters: result, error,
    });
    if (!ws) return;
    result.registered++;
    result.latenciesMs.push(performance.now() - start);
    result.allRegisteredMs = performance.now() - start;
    ws.close(1000);
  }));
  send({ type: 'done', result });
}

if (!process.send) {
  console.error('bench/storm-fleet.ts is started by bench/storm.ts (npm run bench -- --storm), not directly.');
  process.exitCode = 2;
} else {
  process.once('message', (m: ToStormFleet) => {
    if (m.type !== 'plan') return;
    main(m).then(() => process.disconnect(), (err: unknown) => {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      process.disconnect();
    });
  });
}

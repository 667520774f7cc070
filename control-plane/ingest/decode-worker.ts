import { parentPort, workerData } from 'node:worker_threads';
import type { SensorEvent } from '../../protocol/index.ts';
import { compileRules, DetectionEngine } from '../detection/index.ts';
import { prepareFrame } from './batch-decode.ts';
import type { DecodeRequest, DecodeWorkerData } from './decode-pool.ts';

/**
 * The ingest worker thread (decode-pool.ts): compiles the control plane's rules from their source
 * text, primes its file-profile cache, then answers each frame it is handed, in arrival order, with
 * prepareFrame's reply. It reads no store and writes nothing: the writer's thread keeps every
 * stateful step (the insert, correlation windows, alerts, acks).
 */
const data = workerData as DecodeWorkerData;
const engine = new DetectionEngine(compileRules(data.sources).set, { latenessMs: 0 });
if (engine.profiles) for (const row of data.certificates as SensorEvent[]) engine.profiles.observe(row);
const decoder = new TextDecoder();
const port = parentPort!;
port.on('message', (req: DecodeRequest) => {
  const text = decoder.decode(req.bytes);
  port.postMessage({ id: req.id, reply: prepareFrame(engine, text, req.agentId, req.os, data.maxEventsPerBatch) });
});
port.postMessage({ ready: true });

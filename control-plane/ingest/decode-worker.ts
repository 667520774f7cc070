import { parentPort, workerData } from 'node:worker_threads';
import type { SensorEvent } from '../../protocol/index.ts';
import { compileRules, DetectionEngine } from '../detection/index.ts';
import { prepareFrame, type DecodeReply } from './batch-decode.ts';
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
  let reply: DecodeReply | null;
  try {
    reply = prepareFrame(engine, decoder.decode(req.bytes), req.agentId, req.os, data.maxEventsPerBatch);
  } catch {
    // Never a reason to lose the worker: the main thread decodes this frame itself (and reports what it finds).
    reply = null;
  }
  port.postMessage({ id: req.id, reply });
});
port.postMessage({ ready: true });

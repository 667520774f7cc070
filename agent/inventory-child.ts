import { spawn } from 'node:child_process';
import { machineFactsOk, sqlInstanceOk, str } from './idle-decoder.ts';
import type { Inventory } from './inventory.ts';
import { parseSnapshotLines, type SoftwareSnapshot } from './software-rows.ts';

/**
 * The child's inventory checked by hand as InventorySchema (agent/inventory-schema.ts) checks it,
 * so the agent service loads no zod at each connect; a refused one goes to the schema for the reason.
 */
export function inventoryOk(d: unknown): d is Inventory {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  const o = d as Record<string, unknown>;
  return Object.keys(o).every((k) => k === 'machine' || k === 'sqlInstances' || k === 'notes') && machineFactsOk(o.machine)
    && Array.isArray(o.sqlInstances) && o.sqlInstances.length <= 64 && o.sqlInstances.every(sqlInstanceOk)
    && Array.isArray(o.notes) && o.notes.length <= 256 && o.notes.every((n) => str(n, 0, 4096));
}

export interface ChildInventoryOptions {
  /** Script that takes the inventory subcommand, e.g. bin/arcsim-agent.js. */
  entry: string;
  /** Arguments after the script: the subcommand and its options (`collect-inventory --config F ...`). */
  args: string[];
  /** Node binary (default: this process's). */
  execPath?: string;
  /** Node options before the script (default: none, as the service unit). */
  execArgv?: string[];
  /** Child killed (SIGKILL) and the inventory failed after this long, ms (default 60 s). */
  timeoutMs?: number;
  /** Most stdout kept; more fails the inventory, bytes (default 4 MiB). */
  maxOutputBytes?: number;
  env?: NodeJS.ProcessEnv;
}

export const CHILD_INVENTORY_DEFAULTS = { timeoutMs: 60_000, maxOutputBytes: 4 * 1024 * 1024 } as const;

/** What a failed child said: its error line(s) (`arcsim-agent: ...`, `Error: ...`) or else its last stderr lines. */
function tail(text: string, lines = 3): string {
  const all = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = all.filter((l) => /^arcsim-agent: |^(\w*Error|Error \[\w+\]):? /.test(l));
  const kept = (errors.length ? errors : all).slice(-lines).join(' | ');
  return kept.length > 1000 ? kept.slice(-1000) : kept;
}

/**
 * Takes the host inventory in a short-lived child process (`node <entry> <args>`) and returns it
 * validated, so the long-running process never loads systeminformation nor keeps the garbage of
 * parsing `ps`/`ss`/`lscpu` output. Rejects with a message naming the command and why it failed:
 * did not start, timed out, exited non-zero (with the end of its stderr), printed no JSON, or
 * printed facts the protocol refuses.
 */
export function runInventoryChild(o: ChildInventoryOptions): Promise<Inventory> {
  return runJsonChild(o, 'inventory child process', async (doc) => {
    if (inventoryOk(doc)) return doc;
    const { InventorySchema } = await import('./inventory-schema.ts');
    const r = InventorySchema.safeParse(doc);
    if (r.success) return r.data; // not expected: the hand check mirrors the schema
    const issue = r.error.issues[0]!;
    throw new Error(`printed an invalid inventory: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  });
}

/**
 * The installed software taken in a child process (`collect-software`), as runInventoryChild
 * takes the inventory: the service never loads the package readers (agent/software-inventory.ts).
 * The child prints the snapshot's digest and then one item per line; the header is checked now,
 * each item when its slice is asked for, and until then the items stay the bytes the child printed.
 */
export function runSoftwareChild(o: ChildInventoryOptions): Promise<SoftwareSnapshot> {
  return runChild(o, 'software child process', async (out) => {
    const snapshot = parseSnapshotLines(out);
    const items = snapshot.items;
    // A refused item names the command, as a refused header does.
    const what = `software child process (${[o.entry, ...o.args].join(' ')})`;
    return { ...snapshot, items: (from, n) => { try { return items(from, n); } catch (e) { throw new Error(`${what} ${(e as Error).message}`); } } };
  });
}

/** Runs `node <entry> <args>` and hands its one JSON document to `accept` (see runInventoryChild). */
function runJsonChild<T>(o: ChildInventoryOptions, label: string, accept: (doc: unknown) => Promise<T>): Promise<T> {
  return runChild(o, label, async (out) => {
    let doc: unknown;
    try {
      doc = JSON.parse(out.toString('utf8'));
    } catch (e) {
      throw new Error(`printed no valid JSON: ${(e as Error).message}`);
    }
    return accept(doc);
  });
}

/** Runs `node <entry> <args>` and hands what it printed to `accept` once it exited 0. */
function runChild<T>(o: ChildInventoryOptions, label: string, accept: (out: Buffer) => Promise<T>): Promise<T> {
  const timeoutMs = o.timeoutMs ?? CHILD_INVENTORY_DEFAULTS.timeoutMs;
  const maxOutput = o.maxOutputBytes ?? CHILD_INVENTORY_DEFAULTS.maxOutputBytes;
  const what = `${label} (${[o.entry, ...o.args].join(' ')})`;
  return new Promise((resolve, reject) => {
    const child = spawn(o.execPath ?? process.execPath, [...(o.execArgv ?? []), o.entry, ...o.args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: string | undefined;
    const fail = (why: string) => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      outBytes += c.length;
      if (outBytes > maxOutput) return fail(`printed more than ${maxOutput} bytes`);
      out.push(c);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      err += c;
      if (err.length > 64 * 1024) err = err.slice(-16 * 1024);
    });
    child.on('error', (e) => {
      failure ??= `could not start: ${e.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return reject(new Error(`${what} ${failure}`));
      if (code !== 0) {
        const stderr = tail(err);
        return reject(new Error(`${what} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${stderr ? `: ${stderr}` : ''}`));
      }
      accept(Buffer.concat(out)).then(resolve, (e: Error) => reject(new Error(`${what} ${e.message}`)));
    });
  });
}

/** A `softwareInventory.runner` that reads the installed software in a fresh child (see `runSoftwareChild`). */
export function childSoftwareRunner(o: ChildInventoryOptions): () => Promise<SoftwareSnapshot> {
  return () => runSoftwareChild(o);
}

/** An `AgentOptions.inventoryRunner` that takes every inventory in a fresh child (see `runInventoryChild`). */
export function childInventoryRunner(o: ChildInventoryOptions): () => Promise<Inventory> {
  return () => runInventoryChild(o);
}

import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { EXTENSIONS, isExtensionName, TABLE_SENSOR, type ExtensionName, type Sensor } from '../protocol/extensions.ts';
import type { SensorEvent, TableName } from '../protocol/events.ts';

export interface ExtensionState {
  name: string;
  publisher?: string;
  status: 'Succeeded' | 'Creating' | 'Deleting' | 'Failed' | 'Disabled';
}

const FILE = 'extensions.json';

/**
 * The extensions installed on this machine, as the control plane last set them, kept in the
 * state dir so an agent restarted while the control plane is away keeps its sensors as they were.
 */
export class Extensions {
  private states = new Map<string, ExtensionState>();

  constructor(private readonly stateDir: string) {
    try {
      const list = JSON.parse(readFileSync(join(stateDir, FILE), 'utf8')) as ExtensionState[];
      for (const e of list) if (isExtensionName(e.name)) this.states.set(e.name, e);
    } catch { /* none yet */ }
  }

  list(): ExtensionState[] {
    return [...this.states.values()];
  }

  /** Replaces the whole set (the control plane's `registered.extensions`). */
  replace(list: ExtensionState[]): void {
    this.states = new Map(list.filter((e) => isExtensionName(e.name)).map((e) => [e.name, e]));
    this.save();
  }

  set(name: ExtensionName, enabled: boolean): void {
    if (enabled) this.states.set(name, { name, publisher: EXTENSIONS[name].publisher, status: 'Succeeded' });
    else this.states.delete(name);
    this.save();
  }

  /** Sensors enabled by an extension in state Succeeded. */
  sensors(): Set<Sensor> {
    const out = new Set<Sensor>();
    for (const e of this.states.values()) if (e.status === 'Succeeded' && isExtensionName(e.name)) out.add(EXTENSIONS[e.name].sensor);
    return out;
  }

  /** Splits events into those a sensor collects and the per-table count of those none does. */
  filter(events: SensorEvent[]): { collected: SensorEvent[]; notCollected: Partial<Record<TableName, number>> } {
    const sensors = this.sensors();
    const collected: SensorEvent[] = [];
    const notCollected: Partial<Record<TableName, number>> = {};
    for (const e of events) {
      if (sensors.has(TABLE_SENSOR[e.Table])) collected.push(e);
      else notCollected[e.Table] = (notCollected[e.Table] ?? 0) + 1;
    }
    return { collected, notCollected };
  }

  private save(): void {
    const file = join(this.stateDir, FILE);
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(this.list(), null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }
}

import type { SensorEvent } from '../../../protocol/index.ts';
import type { Store, TimelineQuery } from '../../store/index.ts';

type Row = Record<string, unknown>;

/** A page of a machine's device timeline, newest first, and the cursor of the next (older) page. */
export async function timelinePage(store: Store, q: TimelineQuery): Promise<{ events: SensorEvent[]; older?: string }> {
  // One more than a page says whether an older page exists, without counting a million rows.
  const rows = await store.events.deviceTimeline({ ...q, limit: q.limit + 1 });
  const events = rows.slice(0, q.limit);
  const last = events.at(-1);
  return { events, older: rows.length > q.limit && last ? cursorOf(last) : undefined };
}

/** `<epoch ms>~<ReportId>`: where a page ended (strictly older rows come next). */
export const cursorOf = (e: SensorEvent): string => `${Date.parse(e.Timestamp)}~${e.ReportId}`;
export function parseCursor(v: string | undefined): { ts: number; reportId: string } | undefined {
  const m = /^(\d{1,16})~([0-9a-fA-F-]{36})$/.exec(v ?? '');
  return m ? { ts: Number(m[1]), reportId: m[2]! } : undefined;
}

/** The event `reportId` of this agent (the timeline's detail pane), if it is the agent's. */
export async function timelineEvent(store: Store, agentId: string, reportId: string): Promise<SensorEvent | undefined> {
  const [e] = await store.events.getEvents([reportId]);
  return e && e.DeviceId === agentId ? e : undefined;
}

/** One line about an event, as the MDE timeline's "Event" column: what ran, what was touched, who. */
export function eventSummary(e: SensorEvent): string {
  const r = e as unknown as Row;
  const s = (k: string) => (typeof r[k] === 'string' && r[k] !== '' ? (r[k] as string) : undefined);
  switch (e.Table) {
    case 'DeviceProcessEvents': return `${s('InitiatingProcessFileName') ?? '?'} created process ${s('FileName') ?? '?'}${s('ProcessCommandLine') ? `: ${s('ProcessCommandLine')}` : ''}`;
    case 'DeviceNetworkEvents': return `${s('InitiatingProcessFileName') ?? '?'} ${s('ActionType') ?? ''} ${s('RemoteIP') ?? ''}${r.RemotePort !== undefined ? `:${String(r.RemotePort)}` : ''}`.trim();
    case 'DeviceFileEvents': return `${s('InitiatingProcessFileName') ?? '?'} ${s('ActionType') ?? ''} ${s('FolderPath') ?? s('FileName') ?? ''}`.trim();
    case 'DeviceLogonEvents': return `${s('ActionType') ?? 'Logon'} ${s('AccountName') ?? ''}${s('RemoteIP') ? ` from ${s('RemoteIP')}` : ''}`.trim();
    case 'DeviceRegistryEvents': return `${s('ActionType') ?? ''} ${s('RegistryKey') ?? ''}${s('RegistryValueName') ? `\\${s('RegistryValueName')}` : ''}`.trim();
    default: return [s('ActionType'), s('FileName'), s('AccountName'), s('Statement'), s('RemoteIP')].filter(Boolean).join(' ') || e.Table;
  }
}

export interface ProcessNode {
  name: string;
  pid?: number;
  commandLine?: string;
  /** The event this node is (links to its detail), when it is one. */
  reportId?: string;
  selected?: boolean;
  children: ProcessNode[];
}

/**
 * The process tree of a process event, the way the MDE timeline draws it: the initiating
 * process's parent, the initiating process, this process (selected), and the processes this one
 * created on the machine within `windowMs` after it (its children, from DeviceProcessEvents).
 */
export async function processTree(store: Store, agentId: string, e: SensorEvent, windowMs = 3_600_000, maxChildren = 50): Promise<ProcessNode | undefined> {
  if (e.Table !== 'DeviceProcessEvents') return undefined;
  const r = e as unknown as Row;
  const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const str = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : undefined);
  const pid = num('ProcessId');
  const at = Date.parse(e.Timestamp);
  const children = pid === undefined ? [] : (await store.events.scanEvents({
    table: 'DeviceProcessEvents', from: at, to: at + windowMs, equals: [{ column: 'DeviceId', values: [agentId] }], limit: 2_000,
  })).filter((c) => (c as unknown as Row).InitiatingProcessId === pid && c.ReportId !== e.ReportId).slice(0, maxChildren).reverse();
  const self: ProcessNode = {
    name: str('FileName') ?? '?', pid, commandLine: str('ProcessCommandLine'), reportId: e.ReportId, selected: true,
    children: children.map((c) => {
      const cr = c as unknown as Row;
      return { name: String(cr.FileName ?? '?'), pid: typeof cr.ProcessId === 'number' ? cr.ProcessId : undefined, commandLine: typeof cr.ProcessCommandLine === 'string' ? cr.ProcessCommandLine : undefined, reportId: c.ReportId, children: [] };
    }),
  };
  const initiating: ProcessNode = { name: str('InitiatingProcessFileName') ?? '?', pid: num('InitiatingProcessId'), commandLine: str('InitiatingProcessCommandLine'), children: [self] };
  const parent = str('InitiatingProcessParentFileName');
  return parent ? { name: parent, pid: num('InitiatingProcessParentId'), children: [initiating] } : initiating;
}

import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { EventSchema, type SensorEvent } from '../../protocol/index.ts';
import type { WindowsRecord } from './windows-records.ts';

/**
 * Windows events (Sysmon 1, 3, 7, 11, 12, 13, 14, 22; Security 4624, 4625, 4688) -> the MDE row
 * a Defender for Endpoint sensor records for the same activity. Values are written the way MDE
 * writes them (full path in FolderPath with the name in FileName, lower-case hashes, registry
 * hives spelled out, logon types by name); Sigma field names reach these columns through the
 * detection field mapping, not here.
 */

const SYSMON = 'Microsoft-Windows-Sysmon/Operational';
const SECURITY = 'Security';

/** Channel and event id as one key, `Sysmon/1`, `Security/4624`: what unmapped counts are keyed by. */
export function recordKey(r: Pick<WindowsRecord, 'channel' | 'eventId'>): string {
  const ch = r.channel === SYSMON ? 'Sysmon' : r.channel || 'unknown-channel';
  return `${ch}/${r.eventId}`;
}

const str = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  const s = String(v);
  return s === '' || s === '-' ? undefined : s;
};

/** A number written in decimal or as Windows' `0x1a2c`. */
const num = (v: unknown): number | undefined => {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  const s = str(v);
  if (!s) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? Number(s) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
};

/** `C:\Windows\System32\cmd.exe` -> FileName `cmd.exe`, FolderPath the full path (as MDE fills it). */
function image(path: unknown, prefix: '' | 'InitiatingProcess'): Record<string, string> {
  const p = str(path);
  if (!p) return {};
  const name = p.slice(Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/')) + 1);
  return { [`${prefix}FolderPath`]: p, [`${prefix}FileName`]: name };
}

/** `DOMAIN\user` -> AccountDomain / AccountName (with a column prefix). */
function account(user: unknown, prefix: '' | 'InitiatingProcess'): Record<string, string> {
  const u = str(user);
  if (!u) return {};
  const i = u.indexOf('\\');
  return i < 0 ? { [`${prefix}AccountName`]: u } : { [`${prefix}AccountDomain`]: u.slice(0, i), [`${prefix}AccountName`]: u.slice(i + 1) };
}

/** Sysmon's `Hashes` (`MD5=..,SHA256=..,IMPHASH=..`) -> the MDE hash columns, lower-case. */
function hashes(v: unknown, prefix: '' | 'InitiatingProcess'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (str(v) ?? '').split(',')) {
    const [algo, value] = part.split('=') as [string, string | undefined];
    const column = { MD5: 'MD5', SHA1: 'SHA1', SHA256: 'SHA256' }[algo.trim().toUpperCase()];
    if (column && value) out[`${prefix}${column}`] = value.trim().toLowerCase();
  }
  return out;
}

/** Mandatory label SIDs of 4688 -> integrity level names. */
const INTEGRITY: Record<string, string> = { 'S-1-16-0': 'Untrusted', 'S-1-16-4096': 'Low', 'S-1-16-8192': 'Medium', 'S-1-16-8448': 'Medium', 'S-1-16-12288': 'High', 'S-1-16-16384': 'System' };
/** 4688 TokenElevationType message ids -> MDE's ProcessTokenElevation values. */
const ELEVATION: Record<string, string> = { '%%1936': 'TokenElevationTypeDefault', '%%1937': 'TokenElevationTypeFull', '%%1938': 'TokenElevationTypeLimited' };
/** Logon type numbers (4624/4625) -> the names MDE writes in LogonType. */
const LOGON_TYPES: Record<number, string> = {
  2: 'Interactive', 3: 'Network', 4: 'Batch', 5: 'Service', 7: 'Unlock', 8: 'NetworkCleartext', 9: 'NewCredentials',
  10: 'RemoteInteractive', 11: 'CachedInteractive', 12: 'CachedRemoteInteractive', 13: 'CachedUnlock',
};
/** 4625 Status / SubStatus codes -> FailureReason. */
const FAILURE_REASONS: Record<string, string> = {
  '0xc0000064': 'InvalidUserNameOrPassword', '0xc000006a': 'InvalidUserNameOrPassword', '0xc000006d': 'InvalidUserNameOrPassword',
  '0xc0000234': 'AccountLocked', '0xc0000072': 'AccountDisabled', '0xc0000193': 'AccountExpired', '0xc0000071': 'PasswordExpired',
  '0xc0000224': 'PasswordMustChange', '0xc000015b': 'UserLogonTypeNotGranted', '0xc000006f': 'LogonOutsideAllowedHours',
};

/** Sysmon's `HKLM\...` -> the hive names MDE writes (`HKEY_LOCAL_MACHINE\...`). */
export function mdeRegistryKey(key: string): string {
  const m = /^(HKLM|HKU|HKCU|HKCR|HKCC)(\\|$)/i.exec(key);
  if (!m) return key;
  const hive = {
    HKLM: 'HKEY_LOCAL_MACHINE', HKCU: 'HKEY_CURRENT_USER', HKCR: 'HKEY_CLASSES_ROOT', HKCC: 'HKEY_CURRENT_CONFIG',
    // MDE writes user hives as HKEY_CURRENT_USER\<SID>\... (Sysmon: HKU\<SID>\...).
    HKU: 'HKEY_CURRENT_USER',
  }[m[1]!.toUpperCase()]!;
  return hive + key.slice(m[1]!.length);
}

/** Sysmon's registry `Details` -> RegistryValueType / RegistryValueData. */
function registryValue(details: unknown): Record<string, string> {
  const d = str(details);
  if (d === undefined) return {};
  const dword = /^(DWORD|QWORD) \(0x([0-9a-f]+)(?:-0x([0-9a-f]+))?\)$/i.exec(d);
  if (dword) {
    const value = dword[3] ? BigInt(`0x${dword[2]}${dword[3]}`) : BigInt(`0x${dword[2]}`);
    return { RegistryValueType: dword[1]!.toUpperCase() === 'DWORD' ? 'Dword' : 'Qword', RegistryValueData: value.toString() };
  }
  if (d === 'Binary Data') return { RegistryValueType: 'Binary' };
  return { RegistryValueType: 'String', RegistryValueData: d };
}

/** The initiating process of a Sysmon event: Image, ProcessId, User. */
function sysmonInitiator(d: Record<string, unknown>): Record<string, unknown> {
  const pid = num(d.ProcessId);
  return { ...image(d.Image, 'InitiatingProcess'), ...(pid !== undefined ? { InitiatingProcessId: pid } : {}), ...account(d.User, 'InitiatingProcess') };
}

function compact(row: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(row)) if (row[k] === undefined) delete row[k];
  return row;
}

/**
 * Values MDE records in no column, kept in the row's AdditionalFields (an arcsim extension,
 * docs/detection.md): Sysmon's CurrentDirectory of a process, and the ParentImage /
 * ParentCommandLine of a network or file event when the recording was enriched with them.
 * Undefined when the record has none of them, so the field stays absent.
 */
function additionalFields(d: Record<string, unknown>, keys: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = str(d[k]);
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Sysmon 7's facts about the loaded module -> the DeviceFileCertificateInfo row MDE keeps per file
 * (IsSigned, Signer, IsTrusted: WinVerifyTrust's verdict, which Sysmon's SignatureStatus `Valid`
 * reports), plus in AdditionalFields (arcsim extension) what no column holds: Sysmon's own
 * SignatureStatus, the module's version information, and its SHA256 / MD5 when the recording has
 * no SHA1. Undefined when the event says nothing of the file or names no hash of it.
 */
function certificateRow(d: Record<string, unknown>): Record<string, unknown> | undefined {
  const h = hashes(d.Hashes, '');
  if (!h.SHA1 && !h.SHA256 && !h.MD5) return undefined;
  const signed = str(d.Signed)?.toLowerCase();
  const status = str(d.SignatureStatus);
  const more = additionalFields(d, ['SignatureStatus', 'OriginalFileName', 'Description', 'Product', 'Company']);
  if (signed === undefined && more === undefined) return undefined;
  return compact({
    Table: 'DeviceFileCertificateInfo', SHA1: h.SHA1,
    IsSigned: signed === 'true' ? true : signed === 'false' ? false : undefined,
    Signer: str(d.Signature),
    IsTrusted: status === undefined ? undefined : status.toLowerCase() === 'valid',
    AdditionalFields: additionalFields({ ...more, ...(h.SHA1 ? {} : { SHA256: h.SHA256, MD5: h.MD5 }) }, ['SignatureStatus', 'OriginalFileName', 'Description', 'Product', 'Company', 'SHA256', 'MD5']),
  });
}

/** One row's columns, or several (the first ones state facts the last, the event itself, relies on). */
type Mapper = (d: Record<string, unknown>) => Record<string, unknown> | Array<Record<string, unknown>> | undefined;

const SYSMON_MAPPERS: Record<number, Mapper> = {
  // Process creation.
  1: (d) => compact({
    Table: 'DeviceProcessEvents', ActionType: 'ProcessCreated',
    ...image(d.Image, ''), ProcessCommandLine: str(d.CommandLine), ProcessId: num(d.ProcessId),
    ...hashes(d.Hashes, ''), ProcessIntegrityLevel: str(d.IntegrityLevel), ...account(d.User, ''), LogonId: num(d.LogonId),
    ProcessVersionInfoOriginalFileName: str(d.OriginalFileName), ProcessVersionInfoFileDescription: str(d.Description),
    ProcessVersionInfoProductName: str(d.Product), ProcessVersionInfoCompanyName: str(d.Company),
    CreatedProcessSessionId: num(d.TerminalSessionId), AdditionalFields: additionalFields(d, ['CurrentDirectory']),
    ...image(d.ParentImage, 'InitiatingProcess'), InitiatingProcessCommandLine: str(d.ParentCommandLine),
    InitiatingProcessId: num(d.ParentProcessId), ...account(d.ParentUser, 'InitiatingProcess'),
  }),
  // Network connection: Sysmon's Source is the side that initiated it.
  3: (d) => {
    const outbound = String(d.Initiated).toLowerCase() !== 'false';
    const [local, remote] = outbound ? ['Source', 'Destination'] : ['Destination', 'Source'];
    const protocol = str(d.Protocol);
    return compact({
      Table: 'DeviceNetworkEvents', ActionType: outbound ? 'ConnectionSuccess' : 'InboundConnectionAccepted',
      LocalIP: str(d[`${local}Ip`]), LocalPort: num(d[`${local}Port`]), RemoteIP: str(d[`${remote}Ip`]), RemotePort: num(d[`${remote}Port`]),
      RemoteUrl: str(d[`${remote}Hostname`]),
      Protocol: protocol ? protocol[0]!.toUpperCase() + protocol.slice(1).toLowerCase() : undefined,
      ...sysmonInitiator(d), AdditionalFields: additionalFields(d, ['ParentImage', 'ParentCommandLine']),
    });
  },
  // Image loaded: the module's certificate row first (its profile), then the load.
  7: (d) => {
    const load = compact({ Table: 'DeviceImageLoadEvents', ActionType: 'ImageLoaded', ...image(d.ImageLoaded, ''), ...hashes(d.Hashes, ''), ...sysmonInitiator(d) });
    const cert = certificateRow(d);
    return cert ? [cert, load] : load;
  },
  // File created.
  11: (d) => compact({
    Table: 'DeviceFileEvents', ActionType: 'FileCreated', ...image(d.TargetFilename, ''), ...sysmonInitiator(d),
    AdditionalFields: additionalFields(d, ['ParentImage', 'ParentCommandLine']),
  }),
  // Registry key or value created / deleted.
  12: (d) => {
    const target = str(d.TargetObject);
    if (!target) return undefined;
    const key = mdeRegistryKey(target);
    const type = String(d.EventType ?? '');
    if (/value/i.test(type)) {
      const i = key.lastIndexOf('\\');
      return compact({
        Table: 'DeviceRegistryEvents', ActionType: /delete/i.test(type) ? 'RegistryValueDeleted' : 'RegistryValueSet',
        RegistryKey: key.slice(0, i), RegistryValueName: key.slice(i + 1), ...sysmonInitiator(d),
      });
    }
    return compact({ Table: 'DeviceRegistryEvents', ActionType: /delete/i.test(type) ? 'RegistryKeyDeleted' : 'RegistryKeyCreated', RegistryKey: key, ...sysmonInitiator(d) });
  },
  // Registry value set.
  13: (d) => {
    const target = str(d.TargetObject);
    if (!target) return undefined;
    const key = mdeRegistryKey(target);
    const i = key.lastIndexOf('\\');
    return compact({
      Table: 'DeviceRegistryEvents', ActionType: 'RegistryValueSet',
      RegistryKey: key.slice(0, i), RegistryValueName: key.slice(i + 1), ...registryValue(d.Details), ...sysmonInitiator(d),
    });
  },
  // Registry key renamed.
  14: (d) => {
    const target = str(d.TargetObject);
    if (!target) return undefined;
    const renamed = str(d.NewName);
    return compact({
      Table: 'DeviceRegistryEvents', ActionType: 'RegistryKeyRenamed',
      PreviousRegistryKey: mdeRegistryKey(target), RegistryKey: renamed ? mdeRegistryKey(renamed) : undefined, ...sysmonInitiator(d),
    });
  },
  // DNS query: DeviceEvents DnsQueryResponse, query and answer in AdditionalFields.
  22: (d) => compact({
    Table: 'DeviceEvents', ActionType: 'DnsQueryResponse', RemoteUrl: str(d.QueryName),
    AdditionalFields: compact({ DnsQueryString: str(d.QueryName), DnsQueryResult: str(d.QueryResults), DnsQueryStatus: str(d.QueryStatus) }),
    ...sysmonInitiator(d),
  }),
};

function logon(d: Record<string, unknown>, success: boolean): Record<string, unknown> {
  const status = (str(d.SubStatus) && str(d.SubStatus) !== '0x0' ? str(d.SubStatus) : str(d.Status))?.toLowerCase();
  const type = num(d.LogonType);
  const port = num(d.IpPort);
  const pid = num(d.ProcessId);
  return compact({
    Table: 'DeviceLogonEvents', ActionType: success ? 'LogonSuccess' : 'LogonFailed',
    AccountName: str(d.TargetUserName), AccountDomain: str(d.TargetDomainName), AccountSid: str(d.TargetUserSid),
    LogonType: type !== undefined ? (LOGON_TYPES[type] ?? String(type)) : undefined,
    Protocol: str(d.AuthenticationPackageName), RemoteIP: str(d.IpAddress), RemotePort: port ? port : undefined,
    RemoteDeviceName: str(d.WorkstationName), LogonId: success ? num(d.TargetLogonId) : undefined,
    FailureReason: success ? undefined : (status ? (FAILURE_REASONS[status] ?? status) : undefined),
    ...image(d.ProcessName, 'InitiatingProcess'), ...(pid ? { InitiatingProcessId: pid } : {}),
  });
}

const SECURITY_MAPPERS: Record<number, Mapper> = {
  4624: (d) => logon(d, true),
  4625: (d) => logon(d, false),
  // A process has been created (with command-line auditing, CommandLine is filled).
  4688: (d) => compact({
    Table: 'DeviceProcessEvents', ActionType: 'ProcessCreated',
    ...image(d.NewProcessName, ''), ProcessCommandLine: str(d.CommandLine), ProcessId: num(d.NewProcessId),
    ProcessIntegrityLevel: INTEGRITY[String(d.MandatoryLabel)], ProcessTokenElevation: ELEVATION[String(d.TokenElevationType)],
    AccountName: str(d.TargetUserName) ?? str(d.SubjectUserName), AccountDomain: str(d.TargetDomainName) ?? str(d.SubjectDomainName),
    LogonId: num(d.TargetLogonId) || num(d.SubjectLogonId),
    ...image(d.ParentProcessName, 'InitiatingProcess'), InitiatingProcessId: num(d.ProcessId),
    InitiatingProcessAccountName: str(d.SubjectUserName), InitiatingProcessAccountDomain: str(d.SubjectDomainName),
    InitiatingProcessAccountSid: str(d.SubjectUserSid),
  }),
};

/** The mappable (channel, event id) pairs, for docs and summaries. */
export const MAPPED_KEYS: readonly string[] = [
  ...Object.keys(SYSMON_MAPPERS).map((id) => `Sysmon/${id}`),
  ...Object.keys(SECURITY_MAPPERS).map((id) => `Security/${id}`),
];

export interface MapOptions {
  /** Source of ReportId randomness (injectable for tests). */
  random?: (n: number) => Uint8Array;
}

/** MDE's DeviceId is a 40-hex id; here it is derived from the computer name, so one host keeps one id. */
export function deviceIdOf(computer: string): string {
  return createHash('sha1').update(computer.toLowerCase()).digest('hex');
}

/**
 * The MDE rows for one Windows event (one row; for Sysmon 7 also the module's
 * DeviceFileCertificateInfo row, first), or undefined when arcsim does not map that channel and
 * event id (the caller counts those). A mapped row that fails the schema is an error naming why.
 */
export function toMdeRows(r: WindowsRecord, o: MapOptions = {}): { rows: SensorEvent[] } | { unmapped: string } | { invalid: string } {
  const mapper = r.channel === SYSMON ? SYSMON_MAPPERS[r.eventId] : r.channel === SECURITY ? SECURITY_MAPPERS[r.eventId] : undefined;
  if (!mapper) return { unmapped: recordKey(r) };
  const mapped = mapper(r.data);
  if (!mapped) return { invalid: `${recordKey(r)}: a field the mapping needs is missing` };
  const computer = r.computer || 'unknown-host';
  const time = Date.parse(r.time);
  const random = o.random ?? ((n: number) => randomBytes(n));
  const rows: SensorEvent[] = [];
  for (const columns of Array.isArray(mapped) ? mapped : [mapped]) {
    const bytes = Uint8Array.from(random(16));
    bytes[15] = (bytes[15]! + rows.length) & 0xff; // rows of one record never share a ReportId
    const row = {
      Table: columns.Table, Timestamp: r.time, DeviceId: deviceIdOf(computer), DeviceName: computer.toLowerCase(),
      ...(columns.ActionType !== undefined ? { ActionType: columns.ActionType } : {}), ReportId: uuidv7({ msecs: time, random: bytes }), ...columns,
    };
    const parsed = EventSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { invalid: `${recordKey(r)}: ${issue.path.join('.')}: ${issue.message}` };
    }
    rows.push(parsed.data);
  }
  return { rows };
}

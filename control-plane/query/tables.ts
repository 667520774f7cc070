import { COLUMN_TYPES, TABLE_COLUMN_NAMES, TABLE_NAMES, type SensorEvent } from '../../protocol/index.ts';
import type { AlertRow, EventScan, IncidentRow, Store } from '../store/index.ts';
import { toMdcAlert } from '../alerts/mdc-alert.ts';
import { toArcMachine, toArcSqlInstance } from '../api/arc-machine.ts';
import { arcClusters, toConnectedCluster } from '../inventory/clusters.ts';
import { RECOMMENDATION_BY_KEY } from '../inventory/recommendations.ts';
import { currentSoftware, findVulnerabilities } from '../vulnerabilities/index.ts';
import type { Pushdown, TableSource } from './engine.ts';
import { parseDatetime, type Column, type KqlType, type Row, type Value } from './values.ts';

/**
 * The tables a query reads, from the store:
 * - the MDE device tables (DeviceProcessEvents ... DeviceInfo, DeviceNetworkInfo; SqlEvents is
 *   arcsim's own) from the stored events, with the leading `where`s on Timestamp, DeviceId,
 *   DeviceName and ActionType pushed into SQL;
 * - AlertInfo / AlertEvidence (Defender XDR advanced hunting schema), SecurityAlert /
 *   SecurityIncident (Log Analytics / Sentinel schema), built from the stored alerts and incidents;
 * - DeviceTvmSoftwareInventory: each device's latest complete software snapshot (a state table);
 *   DeviceTvmSoftwareVulnerabilities: those snapshots matched against the stored OSV advisories;
 * - securityresources / resources (Azure Resource Graph rows: `id`, `name`, `type` in lower case,
 *   `location`, `resourceGroup`, `subscriptionId`, `properties`, ...): MDC alerts, assessments,
 *   Arc machines, Arc SQL Server instances, Arc-enabled Kubernetes clusters, security connectors.
 */

export interface TableLimits {
  /** Rows one scan of an event table reads at most, newest time range first as filtered. */
  maxScanRows: number;
}

const TYPE_OF: Record<string, KqlType> = { string: 'string', long: 'long', int: 'int', datetime: 'datetime', bool: 'bool', json: 'dynamic' };

function eventColumns(table: string): Column[] {
  const own = (TABLE_COLUMN_NAMES as Record<string, readonly string[]>)[table]!;
  const names = ['Timestamp', 'DeviceId', 'DeviceName', ...own.filter((c) => c === 'ActionType'), ...own.filter((c) => c !== 'ActionType'), 'ReportId', 'DetonationId'];
  return names.map((n) => ({ name: n, type: n === 'ReportId' || n === 'DetonationId' ? 'string' : TYPE_OF[(COLUMN_TYPES as Record<string, string>)[n]!]! }));
}

const col = (spec: string): Column[] => spec.split(',').map((p) => { const [name, type] = p.trim().split(':'); return { name: name!, type: (type ?? 'string') as KqlType }; });

/** Defender XDR AlertInfo (learn.microsoft.com/defender-xdr/advanced-hunting-alertinfo-table). */
const ALERT_INFO = col('Timestamp:datetime, AlertId, Title, Category, Severity, ServiceSource, DetectionSource, AttackTechniques');
/** Defender XDR AlertEvidence (advanced-hunting-alertevidence-table), the columns arcsim can fill. */
const ALERT_EVIDENCE = col(`Timestamp:datetime, AlertId, Title, Categories, AttackTechniques, ServiceSource, DetectionSource, EntityType, EvidenceRole,
  EvidenceDirection, FileName, FolderPath, SHA1, SHA256, FileSize:long, ThreatFamily, RemoteIP, RemoteUrl, AccountName, AccountDomain, AccountSid,
  AccountObjectId, AccountUpn, DeviceId, DeviceName, LocalIP, NetworkMessageId, EmailSubject, ApplicationId:long, Application, ProcessCommandLine,
  AdditionalFields:dynamic, RegistryKey, RegistryValueName, RegistryValueData, Severity`);
/** Log Analytics SecurityAlert (learn.microsoft.com/azure/azure-monitor/reference/tables/securityalert). */
const SECURITY_ALERT = col(`TimeGenerated:datetime, AlertLink, AlertName, AlertSeverity, AlertType, CompromisedEntity, ConfidenceLevel, ConfidenceScore:real,
  Description, DisplayName, EndTime:datetime, Entities, ExtendedLinks, ExtendedProperties, IsIncident:bool, ProcessingEndTime:datetime,
  ProductComponentName, ProductName, ProviderName, RemediationSteps, ResourceId, SourceComputerId, StartTime:datetime, Status, SubTechniques,
  SystemAlertId, Tactics, Techniques, Type, VendorName, VendorOriginalId, WorkspaceResourceGroup, WorkspaceSubscriptionId, TenantId, SourceSystem`);
/** Log Analytics SecurityIncident (azure-monitor/reference/tables/securityincident). */
const SECURITY_INCIDENT = col(`TimeGenerated:datetime, IncidentName, Title, Description, Severity, Status, Classification, ClassificationComment,
  ClassificationReason, Owner:dynamic, ProviderName, ProviderIncidentId, FirstActivityTime:datetime, LastActivityTime:datetime,
  FirstModifiedTime:datetime, LastModifiedTime:datetime, CreatedTime:datetime, ClosedTime:datetime, IncidentNumber:int,
  RelatedAnalyticRuleIds:dynamic, AlertIds:dynamic, BookmarkIds:dynamic, Comments:dynamic, Tasks:dynamic, Labels:dynamic, IncidentUrl,
  AdditionalData:dynamic, ModifiedBy, SourceSystem, TenantId, Type`);
/** Defender XDR DeviceTvmSoftwareVulnerabilities (advanced-hunting-devicetvmsoftwarevulnerabilities-table), computed from OSV feeds. */
const TVM_VULNERABILITIES = col(`DeviceId, DeviceName, OSPlatform, OSVersion, OSArchitecture, SoftwareVendor, SoftwareName, SoftwareVersion, CveId,
  VulnerabilitySeverityLevel, RecommendedSecurityUpdate, RecommendedSecurityUpdateId, CveTags:dynamic`);
/** Azure Resource Graph's columns of the resources and securityresources tables. */
const ARG = col(`id, name, type, tenantId, kind, location, resourceGroup, subscriptionId, managedBy, sku:dynamic, plan:dynamic, properties:dynamic,
  tags:dynamic, identity:dynamic, zones:dynamic, extendedLocation:dynamic`);

const STATIC_TABLES: Record<string, Column[]> = {
  AlertInfo: ALERT_INFO, AlertEvidence: ALERT_EVIDENCE, SecurityAlert: SECURITY_ALERT, SecurityIncident: SECURITY_INCIDENT,
  securityresources: ARG, resources: ARG, DeviceTvmSoftwareVulnerabilities: TVM_VULNERABILITIES,
};

/** Agent tables that hold state, not events: a query sees each device's latest complete snapshot only. */
const SNAPSHOT_TABLES = new Set(['DeviceTvmSoftwareInventory']);

export interface StoreTablesOptions {
  store: Store;
  baseUrl(): string;
  limits: TableLimits;
  /** The tenant id the ARG and Log Analytics rows carry. */
  tenantId?: string;
}

const iso = (ms: number) => new Date(ms);

/** Maps the engine's pushdown onto the store's event scan (the rest is filtered by the engine). */
export function eventScan(table: string, pushdown: Pushdown[], limit: number): EventScan {
  const scan: EventScan = { table, limit };
  const equals: NonNullable<EventScan['equals']> = [];
  for (const p of pushdown) {
    if (p.column === 'Timestamp') {
      const ms = p.value instanceof Date ? p.value.getTime() : typeof p.value === 'string' ? parseDatetime(p.value)?.getTime() : undefined;
      if (ms === undefined) continue;
      if (p.op === '>' || p.op === '>=') scan.from = Math.max(scan.from ?? -Infinity, ms);
      else if (p.op === '<' || p.op === '<=') scan.to = Math.min(scan.to ?? Infinity, ms);
      else if (p.op === '==') { scan.from = Math.max(scan.from ?? -Infinity, ms); scan.to = Math.min(scan.to ?? Infinity, ms); }
    } else if (p.column === 'DeviceId' || p.column === 'DeviceName' || p.column === 'ActionType') {
      if (p.op === '==' && typeof p.value === 'string') equals.push({ column: p.column, values: [p.value] });
      else if (p.op === 'in' && Array.isArray(p.value) && p.value.every((v) => typeof v === 'string')) equals.push({ column: p.column, values: p.value as string[] });
    }
  }
  if (equals.length) scan.equals = equals;
  // has / contains / startswith / == / =~ on a string column imply the column contains the text
  // (ignoring case); only printable ASCII, the case SQLite's LIKE folds.
  const strings = new Set(eventColumns(table).filter((c) => c.type === 'string').map((c) => c.name));
  const contains = pushdown.filter((p) => ['has', 'contains', 'startswith', '=~', '=='].includes(p.op) && strings.has(p.column) && typeof p.value === 'string' && /^[\x20-\x7e]+$/.test(p.value))
    .map((p) => ({ column: p.column, text: p.value as string }));
  if (contains.length) scan.contains = contains;
  return scan;
}

/** Every table a query can name, with its columns (the hunting page's schema pane and the editor's completion). */
export function tableSchemas(): Array<{ table: string; columns: Column[] }> {
  return [...TABLE_NAMES, ...Object.keys(STATIC_TABLES)].map((t) => ({ table: t, columns: (TABLE_NAMES as string[]).includes(t) ? eventColumns(t) : STATIC_TABLES[t]! }));
}

/** A TableSource over the store; per query (it caches the alert-derived tables for the query's life). */
export class StoreTables implements TableSource {
  /** True when a scan hit `maxScanRows` (the result is then flagged truncated). */
  scanCapped = false;
  private cache = new Map<string, Promise<Row[]>>();

  constructor(private readonly o: StoreTablesOptions) {}

  schema(name: string): Column[] | undefined {
    if ((TABLE_NAMES as string[]).includes(name)) return eventColumns(name);
    // Own keys only: a query naming `toString` or `__proto__` names no table (was a TypeError, a 500).
    return Object.hasOwn(STATIC_TABLES, name) ? STATIC_TABLES[name] : undefined;
  }

  tableNames(): string[] { return [...TABLE_NAMES, ...Object.keys(STATIC_TABLES)]; }

  async rows(name: string, pushdown: Pushdown[]): Promise<Row[]> {
    if (SNAPSHOT_TABLES.has(name)) {
      const cols = eventColumns(name);
      return (await currentSoftware(this.o.store, await this.o.store.machines.listMachines())).map((e) => eventRow(e, cols));
    }
    if ((TABLE_NAMES as string[]).includes(name)) {
      const limit = this.o.limits.maxScanRows;
      const events = await this.o.store.events.scanEvents(eventScan(name, pushdown, limit + 1));
      if (events.length > limit) { this.scanCapped = true; events.length = limit; }
      const cols = eventColumns(name);
      return events.map((e) => eventRow(e, cols));
    }
    let p = this.cache.get(name);
    if (!p) { p = this.build(name); this.cache.set(name, p); }
    return p;
  }

  private async build(name: string): Promise<Row[]> {
    const { store } = this.o;
    switch (name) {
      case 'AlertInfo': return (await this.alerts()).map((a) => alertInfo(a));
      case 'AlertEvidence': return this.alertEvidence();
      case 'SecurityAlert': return Promise.all((await this.alerts()).map((a) => this.securityAlert(a)));
      case 'SecurityIncident': return Promise.all((await store.incidents.listIncidents()).map((i) => this.securityIncident(i)));
      case 'securityresources': return this.securityResources();
      case 'resources': return this.resources();
      case 'DeviceTvmSoftwareVulnerabilities':
        return (await findVulnerabilities(store, await store.machines.listMachines())).map((r) => ({ ...r, CveTags: r.CveTags }));
      default: return [];
    }
  }

  private alerts(): Promise<AlertRow[]> { return this.o.store.alerts.listAlerts(); }

  private async alertEvidence(): Promise<Row[]> {
    const rows: Row[] = [];
    const machines = new Map((await this.o.store.machines.listMachines()).map((m) => [m.agentId, m]));
    for (const a of await this.alerts()) {
      const base = alertInfo(a);
      const common = { ...blank(ALERT_EVIDENCE), Timestamp: base.Timestamp!, AlertId: a.systemAlertId, Title: base.Title!, Categories: JSON.stringify([base.Category]), AttackTechniques: base.AttackTechniques!, ServiceSource: base.ServiceSource!, DetectionSource: base.DetectionSource!, Severity: base.Severity! };
      const m = machines.get(a.agentId);
      rows.push({ ...common, EntityType: 'Machine', EvidenceRole: 'Impacted', DeviceId: a.agentId, DeviceName: m?.name ?? String((a.properties as Record<string, unknown>).compromisedEntity ?? '') });
      const links = await this.o.store.alerts.alertEvents(a.systemAlertId);
      const events = await this.o.store.events.getEvents(links.map((l) => l.reportId).slice(0, 50));
      for (const e of events) {
        const ev = e as unknown as Record<string, unknown>;
        const s = (k: string) => (typeof ev[k] === 'string' ? ev[k] as string : '');
        if (s('ProcessCommandLine') || s('FileName')) {
          rows.push({ ...common, EntityType: s('ProcessCommandLine') ? 'Process' : 'File', EvidenceRole: 'Impacted', DeviceId: e.DeviceId, DeviceName: e.DeviceName, FileName: s('FileName'), FolderPath: s('FolderPath'), SHA1: s('SHA1'), SHA256: s('SHA256'), ProcessCommandLine: s('ProcessCommandLine'), AccountName: s('AccountName'), AccountDomain: s('AccountDomain'), AccountSid: s('AccountSid') });
        }
        if (s('RemoteIP')) rows.push({ ...common, EntityType: 'Ip', EvidenceRole: 'Related', RemoteIP: s('RemoteIP'), DeviceId: e.DeviceId, DeviceName: e.DeviceName });
      }
    }
    return rows;
  }

  private async securityAlert(a: AlertRow): Promise<Row> {
    const mdc = toMdcAlert(a, this.o.baseUrl()) as { properties: Record<string, unknown> };
    const p = mdc.properties;
    const json = (v: unknown) => JSON.stringify(v ?? []);
    return {
      TimeGenerated: iso(a.timeGenerated), AlertLink: String(p.alertUri ?? ''), AlertName: String(p.alertDisplayName ?? ''), AlertSeverity: a.severity,
      AlertType: a.alertType, CompromisedEntity: String(p.compromisedEntity ?? ''), ConfidenceLevel: '', ConfidenceScore: null,
      Description: String(p.description ?? ''), DisplayName: String(p.alertDisplayName ?? ''), EndTime: iso(a.endTime), Entities: json(p.entities),
      ExtendedLinks: json(p.extendedLinks), ExtendedProperties: json(p.extendedProperties), IsIncident: false, ProcessingEndTime: iso(a.updatedAt),
      ProductComponentName: String(p.productComponentName ?? ''), ProductName: String(p.productName ?? ''), ProviderName: 'ASI Scheduled Alerts',
      RemediationSteps: json(p.remediationSteps), ResourceId: a.resourceId, SourceComputerId: a.agentId, StartTime: iso(a.startTime), Status: a.status === 'Active' ? 'New' : a.status,
      SubTechniques: json(p.subTechniques), SystemAlertId: a.systemAlertId, Tactics: String(p.intent ?? ''), Techniques: json(p.techniques), Type: 'SecurityAlert',
      VendorName: 'Microsoft', VendorOriginalId: a.systemAlertId, WorkspaceResourceGroup: '', WorkspaceSubscriptionId: '', TenantId: this.o.tenantId ?? '', SourceSystem: 'Detection',
    };
  }

  private async securityIncident(i: IncidentRow): Promise<Row> {
    const alertIds = await this.o.store.incidents.incidentAlertIds(i.incidentId);
    const status = i.sentinelStatus ?? i.status;
    const closed = status === 'Resolved' || status === 'Dismissed';
    return {
      TimeGenerated: iso(i.updatedAt), IncidentName: i.incidentId, Title: i.title, Description: '', Severity: i.severity,
      Status: closed ? 'Closed' : status === 'InProgress' ? 'Active' : 'New', Classification: '', ClassificationComment: '', ClassificationReason: '',
      Owner: { objectId: null, email: null, assignedTo: null, userPrincipalName: null }, ProviderName: 'Azure Sentinel', ProviderIncidentId: i.incidentId,
      FirstActivityTime: iso(i.firstActivity), LastActivityTime: iso(i.lastActivity), FirstModifiedTime: iso(i.createdAt), LastModifiedTime: iso(i.updatedAt),
      CreatedTime: iso(i.createdAt), ClosedTime: closed ? iso(i.updatedAt) : null, IncidentNumber: null, RelatedAnalyticRuleIds: [], AlertIds: alertIds,
      BookmarkIds: [], Comments: [], Tasks: [], Labels: i.redirectedTo ? [{ labelName: 'Redirected', labelType: 'System' }] : [],
      IncidentUrl: `${this.o.baseUrl()}/portal/incidents/${i.incidentId}`, AdditionalData: { alertsCount: alertIds.length }, ModifiedBy: 'arcsim',
      SourceSystem: 'Azure', TenantId: this.o.tenantId ?? '', Type: 'SecurityIncident',
    };
  }

  private async securityResources(): Promise<Row[]> {
    const rows: Row[] = [];
    for (const a of await this.alerts()) rows.push(argRow(toMdcAlert(a, this.o.baseUrl()), this.o.tenantId));
    for (const r of await this.o.store.inventory.listAssessments()) {
      const rec = RECOMMENDATION_BY_KEY.get(r.assessmentKey);
      const id = `${r.resourceId}/providers/Microsoft.Security/assessments/${r.assessmentKey}`;
      rows.push(argRow({
        id, name: r.assessmentKey, type: 'Microsoft.Security/assessments',
        properties: {
          resourceDetails: { Source: 'Azure', Id: r.resourceId }, displayName: rec?.displayName ?? r.assessmentKey,
          status: { code: r.status, firstEvaluationDate: new Date(r.firstSeen).toISOString(), statusChangeDate: new Date(r.statusChanged).toISOString() },
          metadata: { displayName: rec?.displayName, severity: rec?.severity, remediationDescription: rec?.remediation }, additionalData: r.details,
        },
      }, this.o.tenantId, r.subscription));
    }
    for (const c of await this.o.store.inventory.listConnectors()) {
      rows.push(argRow({
        id: `/subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}/providers/Microsoft.Security/securityConnectors/${c.name}`,
        name: c.name, type: 'Microsoft.Security/securityConnectors', location: c.location,
        properties: { hierarchyIdentifier: c.accountId, environmentName: c.provider, environmentData: { environmentType: c.provider === 'AWS' ? 'AwsAccount' : 'GcpProject' }, offerings: [] },
      }, this.o.tenantId));
    }
    return rows;
  }

  private async resources(): Promise<Row[]> {
    const rows: Row[] = [];
    const machines = await this.o.store.machines.listMachines();
    const locations = new Map<string, string>();
    for (const m of machines) {
      const location = (await this.o.store.agents.getAgent(m.agentId))?.location ?? 'eastus';
      locations.set(m.agentId, location);
      rows.push(argRow(toArcMachine(m, location) as unknown as Record<string, unknown>, this.o.tenantId));
      for (const s of m.sqlInstances) rows.push(argRow(toArcSqlInstance(m, s, location) as unknown as Record<string, unknown>, this.o.tenantId));
    }
    // Arc-enabled Kubernetes clusters (Microsoft.Kubernetes/connectedClusters), from their nodes' machines.
    for (const c of arcClusters(machines)) {
      const { arcsim: _, ...cluster } = toConnectedCluster(c, locations.get(c.nodes[0]!.agentId) ?? 'eastus');
      rows.push(argRow(cluster as unknown as Record<string, unknown>, this.o.tenantId));
    }
    return rows;
  }
}

function blank(cols: Column[]): Row {
  const r: Row = {};
  for (const c of cols) r[c.name] = c.type === 'string' ? '' : null;
  return r;
}

function alertInfo(a: AlertRow): Row {
  const p = a.properties as Record<string, unknown>;
  const techniques = Array.isArray(p.techniques) ? p.techniques as string[] : [];
  return {
    Timestamp: iso(a.timeGenerated), AlertId: a.systemAlertId, Title: String(p.alertDisplayName ?? a.alertType), Category: String(p.intent ?? ''),
    Severity: a.severity, ServiceSource: p.detectingProduct === 'MDE' ? 'Microsoft Defender for Endpoint' : 'Microsoft Defender for Cloud',
    DetectionSource: p.detectingProduct === 'MDE' ? 'EDR' : 'Microsoft Defender for Cloud', AttackTechniques: JSON.stringify(techniques),
  };
}

/** An ARM resource as Azure Resource Graph returns it: `type` in lower case, ids split out. */
function argRow(r: Record<string, unknown>, tenantId: string | undefined, subscription?: string): Row {
  const id = String(r.id ?? '');
  const sub = subscription ?? /\/subscriptions\/([^/]+)/i.exec(id)?.[1] ?? '';
  const rg = /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';
  return {
    id, name: String(r.name ?? ''), type: String(r.type ?? '').toLowerCase(), tenantId: tenantId ?? '', kind: '', location: String(r.location ?? (/\/locations\/([^/]+)/i.exec(id)?.[1] ?? '')),
    resourceGroup: rg.toLowerCase(), subscriptionId: sub, managedBy: '', sku: null, plan: null, properties: (r.properties ?? {}) as Value,
    tags: (r.tags ?? {}) as Value, identity: (r.identity ?? null) as Value, zones: null, extendedLocation: null,
  };
}

function eventRow(e: SensorEvent, cols: Column[]): Row {
  const src = e as unknown as Record<string, unknown>;
  const out: Row = {};
  for (const c of cols) {
    const v = src[c.name];
    if (v === undefined || v === null) { out[c.name] = c.type === 'string' ? '' : null; continue; }
    if (c.type === 'datetime') out[c.name] = typeof v === 'string' ? parseDatetime(v) ?? null : null;
    else out[c.name] = v as Value;
  }
  return out;
}


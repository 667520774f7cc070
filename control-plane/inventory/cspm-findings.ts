import { z } from 'zod';
import type { AlertRow, AgentRow, ConnectorRow, MachineRow, StoreTx } from '../store/index.ts';
import type { AlertMapping, RuleSet } from '../detection/rule-loader.ts';
import { dedupKeyOf, type UpsertResult } from '../alerts/alert-deduper.ts';
import { protocolError } from '../../protocol/errors.ts';
import { INSTANCE_KINDS } from './asset-merge.ts';

/**
 * The CSPM-side detection path: agentless findings a connector reports about one of its
 * instances (e.g. agentless scanning), each mapped to an alert type. A finding is folded into the
 * alert the agent raised on the same asset when the dedup key matches (alert type + asset + the
 * rule's dedup fields, read from `fields`), so one detection reaching the control plane by two
 * paths is one alert listing both detection sources.
 */
export const FindingsBodySchema = z.strictObject({
  findings: z.array(z.strictObject({
    /** Instance id (EC2 `i-…`, GCE numeric id) or instance name. */
    resource: z.string().min(1).max(256),
    alertType: z.string().min(1).max(256),
    time: z.iso.datetime({ offset: true }),
    /** Values of the rule's dedup fields (e.g. RemoteIP), and other evidence. */
    fields: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** Needed when no rule maps the alert type. */
    alertDisplayName: z.string().max(512).optional(),
    severity: z.enum(['Informational', 'Low', 'Medium', 'High']).optional(),
    description: z.string().max(4096).optional(),
  })).min(1).max(1000),
});
export type FindingsBody = z.infer<typeof FindingsBodySchema>;

/** The mapping of an alert type, from the loaded rules. */
export function mappingOf(rules: RuleSet, alertType: string): AlertMapping | undefined {
  return [...rules.detections, ...rules.correlations].find((r) => r.mapping?.alertType === alertType)?.mapping;
}

export interface FindingContext {
  connector: ConnectorRow;
  rules: RuleSet;
  now: number;
  newId: () => string;
  machineOf(resourceId: string): { machine: MachineRow; agent: AgentRow } | undefined;
}

/** Applies the findings inside one transaction; the first unknown resource or type refuses all. */
export async function applyFindings(tx: StoreTx, body: FindingsBody, ctx: FindingContext): Promise<Array<UpsertResult & { hostname: string }>> {
  const instances = (await tx.inventory.listCspmResources({ connector: ctx.connector.name, includeDeleted: true })).filter((r) => INSTANCE_KINDS.has(r.kind));
  const out: Array<UpsertResult & { hostname: string }> = [];
  for (const [i, f] of body.findings.entries()) {
    const resource = instances.find((r) => r.nativeId === f.resource) ?? instances.find((r) => r.name === f.resource);
    if (!resource) throw protocolError('ARCSIM_E_FINDING_RESOURCE', `${f.resource} is not an instance of connector ${ctx.connector.name}`, `findings.${i}.resource`);
    const mapping: AlertMapping | undefined = mappingOf(ctx.rules, f.alertType) ?? (f.alertDisplayName && f.severity ? {
      alertType: f.alertType, alertDisplayName: f.alertDisplayName, severity: f.severity, intent: ['Unknown'], product: 'CSPM',
      description: f.description ?? f.alertDisplayName, remediationSteps: [], dedup: { fields: Object.keys(f.fields).sort(), windowMs: 86_400_000 },
    } : undefined);
    if (!mapping) throw protocolError('ARCSIM_E_FINDING_ALERT_TYPE', f.alertType, `findings.${i}.alertType`);
    const asset = await tx.inventory.assetOfSource('cspm', resource.resourceId);
    const arcId = asset?.sources.find((s) => s.kind === 'arc')?.id;
    const host = arcId ? ctx.machineOf(arcId) : undefined;
    const time = Date.parse(f.time);
    const subject = asset ? `asset:${asset.assetKey}` : resource.resourceId;
    const location = host
      ? { subscription: host.agent.subscription, resourceGroup: host.agent.resourceGroup, location: host.agent.location }
      : { subscription: ctx.connector.subscription, resourceGroup: ctx.connector.resourceGroup, location: ctx.connector.location };
    const hostname = host?.machine.facts.hostname ?? resource.name;
    const candidate: AlertRow = {
      systemAlertId: ctx.newId(),
      dedupKey: dedupKeyOf(mapping.alertType, subject, mapping.dedup.fields.map((k) => String(f.fields[k] ?? ''))),
      alertType: mapping.alertType, ruleId: `cspm:${ctx.connector.name}`, agentId: host?.machine.agentId ?? '',
      resourceId: host?.machine.resourceId ?? resource.resourceId, severity: f.severity ?? mapping.severity, status: 'Active', count: 1,
      startTime: time, endTime: time, timeGenerated: ctx.now, updatedAt: ctx.now, latencyMs: null,
      properties: {
        alertDisplayName: f.alertDisplayName ?? mapping.alertDisplayName, description: f.description ?? mapping.description,
        intent: mapping.intent.join(','), detectingProduct: mapping.product, remediationSteps: mapping.remediationSteps,
        ruleTitle: `agentless finding (${ctx.connector.name})`, techniques: [], subTechniques: [], compromisedEntity: hostname,
        entities: [
          { $id: '1', type: 'host', hostName: hostname, azureID: host?.machine.resourceId ?? resource.resourceId },
          ...(typeof f.fields.RemoteIP === 'string' ? [{ $id: '2', type: 'ip', address: f.fields.RemoteIP }] : []),
        ],
        location,
      },
    };
    const result = await tx.alerts.upsertAlert(candidate, mapping.dedup.windowMs);
    await tx.alerts.addAlertSource({
      systemAlertId: result.alert.systemAlertId, kind: 'cspm', resourceId: resource.resourceId, detail: ctx.connector.name,
      firstTime: time, lastTime: time, count: 1,
    });
    out.push({ ...result, hostname });
  }
  return out;
}

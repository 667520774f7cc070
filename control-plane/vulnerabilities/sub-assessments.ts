import type { MachineRow } from '../store/index.ts';
import { RECOMMENDATIONS, sqlVaResults } from '../inventory/recommendations.ts';
import type { VulnerabilityRow } from './assessor.ts';

/**
 * `Microsoft.Security/assessments/subAssessments` of one machine (REST 2019-01-01-preview,
 * subAssessments.json): the findings under an assessment.
 * - "SQL servers on machines should have vulnerability findings resolved": one per (SQL Server
 *   instance, VA rule evaluated), `additionalData.assessedResourceType` `SqlServerVulnerability`,
 *   `resourceDetails.source` `OnPremiseSql`.
 * - "Machines should have vulnerability findings resolved": one per (package, CVE) found,
 *   `assessedResourceType` `ServerVulnerabilityAssessment`, `resourceDetails.source` `OnPremise`.
 */
export function subAssessments(o: {
  machine: MachineRow; assessmentKey: string; time: number; findings?: VulnerabilityRow[];
}): Array<Record<string, unknown>> {
  const { machine: m } = o;
  const base = `${m.resourceId}/providers/Microsoft.Security/assessments/${o.assessmentKey}/subAssessments`;
  const timeGenerated = new Date(o.time).toISOString();
  if (o.assessmentKey === RECOMMENDATIONS.sqlVulnerabilities.key) {
    return sqlVaResults(m).flatMap(({ instanceName, results }) => results.map((r) => {
      const name = `${instanceName.replace(/[^A-Za-z0-9_.-]/g, '_')}_${r.rule.id}`;
      return {
        id: `${base}/${name}`, name, type: 'Microsoft.Security/assessments/subAssessments',
        properties: {
          id: r.rule.id, displayName: r.rule.title,
          status: { code: r.status, severity: r.rule.severity, cause: r.status === 'Unhealthy' ? 'RuleFailed' : 'RulePassed', description: r.status === 'Unhealthy' ? `Failed: ${r.items.join(', ')}` : 'Passed' },
          remediation: r.rule.remediation, impact: '', category: r.rule.category, description: r.rule.title, timeGenerated,
          resourceDetails: { source: 'OnPremiseSql', machineName: m.name, serverName: instanceName, databaseName: 'master', vmuuid: m.facts.vmUuid ?? '', sourceComputerId: m.agentId },
          additionalData: { assessedResourceType: 'SqlServerVulnerability', type: 'ServerLevel', query: '' },
        },
      };
    }));
  }
  if (o.assessmentKey === RECOMMENDATIONS.vmVulnerabilities.key) {
    return (o.findings ?? []).filter((f) => f.DeviceId === m.agentId).map((f) => {
      const name = `${f.SoftwareName}_${f.CveId}`.replace(/[^A-Za-z0-9_.-]/g, '_');
      return {
        id: `${base}/${name}`, name, type: 'Microsoft.Security/assessments/subAssessments',
        properties: {
          id: f.CveId, displayName: `${f.CveId} in ${f.SoftwareName} ${f.SoftwareVersion}`,
          status: { code: 'Unhealthy', ...(['Low', 'Medium', 'High'].includes(f.VulnerabilitySeverityLevel) ? { severity: f.VulnerabilitySeverityLevel } : f.VulnerabilitySeverityLevel === 'Critical' ? { severity: 'High' } : {}), cause: 'Vulnerable', description: f.RecommendedSecurityUpdate || 'No fixed version published' },
          remediation: f.RecommendedSecurityUpdate || 'No fixed version is published yet: watch the advisory.', impact: '', category: 'Software', description: f.CveId, timeGenerated,
          resourceDetails: { source: 'OnPremise', id: m.resourceId },
          additionalData: {
            assessedResourceType: 'ServerVulnerabilityAssessment', type: 'Vulnerability', patchable: f.RecommendedSecurityUpdate !== '',
            cve: [{ title: f.CveId, link: `https://www.cve.org/CVERecord?id=${f.CveId}` }],
            vendorReferences: [{ title: f.RecommendedSecurityUpdateId, link: '' }],
          },
        },
      };
    });
  }
  return [];
}

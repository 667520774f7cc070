/**
 * What each alert arcsim raises must look like, written by hand from ../shared/REFERENCE.md
 * ("Real alert types to use (Defender for Cloud alert reference)" and "MDC alert"), never from
 * the rule files, so test/control-plane/rule-samples.test.ts fails when a rule drifts from the
 * products it imitates. Where the reference has no row, the entry says so and names its source.
 */
export type Severity = 'Informational' | 'Low' | 'Medium' | 'High';

export interface ReferenceAlert {
  alertDisplayName: string;
  severity: Severity;
  /** MDC `intent` (the reference's tactic column), in any order; undefined where no source gives one. */
  intent?: string[];
  /** MDC REST `productName` of the detecting product's alert. */
  productName: string;
  /** arcsim's detecting product as README's scenario table lists it (MDC, MDE, Defender for SQL). */
  detectingProduct: 'MDC' | 'MDE' | 'DefenderForSQL';
}

/** REFERENCE.md, MDC alert: MDC-raised alerts carry this product name ("Azure Security Center" is the old one). */
const MDC = 'Microsoft Defender for Cloud';
/** REFERENCE.md, MDC alert: MDE alerts appear as "Microsoft Defender Advanced Threat Protection". */
const MDE = 'Microsoft Defender Advanced Threat Protection';

export const ALERT_REFERENCE: Record<string, ReferenceAlert> = {
  // Defender for Containers (not in REFERENCE.md): Microsoft's "Alerts for containers - Kubernetes clusters"
  // (learn.microsoft.com/azure/defender-for-cloud/alerts-containers): display name, MITRE tactic, severity as published.
  K8S_PrivilegedContainer: { alertDisplayName: 'Privileged container detected', severity: 'Informational', intent: ['PrivilegeEscalation'], productName: MDC, detectingProduct: 'MDC' },
  K8S_MaliciousContainerImage: { alertDisplayName: 'Digital currency mining container detected', severity: 'High', intent: ['Execution'], productName: MDC, detectingProduct: 'MDC' },
  K8S_ExposedDashboard: { alertDisplayName: 'Exposed Kubernetes dashboard detected', severity: 'High', intent: ['InitialAccess'], productName: MDC, detectingProduct: 'MDC' },
  K8S_ClusterAdminBinding: { alertDisplayName: 'Role binding to the cluster-admin role detected', severity: 'Informational', intent: ['Persistence'], productName: MDC, detectingProduct: 'MDC' },
  K8S_SensitiveMount: { alertDisplayName: 'Container with a sensitive volume mount detected', severity: 'Informational', intent: ['PrivilegeEscalation'], productName: MDC, detectingProduct: 'MDC' },
  VM_SshBruteForceFailed: { alertDisplayName: 'Failed SSH brute force attack', severity: 'Medium', intent: ['Probing'], productName: MDC, detectingProduct: 'MDC' },
  VM_SshBruteForceSuccess: { alertDisplayName: 'Successful SSH brute force attack', severity: 'High', intent: ['Exploitation'], productName: MDC, detectingProduct: 'MDC' },
  // The reference gives "Medium/High"; README's scenario table pins arcsim's to High.
  VM_LoginBruteForceSuccess: { alertDisplayName: 'Successful brute force attack', severity: 'High', intent: ['Exploitation'], productName: MDC, detectingProduct: 'MDC' },
  VM_SshKeyAddition: { alertDisplayName: 'New SSH key added', severity: 'Low', intent: ['Persistence'], productName: MDC, detectingProduct: 'MDC' },
  // The VM_Fileless* alerts are modelled as MDE detections shown in MDC (deprecated in MDC in 2024).
  'VM_FilelessAttackTechnique.Windows': { alertDisplayName: 'Fileless attack technique detected', severity: 'High', intent: ['DefenseEvasion', 'Execution'], productName: MDE, detectingProduct: 'MDE' },
  'VM_FilelessAttackTechnique.Linux': { alertDisplayName: 'Fileless Attack Technique Detected', severity: 'High', intent: ['Execution'], productName: MDE, detectingProduct: 'MDE' },
  'SQL.VM_PotentialSqlInjection': { alertDisplayName: 'Potential SQL injection', severity: 'High', intent: ['PreAttack'], productName: MDC, detectingProduct: 'DefenderForSQL' },
  'SQL.VM_BruteForce': { alertDisplayName: 'Suspected brute force attack', severity: 'High', intent: ['PreAttack'], productName: MDC, detectingProduct: 'DefenderForSQL' },
  'SQL.VM_GeoAnomaly': { alertDisplayName: 'Log on from an unusual location', severity: 'Informational', intent: ['Exploitation'], productName: MDC, detectingProduct: 'DefenderForSQL' },
  'SQL.VM_SuspiciousIpAnomaly': { alertDisplayName: 'Login from a suspicious IP', severity: 'Medium', intent: ['PreAttack'], productName: MDC, detectingProduct: 'DefenderForSQL' },
  // The reference gives "High/Medium"; README's scenario table pins arcsim's to High.
  'SQL.VM_ShellExternalSourceAnomaly': {
    alertDisplayName: 'SQL Server potentially spawned a Windows command shell and accessed an abnormal external source',
    severity: 'High', intent: ['Execution'], productName: MDC, detectingProduct: 'DefenderForSQL',
  },
  // No published type id: display name and severity from the reference's "Also without a published
  // type id" list; it gives no tactic, so intent is not checked.
  ARCSIM_DigitalCurrencyMiningBehavior: { alertDisplayName: 'Digital currency mining related behavior detected', severity: 'High', productName: MDC, detectingProduct: 'MDC' },
  // Not in the reference: the display name is the one MDE gives its test alert (REFERENCE.md), but
  // there it is Informational; arcsim raises it for a real encoded-command attack and README's
  // scenario table documents Medium. Intent: T1059.001 PowerShell is an Execution technique.
  MDE_SuspiciousPowerShellCommandLine: { alertDisplayName: 'Suspicious PowerShell CommandLine', severity: 'Medium', intent: ['Execution'], productName: MDE, detectingProduct: 'MDE' },
  // Not in the reference: arcsim's own alert (MDC publishes none for this). Display name = the
  // library scenario's name, severity and product from README's scenario table; intent from the
  // scenario's technique T1078.002 Valid Accounts: Domain Accounts, used here for Initial Access.
  ARCSIM_AdminLogonForeignOffHours: { alertDisplayName: 'Administrative logon from a foreign country outside office hours', severity: 'Medium', intent: ['InitialAccess'], productName: MDC, detectingProduct: 'MDC' },
};

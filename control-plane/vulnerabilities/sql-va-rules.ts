import type { SqlInstanceFacts, SqlSecurityFacts } from '../../protocol/index.ts';

/**
 * The SQL vulnerability assessment rules arcsim evaluates: real rule ids, titles and severities of
 * Microsoft's "SQL vulnerability assessment rules reference guide" (pinned in
 * test/fixtures/sql-va-rules/), each over one configuration fact of the instance
 * (protocol SqlSecurityFacts), which a persona declares. A rule whose fact is not declared is not
 * evaluated (neither passed nor failed), as the real scanner skips what it cannot read.
 */
export interface SqlVaRule {
  id: string;
  title: string;
  severity: 'High' | 'Medium' | 'Low';
  category: 'Authentication and Authorization' | 'Data Protection' | 'Surface Area Reduction';
  /** undefined: fact not declared; [] : passed; otherwise the offending items (the finding's "query results"). */
  check(f: SqlSecurityFacts): string[] | undefined;
  remediation: string;
}

const flag = (v: boolean | undefined, bad: boolean, item: string): string[] | undefined => (v === undefined ? undefined : v === bad ? [item] : []);

export const SQL_VA_RULES: readonly SqlVaRule[] = [
  {
    id: 'VA1022', title: 'Ad hoc distributed queries should be disabled', severity: 'Medium', category: 'Surface Area Reduction',
    check: (f) => flag(f.adHocDistributedQueriesEnabled, true, 'Ad Hoc Distributed Queries = 1'),
    remediation: "EXEC sp_configure 'Ad Hoc Distributed Queries', 0; RECONFIGURE;",
  },
  {
    id: 'VA1023', title: 'CLR should be disabled', severity: 'High', category: 'Surface Area Reduction',
    check: (f) => flag(f.clrEnabled, true, 'clr enabled = 1'),
    remediation: "EXEC sp_configure 'clr enabled', 0; RECONFIGURE;",
  },
  {
    id: 'VA1046', title: 'CHECK_POLICY should be enabled for all SQL logins', severity: 'Low', category: 'Authentication and Authorization',
    check: (f) => f.loginsWithoutCheckPolicy,
    remediation: 'ALTER LOGIN [name] WITH CHECK_POLICY = ON; for each login listed.',
  },
  {
    id: 'VA1047', title: 'Password expiration check should be enabled for all SQL logins', severity: 'Low', category: 'Authentication and Authorization',
    check: (f) => f.loginsWithoutCheckExpiration,
    remediation: 'ALTER LOGIN [name] WITH CHECK_EXPIRATION = ON; for each login listed.',
  },
  {
    id: 'VA1053', title: 'Account with default name `sa` should be renamed or disabled', severity: 'Low', category: 'Authentication and Authorization',
    check: (f) => (f.saLoginNamedSa === undefined || f.saLoginEnabled === undefined ? undefined : f.saLoginNamedSa && f.saLoginEnabled ? ['sa'] : []),
    remediation: 'ALTER LOGIN [sa] WITH NAME = [new_name]; or ALTER LOGIN [sa] DISABLE;',
  },
  {
    id: 'VA1058', title: '`sa` login should be disabled', severity: 'High', category: 'Authentication and Authorization',
    check: (f) => flag(f.saLoginEnabled, true, 'principal_id 1 enabled'),
    remediation: 'ALTER LOGIN [sa] DISABLE;',
  },
  {
    id: 'VA1059', title: 'xp_cmdshell should be disabled', severity: 'High', category: 'Surface Area Reduction',
    check: (f) => flag(f.xpCmdshellEnabled, true, 'xp_cmdshell = 1'),
    remediation: "EXEC sp_configure 'xp_cmdshell', 0; RECONFIGURE;",
  },
  {
    id: 'VA1067', title: 'Database Mail XPs should be disabled when it is not in use', severity: 'Medium', category: 'Surface Area Reduction',
    check: (f) => flag(f.databaseMailXpsEnabled, true, 'Database Mail XPs = 1'),
    remediation: "EXEC sp_configure 'Database Mail XPs', 0; RECONFIGURE;",
  },
  {
    id: 'VA1072', title: 'Authentication mode should be Windows Authentication', severity: 'Medium', category: 'Authentication and Authorization',
    check: (f) => (f.authenticationMode === undefined ? undefined : f.authenticationMode === 'Mixed' ? ['Mixed mode'] : []),
    remediation: 'Set the server authentication to Windows Authentication mode (Server Properties > Security) and restart the instance.',
  },
  {
    id: 'VA1219', title: 'Transparent data encryption should be enabled', severity: 'Medium', category: 'Data Protection',
    check: (f) => f.databasesWithoutTde,
    remediation: 'CREATE DATABASE ENCRYPTION KEY ...; ALTER DATABASE [name] SET ENCRYPTION ON; for each database listed.',
  },
  {
    id: 'VA1279', title: 'Force encryption should be enabled for TDS', severity: 'High', category: 'Data Protection',
    check: (f) => flag(f.forceEncryption, false, 'ForceEncryption = 0'),
    remediation: 'Set Force Encryption to Yes in SQL Server Configuration Manager (Protocols for the instance) and restart the instance.',
  },
];

export interface SqlVaResult {
  rule: SqlVaRule;
  status: 'Healthy' | 'Unhealthy';
  /** The offending items the rule found (empty when Healthy). */
  items: string[];
}

/** The rules evaluated on one SQL Server instance; empty for other engines or without declared facts. */
export function scanSqlInstance(s: SqlInstanceFacts): SqlVaResult[] {
  if (s.engine !== 'sqlserver' || !s.securityFacts) return [];
  const out: SqlVaResult[] = [];
  for (const rule of SQL_VA_RULES) {
    const items = rule.check(s.securityFacts);
    if (items === undefined) continue;
    out.push({ rule, status: items.length ? 'Unhealthy' : 'Healthy', items });
  }
  return out;
}

export { VulnerabilityAssessor, VULN_DEFAULTS, SOFTWARE_TABLE, latestSoftware, matchItems, findVulnerabilities, currentSoftware, type VulnerabilityRow, type InstalledItem } from './assessor.ts';
export { parseOsvFeed, readOsvRecords, affecting, inRange, OsvFeedError, OSV_LIMITS, type Advisory } from './osv.ts';
export { compareDebian, compareRpm, compareSemver, rpmvercmp, orderOf, type Compare } from './version-order.ts';
export { SQL_VA_RULES, scanSqlInstance, type SqlVaRule, type SqlVaResult } from './sql-va-rules.ts';
export { subAssessments } from './sub-assessments.ts';

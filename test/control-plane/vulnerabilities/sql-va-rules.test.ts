import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scanSqlInstance, SQL_VA_RULES } from '../../../control-plane/vulnerabilities/index.ts';

// Issue 17, item 5: a documented rule set: real MDC SQL VA rule ids, titles and severities, as
// pinned from Microsoft's "SQL vulnerability assessment rules reference guide".

const pinned = readFileSync(fileURLToPath(new URL('../../fixtures/sql-va-rules/rules.md', import.meta.url)), 'utf8')
  .split('\n').map((l) => l.split('|').slice(1, -1).map((c) => c.trim())).filter((c) => /^VA\d{4}$/.test(c[0] ?? ''))
  .map(([id, title, severity]) => ({ id, title: title!.replaceAll('`', ''), severity }));

test("arcsim's rules are exactly the pinned reference rows (id, title, severity)", () => {
  assert.equal(pinned.length, 11);
  assert.deepEqual(SQL_VA_RULES.map((r) => ({ id: r.id, title: r.title.replaceAll('`', ''), severity: r.severity })), pinned);
});

test('each rule fails on its risky setting, passes on the safe one, and is skipped when the fact is unknown', () => {
  const base = { instanceName: 'MSSQLSERVER', engine: 'sqlserver' as const };
  const risky = scanSqlInstance({ ...base, securityFacts: {
    xpCmdshellEnabled: true, saLoginEnabled: true, saLoginNamedSa: true, loginsWithoutCheckPolicy: ['app'], loginsWithoutCheckExpiration: ['app'],
    authenticationMode: 'Mixed', databaseMailXpsEnabled: true, clrEnabled: true, adHocDistributedQueriesEnabled: true, databasesWithoutTde: ['db1'], forceEncryption: false,
  } });
  assert.deepEqual(risky.filter((r) => r.status === 'Unhealthy').map((r) => r.rule.id), SQL_VA_RULES.map((r) => r.id), 'every rule fails');
  const safe = scanSqlInstance({ ...base, securityFacts: {
    xpCmdshellEnabled: false, saLoginEnabled: false, saLoginNamedSa: false, loginsWithoutCheckPolicy: [], loginsWithoutCheckExpiration: [],
    authenticationMode: 'Windows', databaseMailXpsEnabled: false, clrEnabled: false, adHocDistributedQueriesEnabled: false, databasesWithoutTde: [], forceEncryption: true,
  } });
  assert.deepEqual(safe.filter((r) => r.status === 'Healthy').map((r) => r.rule.id), SQL_VA_RULES.map((r) => r.id), 'every rule passes');
  assert.deepEqual(scanSqlInstance({ ...base, securityFacts: { xpCmdshellEnabled: true } }).map((r) => r.rule.id), ['VA1059'], 'only declared facts are evaluated');
  assert.deepEqual(scanSqlInstance({ ...base }), [], 'no facts: no scan');
  assert.deepEqual(scanSqlInstance({ instanceName: 'pg', engine: 'postgresql', securityFacts: { xpCmdshellEnabled: true } }), [], 'SQL Server rules only');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { affecting, inRange, matchItems, OsvFeedError, parseOsvFeed, compareSemver, compareDebian, type InstalledItem } from '../../../control-plane/vulnerabilities/index.ts';
import { parseDpkgStatus } from '../../../agent/software-inventory.ts';
import { EventSchema } from '../../../protocol/index.ts';

// Issue 17, item 4: an OSV feed (a pinned sample built from Debian's bookworm-security
// changelogs, test/fixtures/osv/README.md) matched against a real dpkg status excerpt.

const fixture = (p: string) => readFileSync(fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url)), 'utf8');

function installed(): InstalledItem[] {
  return parseDpkgStatus(fixture('dpkg/status'), 'Debian:12', 'debian').map((i, n) => ({
    deviceId: 'dev-1', name: i.name, version: i.version, vendor: i.vendor, ecosystem: i.ecosystem,
    sourceName: i.sourceName ?? i.name, sourceVersion: i.sourceVersion ?? i.version,
    row: EventSchema.parse({ Table: 'DeviceTvmSoftwareInventory', Timestamp: '2026-12-03T10:00:00Z', DeviceId: 'dev-1', DeviceName: 'lab1', ReportId: `01937a5e-8c00-7000-8000-00000000000${n}`, SoftwareName: i.name, SoftwareVersion: i.version }),
  }));
}

test('the sample feed parses: seven Debian:12 advisories, each naming its CVE', () => {
  const { advisories, withdrawn } = parseOsvFeed(fixture('osv/debian-bookworm-sample.json'));
  assert.equal(advisories.length, 7);
  assert.equal(withdrawn, 0);
  assert.deepEqual(advisories.map((a) => a.cveId).sort(), ['CVE-2024-26462', 'CVE-2024-28757', 'CVE-2025-3576', 'CVE-2025-9820', 'CVE-2026-32316', 'CVE-2026-3833', 'CVE-2026-56132']);
  assert.ok(advisories.every((a) => a.affected.every((x) => x.ecosystem === 'Debian:12')));
});

test('matched against the dpkg excerpt: the five findings the changelogs imply, by source package', () => {
  const { advisories } = parseOsvFeed(fixture('osv/debian-bookworm-sample.json'));
  const rows = matchItems(installed(), new Map([['Debian:12', advisories]]));
  assert.deepEqual(rows.map((r) => `${r.SoftwareName} ${r.CveId}`).sort(), [
    'libexpat1 CVE-2024-28757', 'libexpat1 CVE-2026-56132', 'libgnutls30 CVE-2026-3833', 'libgssapi-krb5-2 CVE-2025-3576', 'libjq1 CVE-2026-32316',
  ]);
  const krb = rows.find((r) => r.CveId === 'CVE-2025-3576')!;
  assert.equal(krb.SoftwareVersion, '1.20.1-2+deb12u3');
  assert.equal(krb.RecommendedSecurityUpdate, 'Update krb5 to 1.20.1-2+deb12u4 or later');
  assert.equal(krb.RecommendedSecurityUpdateId, 'DEBIAN-CVE-2025-3576');
  assert.deepEqual(krb.CveTags, []);
});

test('the fixed version itself is not affected (gnutls28 3.7.9-2+deb12u6 and CVE-2025-9820)', () => {
  const { advisories } = parseOsvFeed(fixture('osv/debian-bookworm-sample.json'));
  assert.deepEqual(affecting({ ecosystem: 'Debian:12', name: 'gnutls28', version: '3.7.9-2+deb12u6' }, advisories).map((h) => h.advisory.cveId), ['CVE-2026-3833']);
  assert.deepEqual(affecting({ ecosystem: 'Debian:11', name: 'gnutls28', version: '3.7.0' }, advisories), [], 'another release is another ecosystem');
});

test('OSV range evaluation: introduced/fixed, last_affected, limit, several ranges (OSV schema, "Evaluation")', () => {
  const ev = (events: Array<Record<string, string>>, v: string) => inRange(v, events, compareSemver);
  assert.ok(ev([{ introduced: '0' }, { fixed: '1.2.3' }], '1.2.2'));
  assert.ok(!ev([{ introduced: '0' }, { fixed: '1.2.3' }], '1.2.3'));
  assert.ok(!ev([{ introduced: '1.0.0' }, { fixed: '1.2.3' }], '0.9.0'));
  assert.ok(ev([{ introduced: '1.0.0' }, { last_affected: '1.2.3' }], '1.2.3'));
  assert.ok(!ev([{ introduced: '1.0.0' }, { last_affected: '1.2.3' }], '1.2.4'));
  assert.ok(!ev([{ introduced: '1.0.0' }, { limit: '1.1.0' }], '1.1.0'));
  const two: Array<Record<string, string>> = [{ introduced: '1.0.0' }, { fixed: '1.0.5' }, { introduced: '2.0.0' }, { fixed: '2.0.3' }];
  assert.deepEqual(['0.1.0', '1.0.1', '1.0.5', '1.9.0', '2.0.0', '2.0.3'].map((v) => ev(two, v)), [false, true, false, false, true, false]);
  assert.ok(inRange('2.5.0-1+deb12u1', [{ fixed: '2.5.0-1+deb12u4' }, { introduced: '0' }], compareDebian), 'events in any order');
});

test('an advisory with no fix yet is tagged NoSecurityUpdate; withdrawn records are left out', () => {
  const feed = JSON.stringify({ vulns: [
    { id: 'GHSA-aaaa-bbbb-cccc', modified: '2026-01-01T00:00:00Z', aliases: ['CVE-2026-0001'], database_specific: { severity: 'MODERATE' },
      affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] },
    { id: 'GHSA-dddd-eeee-ffff', modified: '2026-01-01T00:00:00Z', withdrawn: '2026-02-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] },
  ] });
  const { advisories, withdrawn } = parseOsvFeed(feed);
  assert.equal(withdrawn, 1);
  const item = { ...installed()[0]!, name: 'left-pad', sourceName: 'left-pad', version: '1.3.0', sourceVersion: '1.3.0', ecosystem: 'npm' };
  const [row] = matchItems([item], new Map([['npm', advisories]]));
  assert.equal(row!.CveId, 'CVE-2026-0001');
  assert.equal(row!.VulnerabilitySeverityLevel, 'Medium', "GitHub's MODERATE is MDVM's Medium");
  assert.deepEqual(row!.CveTags, ['NoSecurityUpdate']);
  assert.equal(matchItems([{ ...item, version: 'not-semver', sourceVersion: 'not-semver' }], new Map([['npm', advisories]])).length, 0, 'a version the order cannot read matches nothing');
});

test('a feed that is not OSV is refused with the path of the first bad record', () => {
  assert.throws(() => parseOsvFeed('{not json'), (e: unknown) => e instanceof OsvFeedError && e.path === '(root)');
  assert.throws(() => parseOsvFeed(JSON.stringify([{ id: 'X-1', modified: '2026-01-01T00:00:00Z' }, { id: 'X-2' }])), (e: unknown) => e instanceof OsvFeedError && e.path === '1.modified');
  assert.throws(() => parseOsvFeed(JSON.stringify([{ id: 'X-1', modified: '2026-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: '1', introduced: '0' }] }] }] }])),
    (e: unknown) => e instanceof OsvFeedError && e.path.startsWith('0.affected.0.ranges.0.events.0'), 'an event has exactly one key');
});

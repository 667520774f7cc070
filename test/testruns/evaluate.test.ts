import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assetCheck, telemetryCheck } from '../../testruns/evaluate.ts';

test('telemetry: events no sensor collected (no MDE / SQL extension) are telemetry missing, not a silent pass', () => {
  assert.equal(telemetryCheck(10, 10).status, 'pass');
  const none = telemetryCheck(0, 0, { DeviceLogonEvents: 10 });
  assert.equal(none.status, 'fail');
  assert.equal(none.reason, 'telemetry missing');
  assert.match(none.detail, /10 event\(s\) not collected .*DeviceLogonEvents 10.*no MDE extension/);
  assert.equal(telemetryCheck(5, 4).reason, 'telemetry missing');
  assert.equal(telemetryCheck(5, 6).reason, 'wrong count after dedup');
});

test('asset merge: reads the sources of GET /api/assets, matched by the Arc resource id', () => {
  const arcId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/EC2AMAZ-SQL01';
  const merged = {
    id: 'a1', name: 'lab-ec2-sql', confidence: 'strong', conflicts: [],
    sources: [{ kind: 'arc', resourceId: arcId, name: 'EC2AMAZ-SQL01' }, { kind: 'cspm', resourceId: '/x/aws-ec2-instance-i-0b2c', name: 'lab-ec2-sql' }],
  };
  // An alert on the asset names the Arc id too: it must not count as a second asset.
  const other = { id: 'a2', name: 'other', confidence: 'single', conflicts: [], sources: [{ kind: 'cspm', resourceId: '/x/other', name: 'other' }], openAlerts: [{ resourceId: arcId }] };
  const ok = assetCheck({ available: true, value: [merged, other] }, arcId.toLowerCase(), { count: 1, sources: 2 });
  assert.equal(ok.status, 'pass', ok.detail);
  assert.match(ok.detail, /lab-ec2-sql \[strong\] arc:EC2AMAZ-SQL01 \+ cspm:lab-ec2-sql/);
  const alone = assetCheck({ available: true, value: [{ ...merged, sources: [merged.sources[0]] }] }, arcId, { count: 1, sources: 2 });
  assert.equal(alone.status, 'fail');
  assert.equal(alone.reason, 'asset merge wrong');
  const missing = assetCheck({ available: true, value: [other] }, arcId, { count: 1, sources: 2 });
  assert.equal(missing.status, 'fail');
  assert.match(missing.detail, /^0 asset\(s\)/);
  assert.equal(assetCheck({ available: false }, arcId, { count: 1, sources: 2 }).status, 'not-checked');
});

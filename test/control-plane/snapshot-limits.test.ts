import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, startControlPlane } from '../helpers.ts';

// Issue 12 item 9: snapshot fields bounded by the clouds' own documented limits, never stored silently.
// AWS: tag key 128 / value 256 Unicode characters, 50 user tags per resource
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions).
// GCP: label keys and values 63 characters, 64 labels (https://cloud.google.com/compute/docs/labeling-resources),
// instance names 1-63 characters (https://cloud.google.com/compute/docs/naming-resources).

const EX = join(import.meta.dirname, '..', '..', 'examples', 'cspm');
const json = (f: string) => JSON.parse(readFileSync(join(EX, f), 'utf8'));

async function lab(t: { after(fn: () => unknown): void }) {
  const env = await startControlPlane({ config: { inventory: { schedulePulls: false } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const key = (await env.cp.ensureAdminKey({ reset: true }))!;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${env.url}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
  };
  assert.equal((await api('PUT', '/api/connectors/aws-lab', json('connector-aws-lab.json'))).status, 201);
  assert.equal((await api('PUT', '/api/connectors/gcp-lab', json('connector-gcp-lab.json'))).status, 201);
  return { api };
}

/** The example describe-instances output with the first instance's tags replaced. */
function ec2WithTags(tags: Array<{ Key: string; Value: string }>): any {
  const doc = json('aws-describe-instances.json');
  doc.Reservations[0].Instances[0].Tags = tags;
  return doc;
}

test('found case: a 2 MiB Name tag is refused with ARCSIM_E_SNAPSHOT_LIMIT (path + limit) and nothing is stored', async (t) => {
  const { api } = await lab(t);
  const r = await api('POST', '/api/connectors/aws-lab/snapshots', ec2WithTags([{ Key: 'Name', Value: 'x'.repeat(2 * 1024 * 1024) }]));
  assert.deepEqual([r.status, r.body.code, r.body.path], [422, 'ARCSIM_E_SNAPSHOT_LIMIT', 'body.Reservations.0.Instances.0.Tags.0.Value']);
  assert.match(r.body.message, /at most 256 characters/);
  assert.ok(r.text.length < 4096, 'the oversized value is not echoed');
  assert.deepEqual((await api('GET', '/api/connectors/aws-lab/resources')).body.value, []);
});

test('AWS tags: 256-character value and 128-character key (counted in Unicode characters) are accepted; one more is refused', async (t) => {
  const { api } = await lab(t);
  const emoji = '\u{1F600}'; // two UTF-16 units, one character
  const ok = await api('POST', '/api/connectors/aws-lab/snapshots', ec2WithTags([{ Key: 'k'.repeat(128), Value: emoji.repeat(256) }]));
  assert.equal(ok.status, 201, ok.text);
  const key = await api('POST', '/api/connectors/aws-lab/snapshots', ec2WithTags([{ Key: 'k'.repeat(129), Value: 'v' }]));
  assert.deepEqual([key.body.code, key.body.path], ['ARCSIM_E_SNAPSHOT_LIMIT', 'body.Reservations.0.Instances.0.Tags.0.Key']);
  const value = await api('POST', '/api/connectors/aws-lab/snapshots', ec2WithTags([{ Key: 'Name', Value: emoji.repeat(257) }]));
  assert.equal(value.body.code, 'ARCSIM_E_SNAPSHOT_LIMIT');
});

test('AWS tags per resource: 50 user tags (aws: tags not counted) accepted, 51 refused', async (t) => {
  const { api } = await lab(t);
  const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `t${i}`, Value: 'v' }));
  const fifty = await api('POST', '/api/connectors/aws-lab/snapshots', ec2WithTags([...tags(50), { Key: 'aws:cloudformation:stack-name', Value: 's' }]));
  assert.equal(fifty.status, 201, fifty.text);
  const more = await api('POST', '/api/connectors/aws-lab/snapshots', ec2WithTags(tags(51)));
  assert.deepEqual([more.body.code, more.body.path], ['ARCSIM_E_SNAPSHOT_LIMIT', 'body.Reservations.0.Instances.0.Tags']);
});

test('GCP: label value over 63, more than 64 labels, instance name over 63 are refused', async (t) => {
  const { api } = await lab(t);
  const withInstance = (patch: (i: any) => void) => {
    const doc = json('gcp-instances.json');
    patch(doc[0]);
    return doc;
  };
  const cases: Array<[(i: any) => void, string]> = [
    [(i) => { i.labels = { env: 'v'.repeat(64) }; }, 'body.0.labels.env'],
    [(i) => { i.labels = Object.fromEntries(Array.from({ length: 65 }, (_, n) => [`l${n}`, 'v'])); }, 'body.0.labels'],
    [(i) => { i.name = 'n'.repeat(64); }, 'body.0.name'],
  ];
  for (const [patch, path] of cases) {
    const r = await api('POST', '/api/connectors/gcp-lab/snapshots', withInstance(patch));
    assert.deepEqual([r.status, r.body.code, r.body.path], [422, 'ARCSIM_E_SNAPSHOT_LIMIT', path]);
  }
  const ok = await api('POST', '/api/connectors/gcp-lab/snapshots', withInstance((i) => { i.labels = { env: 'v'.repeat(63) }; i.name = 'n'.repeat(63); }));
  assert.equal(ok.status, 201, ok.text);
});

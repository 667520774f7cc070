/**
 * Instance metadata clients (AWS IMDSv2, GCP metadata server). Each request has its own short
 * timeout and is made once: no retries, so an agent outside a cloud never waits long and never
 * floods a link-local address. Base URLs are injected (tests serve fakes on loopback).
 */

export interface MetadataOptions {
  baseUrl: string;
  /** Per request, ms. */
  timeoutMs: number;
}

export type MetadataResult =
  | { ok: true; details: Record<string, string> }
  | { ok: false; reason: string };

/** IMDSv2 session token lifetime asked for, seconds (AWS allows 1 to 21600). */
const AWS_TOKEN_TTL_SEC = 300;

async function request(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  return fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
}

function failure(err: unknown): MetadataResult {
  const e = err as Error;
  return { ok: false, reason: e.name === 'TimeoutError' ? 'timed out' : e.message };
}

function put(out: Record<string, string>, key: string, value: unknown): void {
  if (typeof value === 'string' && value.length > 0) out[key] = value;
  else if (typeof value === 'number') out[key] = String(value);
}

/**
 * AWS IMDSv2: PUT a session token, then read the instance identity document with it
 * (account id, instance id, region, availability zone, instance type, private IP, image).
 */
export async function fetchAwsMetadata(o: MetadataOptions): Promise<MetadataResult> {
  try {
    const tokenRes = await request(new URL('/latest/api/token', o.baseUrl).href, {
      method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(AWS_TOKEN_TTL_SEC) },
    }, o.timeoutMs);
    if (!tokenRes.ok) return { ok: false, reason: `IMDSv2 token request answered ${tokenRes.status}` };
    const token = (await tokenRes.text()).trim();
    const headers = { 'X-aws-ec2-metadata-token': token };
    const docRes = await request(new URL('/latest/dynamic/instance-identity/document', o.baseUrl).href, { headers }, o.timeoutMs);
    if (!docRes.ok) return { ok: false, reason: `instance identity document answered ${docRes.status}` };
    const doc = (await docRes.json()) as Record<string, unknown>;
    const details: Record<string, string> = {};
    put(details, 'accountId', doc.accountId);
    put(details, 'instanceId', doc.instanceId);
    put(details, 'region', doc.region);
    put(details, 'availabilityZone', doc.availabilityZone);
    put(details, 'instanceType', doc.instanceType);
    put(details, 'privateIp', doc.privateIp);
    put(details, 'imageId', doc.imageId);
    if (!details.instanceId) return { ok: false, reason: 'instance identity document has no instanceId' };
    return { ok: true, details };
  } catch (err) {
    return failure(err);
  }
}

/** Last path segment of GCP's `projects/123/zones/us-central1-a` style values. */
const leaf = (v: unknown): unknown => (typeof v === 'string' ? v.slice(v.lastIndexOf('/') + 1) : v);

/**
 * GCP metadata server (`Metadata-Flavor: Google` both ways): instance id, name, zone, machine
 * type, image, service accounts, private IP, and the project id and number.
 */
export async function fetchGcpMetadata(o: MetadataOptions): Promise<MetadataResult> {
  const get = async (path: string): Promise<Record<string, unknown>> => {
    const res = await request(new URL(path, o.baseUrl).href, { headers: { 'Metadata-Flavor': 'Google' } }, o.timeoutMs);
    // The real server answers with this header; anything else is not a GCP metadata server.
    if (!res.ok || res.headers.get('metadata-flavor') !== 'Google') throw new Error(`${path} answered ${res.status} without Metadata-Flavor: Google`);
    return (await res.json()) as Record<string, unknown>;
  };
  const text = async (path: string): Promise<string> => {
    const res = await request(new URL(path, o.baseUrl).href, { headers: { 'Metadata-Flavor': 'Google' } }, o.timeoutMs);
    if (!res.ok || res.headers.get('metadata-flavor') !== 'Google') throw new Error(`${path} answered ${res.status} without Metadata-Flavor: Google`);
    return (await res.text()).trim();
  };
  try {
    // The instance id is a 19-digit number: in the recursive JSON it loses precision, so read it as text.
    const [instance, project, id] = await Promise.all([
      get('/computeMetadata/v1/instance/?recursive=true'),
      get('/computeMetadata/v1/project/?recursive=true'),
      text('/computeMetadata/v1/instance/id'),
    ]);
    const details: Record<string, string> = {};
    put(details, 'instanceId', /^\d+$/.test(id) ? id : undefined);
    put(details, 'instanceName', instance.name);
    put(details, 'projectId', project.projectId);
    put(details, 'projectNumber', project.numericProjectId);
    put(details, 'zone', leaf(instance.zone));
    put(details, 'machineType', leaf(instance.machineType));
    put(details, 'image', leaf(instance.image));
    const nics = Array.isArray(instance.networkInterfaces) ? (instance.networkInterfaces as Array<Record<string, unknown>>) : [];
    put(details, 'privateIp', nics[0]?.ip);
    const sas = instance.serviceAccounts && typeof instance.serviceAccounts === 'object'
      ? Object.values(instance.serviceAccounts as Record<string, { email?: string }>).map((s) => s.email).filter((e): e is string => !!e)
      : [];
    if (sas.length) details.serviceAccounts = [...new Set(sas)].join(',');
    if (!details.instanceId) return { ok: false, reason: 'instance metadata has no id' };
    return { ok: true, details };
  } catch (err) {
    return failure(err);
  }
}

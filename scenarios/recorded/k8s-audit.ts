import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { EventSchema, type SensorEvent } from '../../protocol/index.ts';
import { deviceIdOf } from './mde-mapping.ts';

/**
 * Kubernetes API server audit events (`audit.k8s.io/v1` Event, as the API server's log backend
 * writes them: one JSON object a line; or an `EventList`) into KubernetesAudit rows, whose columns
 * are Azure Monitor's AKSAudit ones (docs/kubernetes.md). Decoding is strict where arcsim reads a
 * field (its type; level and stage from the API's enums) and tolerant of fields added by later
 * Kubernetes versions (`looseObject`), as the CSPM snapshot schemas are.
 */

const str = z.string().max(32_768);
/** metav1.Time / MicroTime: RFC 3339, with or without fractional seconds. */
const time = z.iso.datetime({ offset: true });

const UserInfo = z.looseObject({
  username: str.optional(),
  uid: str.optional(),
  groups: z.array(str).optional(),
  extra: z.record(z.string(), z.array(str)).optional(),
});

export const AuditEventSchema = z.looseObject({
  kind: z.literal('Event'),
  apiVersion: z.literal('audit.k8s.io/v1'),
  level: z.enum(['None', 'Metadata', 'Request', 'RequestResponse']),
  auditID: str.min(1),
  stage: z.enum(['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic']),
  requestURI: str,
  verb: str.min(1),
  user: UserInfo,
  impersonatedUser: UserInfo.optional(),
  sourceIPs: z.array(str).optional(),
  userAgent: str.optional(),
  objectRef: z.looseObject({
    resource: str.optional(), namespace: str.optional(), name: str.optional(), uid: str.optional(),
    apiGroup: str.optional(), apiVersion: str.optional(), resourceVersion: str.optional(), subresource: str.optional(),
  }).optional(),
  responseStatus: z.looseObject({ code: z.number().int().optional(), status: str.optional(), reason: str.optional(), message: str.optional() }).optional(),
  requestObject: z.record(z.string(), z.unknown()).optional(),
  responseObject: z.record(z.string(), z.unknown()).optional(),
  requestReceivedTimestamp: time.optional(),
  stageTimestamp: time,
  annotations: z.record(z.string(), str).optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export interface AuditMapOptions {
  /** The cluster the log is of (the rows' DeviceName; DeviceId derived from it). */
  cluster: string;
  /** Source of ReportId randomness (injectable for tests). */
  random?: (n: number) => Uint8Array;
}

/** The records of an audit log: one JSON Event a line (the log backend), a JSON array, or an EventList. */
export function auditRecords(values: unknown[]): unknown[] {
  if (values.length === 1) {
    const v = values[0] as { kind?: unknown; items?: unknown };
    if (v && v.kind === 'EventList' && Array.isArray(v.items)) return v.items;
  }
  return values;
}

/** The AKSAudit-style row of one audit event, or why it is not one. */
export function toKubernetesAuditRow(value: unknown, o: AuditMapOptions): { row: SensorEvent } | { invalid: string } {
  const r = AuditEventSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { invalid: `not an audit.k8s.io/v1 Event: ${issue.path.join('.') || '(record)'}: ${issue.message}` };
  }
  const e = r.data;
  const bytes = Uint8Array.from((o.random ?? ((n: number) => randomBytes(n)))(16));
  // The same audit id at two stages is two records; mixing the stage in keeps their ReportIds apart.
  bytes[15] = (bytes[15]! ^ createHash('sha1').update(e.stage).digest()[0]!) & 0xff;
  const row: Record<string, unknown> = {
    Table: 'KubernetesAudit', Timestamp: e.stageTimestamp, DeviceId: deviceIdOf(o.cluster), DeviceName: o.cluster.toLowerCase(),
    ReportId: uuidv7({ msecs: Date.parse(e.stageTimestamp), random: bytes }),
    AuditId: e.auditID, Level: e.level, Stage: e.stage, Verb: e.verb, RequestUri: e.requestURI, User: e.user,
    ...(e.impersonatedUser ? { ImpersonatedUser: e.impersonatedUser } : {}),
    ...(e.sourceIPs ? { SourceIps: e.sourceIPs } : {}),
    ...(e.userAgent !== undefined ? { UserAgent: e.userAgent } : {}),
    ...(e.objectRef ? { ObjectRef: e.objectRef } : {}),
    ...(e.responseStatus ? { ResponseStatus: e.responseStatus } : {}),
    ...(e.requestObject ? { RequestObject: e.requestObject } : {}),
    ...(e.responseObject ? { ResponseObject: e.responseObject } : {}),
    ...(e.requestReceivedTimestamp ? { RequestReceivedTime: e.requestReceivedTimestamp } : {}),
    StageReceivedTime: e.stageTimestamp,
    ...(e.annotations ? { Annotations: e.annotations } : {}),
  };
  const parsed = EventSchema.safeParse(row);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { invalid: `${issue.path.join('.')}: ${issue.message}` };
  }
  return { row: parsed.data };
}

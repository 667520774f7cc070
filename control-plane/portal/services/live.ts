import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../../protocol/index.ts';
import { ROLE } from '../../api/http.ts';
import type { LiveChange, LiveCursor, Store } from '../../store/index.ts';
import { PORTAL_LIMITS } from '../limits.ts';
import { classificationLabel, determinationLabel } from '../components/triage.ts';

/** An incident triage change's display text (the portal's labels for the Graph enum members). */
const triageText = (c: LiveChange) => (c.field === 'classification' ? classificationLabel(c.status) : c.field === 'determination' ? determinationLabel(c.status) : c.status);

export interface LiveServiceDeps {
  store: Store;
  /** Poll interval and limits (PORTAL_LIMITS unless given). */
  live?: Partial<Pick<typeof PORTAL_LIMITS, 'livePollMs' | 'liveKeepAliveMs' | 'maxLiveStreams' | 'liveBatch'>>;
}

/** `alert.status` as an SSE event id, so a reconnecting browser (Last-Event-ID) resumes where it was. */
const cursorId = (c: LiveCursor) => `${c.alert}.${c.status}`;
function parseCursor(v: string | undefined): LiveCursor | undefined {
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(v ?? '');
  return m ? { alert: Number(m[1]), status: Number(m[2]) } : undefined;
}

/**
 * The portal's live feed (issue 15 item 9): server-sent events at /portal/live. It reads the
 * store — the sinks' outbox for new alerts, the sync audit for every status change of an alert
 * copy or an incident — so a change made through any replica reaches every browser. Events:
 * `alert` (a new alert: id, title, severity, machine) and `status` (subject, id, product,
 * status; for an incident's classification, determination or owner also `field` and `text`).
 * Pages mark the values that may change with `data-live-*` attributes; scripts/live.js updates
 * them in place.
 */
export const liveService: FastifyPluginAsyncZod<LiveServiceDeps> = async (app, deps) => {
  const o = { ...PORTAL_LIMITS, ...deps.live };
  let open = 0;
  // Open feeds end when the server closes (a feed never ends by itself).
  const ends = new Set<() => void>();
  app.addHook('onClose', async () => { for (const end of [...ends]) end(); });

  app.get('/portal/live', {
    schema: {
      tags: ['portal'], summary: 'Server-sent events: new alerts and status changes (alert copies, incidents)', security: ROLE.reader,
      produces: ['text/event-stream'], headers: z.looseObject({ 'last-event-id': z.string().max(40).optional() }),
    },
  }, async (req, reply) => {
    if (open >= o.maxLiveStreams) throw protocolError('ARCSIM_E_BUSY', `at most ${o.maxLiveStreams} live feeds at once`);
    let cursor = parseCursor(req.headers['last-event-id']) ?? await deps.store.portal.liveCursor();
    open++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive',
    });
    res.write(`retry: ${o.livePollMs * 2}\nid: ${cursorId(cursor)}\nevent: ready\ndata: {}\n\n`);
    let closed = false;
    let busy = false;
    const send = (c: LiveChange, id: string) => {
      res.write(`id: ${id}\nevent: ${c.source}\ndata: ${JSON.stringify(c)}\n\n`);
    };
    const poll = async () => {
      if (closed || busy) return;
      busy = true;
      try {
        const { changes, cursor: next } = await deps.store.portal.liveChanges(cursor, o.liveBatch);
        cursor = next;
        const id = cursorId(cursor);
        for (const c of changes) {
          if (c.source === 'alert') {
            const a = await deps.store.alerts.getAlert(c.subjectId);
            if (a) {
              send({ ...c, title: String(a.properties.alertDisplayName ?? a.alertType), severity: a.severity, machine: a.resourceId.split('/').pop() } as LiveChange, id);
              continue;
            }
          }
          send(c.field ? { ...c, text: triageText(c) } as LiveChange : c, id);
        }
      } catch (err) {
        req.log.warn({ err }, 'live feed poll failed');
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(poll, o.livePollMs);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), o.liveKeepAliveMs);
    const end = () => {
      if (closed) return;
      closed = true;
      open--;
      clearInterval(timer);
      clearInterval(keepAlive);
      ends.delete(end);
      res.end();
    };
    ends.add(end);
    req.raw.on('close', end);
    res.on('close', end);
  });
};

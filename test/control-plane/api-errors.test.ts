import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createControlPlane, openSqliteStore } from '../../control-plane/index.ts';
import { tempDir } from '../helpers.ts';

/** A real winston logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Array<Record<string, any>>): winston.Logger {
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
}

test('a handler that throws gives a typed 500 that leaks nothing, logged with its request id and stack', async (t) => {
  const lines: Array<Record<string, any>> = [];
  const store = openSqliteStore({ file: join(tempDir(), 'arcsim.db') });
  const cp = createControlPlane({ store, logger: capturingLogger(lines) });
  t.after(() => cp.close());
  await cp.app.ready();
  // A real fault, not a planted route: the store underneath /api/health is gone (a caller with a
  // key gets the applied migrations, read from the store).
  await store.close();

  const res = await cp.adminRequest('GET', '/api/health');
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { code: 'ARCSIM_E_INTERNAL', message: 'internal error' });
  assert.doesNotMatch(JSON.stringify(res.body), /database|sqlite|\.ts:/i);

  const failure = lines.find((l) => l.level === 'error');
  assert.ok(failure, `an error line among ${JSON.stringify(lines)}`);
  assert.match(failure.reqId, /\S/);
  assert.match(failure.err.message, /database connection is not open/);
  assert.match(failure.err.stack, /\n\s+at /, 'the stack is logged');
  const done = lines.find((l) => l.reqId === failure.reqId && l.res);
  assert.equal(done?.res.statusCode, 500, 'the request line of the same request id');
  assert.equal(done?.req, undefined);
  assert.equal(lines.find((l) => l.reqId === failure.reqId && l.req)?.req.url, '/api/health');
});

test('a client error is answered with its typed code and is not logged as an error', async (t) => {
  const lines: Array<Record<string, any>> = [];
  const store = openSqliteStore({ file: join(tempDir(), 'arcsim.db') });
  const cp = createControlPlane({ store, logger: capturingLogger(lines) });
  t.after(async () => {
    await cp.close();
    await store.close();
  });
  const res = await cp.adminRequest('GET', '/api/events?limit=0');
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { code: 'ARCSIM_E_VALIDATION', path: 'query.limit', message: res.body.message });
  assert.match(res.body.message, /^request does not match its schema: query\.limit: /);
  // Without the admin key the same request is refused before its query is looked at.
  const anonymous = await cp.app.inject({ method: 'GET', url: '/api/events?limit=0', headers: { authorization: 'Bearer nope' } });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.json().code, 'ARCSIM_E_UNAUTHORIZED');
  assert.deepEqual(lines.filter((l) => l.level === 'error'), []);
  assert.ok(lines.some((l) => l.res?.statusCode === 400), 'the request itself is logged');
});

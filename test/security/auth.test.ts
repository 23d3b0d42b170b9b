/**
 * Bearer-token authentication over every route of the app. The routes are read from the
 * app's own route table (printRoutes), so a route added later is covered without editing
 * this file: it needs read for GET and admin for anything else unless listed below.
 * Each route is called without a token, with a wrong one, with a read and with an admin
 * token. Tokens never reach the logs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { loggerOptions } from '../../src/services/logging.ts';

const READ = 'read-tok-6f1c2b';
const ADMIN = 'admin-tok-91d0ae';
const WRONG = 'read-tok-6f1c2c';

let t: TestApp;
let logs = '';

before(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  t = await startTestApp({ API_TOKENS: `${READ}:read,${ADMIN}:admin` }, { logger: pino(loggerOptions('trace'), sink) });
});
after(async () => t?.close());

interface Route {
  method: string;
  url: string;
}

/** Every (method, path pattern) of the app, from the route tree fastify prints. */
function routeTable(printed: string): Route[] {
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of printed.split('\n')) {
    const m = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const url = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (method !== 'HEAD') routes.push({ method, url });
    }
  }
  return routes;
}

/** The policy as documented (docs/deployment.md "Security", routes/plugins/auth.ts, routes/route-config.ts), written out independently. */
function expected(r: Route): 'public' | 'read' | 'admin' {
  const url = r.url.length > 1 ? r.url.replace(/\/+$/, '') : r.url;
  if (url === '/healthz' || url === '/readyz' || url === '/docs' || url.startsWith('/docs/')) return 'public';
  // The dashboard's page and assets: static, no data.
  if (r.method === 'GET' && (url === '/' || url === '/dashboard/:file')) return 'public';
  if (url.startsWith('/admin/queues')) return 'admin';
  const admin = [
    'POST /v1/datasets',
    'DELETE /v1/datasets/:id',
    'POST /v1/datasets/:id/unload',
    'POST /v1/datasets/:id/load',
    'POST /v1/datasets/:id/reindex',
    'PUT /v1/datasets/:id/index',
    'DELETE /v1/jobs/:id',
  ];
  if (admin.includes(`${r.method} ${url}`)) return 'admin';
  const readMutations = [
    'POST /v1/datasets/:id/featurize',
    'POST /v1/datasets/:id/sample-weights',
    'POST /v1/features',
    // Previews: computed for one clip, nothing stored.
    'POST /v1/datasets/:id/samples/:n/augmented/audio.wav',
    'POST /v1/datasets/:id/samples/:n/augmented/spectrogram.png',
  ];
  if (r.method === 'GET' || readMutations.includes(`${r.method} ${url}`)) return 'read';
  return 'admin';
}

/** A concrete URL for a pattern: ids that exist nowhere, so admin calls change nothing. */
function concrete(url: string): string {
  return url
    .replace(':id', url.startsWith('/v1/jobs') ? `featurize-${'0'.repeat(32)}` : 'no-such-dataset')
    .replace(':queueName', 'no-such-queue')
    .replace(':jobId', 'no-such-job')
    .replace(':queueStatus', 'failed')
    .replace('*', 'x');
}

async function call(r: Route, token?: string) {
  const hasBody = !['GET', 'DELETE'].includes(r.method);
  return t.app.inject({
    method: r.method as 'GET',
    url: concrete(r.url),
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    ...(hasBody ? { payload: '{}' } : {}),
  });
}

function assertDenied(res: Awaited<ReturnType<typeof call>>, status: 401 | 403, what: string) {
  assert.equal(res.statusCode, status, `${what}: ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
  assert.equal(res.json().type, `https://audiofeed.dev/problems/${status === 401 ? 'unauthorized' : 'insufficient-scope'}`, what);
  assert.match(String(res.headers['www-authenticate']), /^Bearer realm="audiofeed"/, what);
}

function assertAdmitted(res: Awaited<ReturnType<typeof call>>, what: string) {
  const type = res.statusCode === 401 || res.statusCode === 403 ? (res.json() as { type?: string }).type : '';
  assert.ok(!/unauthorized|insufficient-scope/.test(type ?? ''), `${what}: refused by auth (${res.statusCode} ${type})`);
  assert.notEqual(res.statusCode, 401, what);
}

describe('every route of the route table', () => {
  test('the table is read and covers the known resources', () => {
    const routes = routeTable(t.app.printRoutes({ commonPrefix: false }));
    const keys = routes.map((r) => `${r.method} ${r.url}`);
    for (const k of ['GET /healthz', 'GET /metrics', 'POST /v1/datasets', 'GET /v1/datasets/:id/batches', 'DELETE /v1/jobs/:id', 'GET /admin/queues']) {
      assert.ok(keys.some((x) => x === k || x === `${k}/`), `${k} in ${keys.join(', ')}`);
    }
    assert.ok(routes.length > 40);
  });

  test('without a token, with a wrong, a read and an admin token', async () => {
    const routes = routeTable(t.app.printRoutes({ commonPrefix: false }));
    const seen = { public: 0, read: 0, admin: 0 };
    for (const r of routes) {
      const what = `${r.method} ${r.url}`;
      const need = expected(r);
      seen[need]++;
      if (need === 'public') {
        for (const token of [undefined, WRONG]) assertAdmitted(await call(r, token), `${what} (public)`);
        continue;
      }
      assertDenied(await call(r), 401, `${what} without a token`);
      const wrong = await call(r, WRONG);
      assertDenied(wrong, 401, `${what} with a wrong token`);
      assert.match(String(wrong.headers['www-authenticate']), /error="invalid_token"/);
      if (need === 'admin') {
        const res = await call(r, READ);
        assertDenied(res, 403, `${what} with a read token`);
        assert.match(String(res.headers['www-authenticate']), /insufficient_scope/);
      } else {
        assertAdmitted(await call(r, READ), `${what} with a read token`);
      }
      assertAdmitted(await call(r, ADMIN), `${what} with an admin token`);
    }
    assert.ok(seen.public >= 4 && seen.read >= 10 && seen.admin >= 10, JSON.stringify(seen));
  });
});

describe('details', () => {
  test('an unknown route needs a token too (no route discovery without one)', async () => {
    assert.equal((await t.app.inject({ url: '/v1/nothing' })).statusCode, 401);
    assert.equal((await t.app.inject({ url: '/v1/nothing', headers: { authorization: `Bearer ${READ}` } })).statusCode, 404);
  });

  test('other schemes and malformed headers are 401', async () => {
    for (const authorization of [`Token ${READ}`, 'Bearer', `Bearer ${READ} extra`, `bearer  ${READ}x`, `Basic ${Buffer.from(`u:${READ}`).toString('base64')}`]) {
      assert.equal((await t.app.inject({ url: '/v1/info', headers: { authorization } })).statusCode, 401, authorization);
    }
    // The scheme name is case-insensitive (RFC 9110).
    assert.equal((await t.app.inject({ url: '/v1/info', headers: { authorization: `bearer ${READ}` } })).statusCode, 200);
  });

  test('the queue board also takes HTTP Basic with the admin token as password (browsers)', async () => {
    const basic = (tok: string) => ({ authorization: `Basic ${Buffer.from(`admin:${tok}`).toString('base64')}` });
    const denied = await t.app.inject({ url: '/admin/queues' });
    assert.match(String(denied.headers['www-authenticate']), /Basic realm="audiofeed"/);
    assert.equal((await t.app.inject({ url: '/admin/queues', headers: basic(READ) })).statusCode, 403);
    const ok = await t.app.inject({ url: '/admin/queues/api/queues', headers: basic(ADMIN) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().queues.map((q: { name: string }) => q.name).sort(), ['augment-batches', 'featurize', 'featurize-shards']);
  });

  test('/docs is public and the OpenAPI document declares the bearer scheme', async () => {
    const doc = (await t.app.inject({ url: '/docs/json' })).json();
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' });
  });

  test('tokens never appear in the logs; a logged authorization header is redacted', async () => {
    await t.app.inject({ url: '/v1/info', headers: { authorization: `Bearer ${READ}` } });
    await t.app.inject({ url: '/v1/info', headers: { authorization: `Bearer ${WRONG}` } });
    await t.app.inject({ method: 'DELETE', url: '/v1/datasets/x', headers: { authorization: `Bearer ${READ}` } });
    t.app.log.info({ headers: { authorization: `Bearer ${ADMIN}`, accept: "*/*" } }, "headers logged on purpose");
    assert.ok(logs.includes("headers logged on purpose") && logs.includes("[Redacted]"), logs.slice(-1500));
    for (const tok of [READ, ADMIN, WRONG]) assert.ok(!logs.includes(tok), `token ${tok} found in the logs`);
  });

  test('without API_TOKENS nothing needs a token', async () => {
    const open = await startTestApp();
    try {
      assert.equal((await open.app.inject({ url: '/v1/datasets' })).statusCode, 200);
      assert.equal((await open.app.inject({ url: '/admin/queues/api/queues' })).statusCode, 200);
    } finally {
      await open.close();
    }
  });
});

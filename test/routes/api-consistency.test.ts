/**
 * The API behaves the same on every route (issue #22 item 6): GET /v1/datasets is
 * paginated (limit, offset, total, Link: rel="next"), every /v1 route refuses query
 * parameters it does not define with a 400 naming them, and a schema mistake is one
 * error — the one that matters, with its JSON pointer — in JSON bodies and in an
 * upload's settings part alike.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestApp, registerDataset, type TestApp } from '../helpers/app.ts';
import { smallCorpus, toneWav } from '../helpers/wav.ts';
import { injectForm } from '../helpers/multipart.ts';

let t: TestApp;

before(async () => {
  t = await startTestApp();
  smallCorpus(path.join(t.root, 'small'));
});
after(async () => t?.close());

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: { location: string; pointer: string; in: string; message: string; field?: string }[];
}

function problemOf(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown; body: string }, status: number, type: string): Problem {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as Problem;
  assert.equal(body.type, `https://audiofeed.dev/problems/${type}`);
  return body;
}

/** The `next` target of a Link header, or null. */
function nextLink(header: unknown): string | null {
  if (header === undefined) return null;
  const m = /^<([^>]+)>; rel="next"$/.exec(String(header));
  assert.ok(m, `Link header ${String(header)}`);
  return m[1]!;
}

describe('GET /v1/datasets is paginated', () => {
  const ids = ['p0', 'p1', 'p2', 'p3', 'p4'];
  before(async () => {
    // One after the other: registration order is the listing order.
    for (const id of ids) await registerDataset(t, { name: id, source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'] });
  });

  test('the whole registry fits the default page: every dataset, the total, no Link', async () => {
    const res = await t.app.inject({ url: '/v1/datasets' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.datasets.map((d: { id: string }) => d.id), ids);
    assert.equal(body.total, ids.length);
    assert.equal(res.headers.link, undefined);
  });

  test('limit and offset cut pages; Link rel="next" walks them to the end', async () => {
    const seen: string[] = [];
    let url: string | null = '/v1/datasets?limit=2';
    const links: string[] = [];
    while (url !== null) {
      const res: Awaited<ReturnType<typeof t.app.inject>> = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.total, ids.length);
      assert.ok(body.datasets.length <= 2);
      seen.push(...body.datasets.map((d: { id: string }) => d.id));
      url = nextLink(res.headers.link);
      if (url !== null) links.push(url);
      assert.ok(links.length <= ids.length, 'the links end');
    }
    assert.deepEqual(seen, ids);
    assert.deepEqual(links, ['/v1/datasets?limit=2&offset=2', '/v1/datasets?limit=2&offset=4']);

    const middle = (await t.app.inject({ url: '/v1/datasets?offset=1&limit=3' })).json();
    assert.deepEqual(middle.datasets.map((d: { id: string }) => d.id), ['p1', 'p2', 'p3']);
    const past = await t.app.inject({ url: '/v1/datasets?offset=50' });
    assert.deepEqual(past.json(), { datasets: [], total: ids.length });
    assert.equal(past.headers.link, undefined);
  });

  test('limit and offset out of range are 400 problems naming them', async () => {
    for (const [query, pointer] of [
      ['limit=0', '/limit'],
      ['limit=1001', '/limit'],
      ['limit=ten', '/limit'],
      ['offset=-1', '/offset'],
      ['offset=1.5', '/offset'],
    ] as const) {
      const p = problemOf(await t.app.inject({ url: `/v1/datasets?${query}` }), 400, 'validation-error');
      assert.equal(p.errors?.length, 1, query);
      assert.equal(p.errors![0]!.pointer, pointer, query);
      assert.equal(p.errors![0]!.in, 'querystring', query);
    }
  });
});

describe('unknown query parameters are refused on every /v1 route', () => {
  /** Every GET and DELETE route of the OpenAPI document, with its path parameters and required query parameters filled in. */
  function documentedRoutes(): { method: 'GET' | 'DELETE'; url: string; required: string }[] {
    type Op = { parameters?: { in: string; name: string; required?: boolean }[] };
    const doc = t.app.swagger() as { paths: Record<string, Record<string, Op>> };
    const out: { method: 'GET' | 'DELETE'; url: string; required: string }[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      if (!p.startsWith('/v1/')) continue;
      const url = p
        .replace(/\/$/, '')
        .replace('/v1/jobs/{id}', `/v1/jobs/featurize-${'0'.repeat(32)}`)
        .replace('{id}', 'nope')
        .replace('{n}', '0');
      for (const [m, op] of Object.entries(ops)) {
        if (m !== 'get' && m !== 'delete') continue;
        const required = (op.parameters ?? []).filter((q) => q.in === 'query' && q.required).map((q) => `${q.name}=1&`).join('');
        out.push({ method: m.toUpperCase() as 'GET' | 'DELETE', url, required });
      }
    }
    return out;
  }

  test('each route answers 400 with the parameter named, before anything else happens', async () => {
    const routes = documentedRoutes();
    // The routes that took no query string used to ignore one: they must be among those checked.
    for (const must of ['/v1/datasets', '/v1/info', '/v1/datasets/nope', '/v1/datasets/nope/summary', '/v1/jobs', '/v1/datasets/nope/jobs']) {
      assert.ok(routes.some((r) => r.url === must && r.method === 'GET'), must);
    }
    for (const { method, url, required } of routes) {
      const res = await t.app.inject({ method, url: `${url}?${required}colour=blue` });
      const p = problemOf(res, 400, 'validation-error');
      assert.equal(p.errors?.length, 1, `${method} ${url}`);
      assert.deepEqual(
        { in: p.errors![0]!.in, field: p.errors![0]!.field, pointer: p.errors![0]!.pointer },
        { in: 'querystring', field: 'colour', pointer: '/colour' },
        `${method} ${url}`,
      );
      assert.match(p.detail, /^unknown query parameter "colour"; this route takes /, `${method} ${url}`);
    }
  });

  test('the detail lists what the route takes', async () => {
    const none = problemOf(await t.app.inject({ url: '/v1/datasets/p0?lmit=5' }), 400, 'validation-error');
    assert.equal(none.detail, 'unknown query parameter "lmit"; this route takes no query parameters');
    const some = problemOf(await t.app.inject({ url: '/v1/datasets?lmit=5' }), 400, 'validation-error');
    assert.equal(some.detail, 'unknown query parameter "lmit"; this route takes limit, offset');
  });

  test('mutating routes refuse them too', async () => {
    for (const [url, payload] of [
      ['/v1/datasets/p0/load', { subset: 'training' }],
      ['/v1/datasets/p0/featurize', { subset: 'training' }],
      ['/v1/datasets/p0/unload', undefined],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: `${url}?force=1`, ...(payload ? { payload } : {}) });
      const p = problemOf(res, 400, 'validation-error');
      assert.equal(p.errors![0]!.field, 'force', url);
    }
    // Nothing happened: p0 is still loaded.
    assert.equal((await t.app.inject({ url: '/v1/datasets/p0' })).json().loaded_subset, 'training');
  });

  test('routes outside the API (health probes) keep answering', async () => {
    assert.equal((await t.app.inject({ url: '/healthz?probe=1' })).statusCode, 200);
  });
});

describe('one clear error per schema mistake', () => {
  const base = { source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'] };
  const register = (body: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base, ...body } });

  // [what is wrong, the body, the pointer of the one error, its message]
  const MISTAKES: [string, Record<string, unknown>, string, string | RegExp][] = [
    ['a range item of the wrong type', { augmentation: { offset_range: [0, 'a'] } }, '/augmentation/offset_range/1', 'must be number'],
    ['a range that is not a pair', { augmentation: { offset_range: 5 } }, '/augmentation/offset_range', 'must be array or null'],
    ['a range bound out of range', { augmentation: { speed_range: [0.9, 5000] } }, '/augmentation/speed_range/1', 'must be <= 1000'],
    ['a literal none of the branches take', { augmentation: { bg_noise_mode: 'x' } }, '/augmentation/bg_noise_mode', 'must be "mix" or "mltk"'],
    ['a value of none of the types', { augmentation: { noise_colors: 'pink' } }, '/augmentation/noise_colors', 'must be "all", "none", null or array'],
    ['an unknown augmentation field', { augmentation: { ofset_range: [0, 1] } }, '/augmentation/ofset_range', /^unknown field "ofset_range"; the fields here are offset_range, /],
    ['augmentation of the wrong type', { augmentation: 'yes' }, '/augmentation', 'must be object or null'],
    ['a source type nobody knows', { source: { type: 'dir', path: 'small' } }, '/source/type', 'must be "directory" or "loader"'],
    ['a directory source without its path', { source: { type: 'directory' } }, '/source', "must have required property 'path'"],
    ['a loader source without its name', { source: { type: 'loader' } }, '/source', "must have required property 'name'"],
    ['a field of the wrong branch', { source: { type: 'directory', path: 'small', name: 'x' } }, '/source/name', /^unknown field "name"; the fields here are type, path$/],
    ['a number of no accepted type', { class_weights: 5 }, '/class_weights', 'must be null, string, object or array'],
    ['a seed below its minimum', { seed: -1 }, '/seed', 'must be >= 0'],
    ['an unknown top-level field', { colour: 'red' }, '/colour', /^unknown field "colour"; the fields here are source, name, classes, /],
    ['a frontend setting of the wrong type', { frontend_settings: { window_size_ms: 'x' } }, '/frontend_settings/window_size_ms', 'must be integer'],
  ];

  for (const [what, body, pointer, message] of MISTAKES) {
    test(`${what}: one error at ${pointer}`, async () => {
      const p = problemOf(await register(body), 400, 'validation-error');
      assert.equal(p.errors?.length, 1, JSON.stringify(p.errors));
      const e = p.errors![0]!;
      assert.equal(e.pointer, pointer);
      assert.equal(e.in, 'body');
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      // The detail says the same, with where.
      assert.ok(p.detail.startsWith('body'), p.detail);
      assert.ok(p.detail.includes(e.message), p.detail);
    });
  }

  test('an unknown field keeps naming the object that holds it (location) and the field', async () => {
    const p = problemOf(await register({ augmentation: { ofset_range: [0, 1] } }), 400, 'validation-error');
    assert.deepEqual({ location: p.errors![0]!.location, field: p.errors![0]!.field }, { location: 'body/augmentation', field: 'ofset_range' });
  });

  test("an upload's settings part reports the same one error", async () => {
    const form = new FormData();
    form.append('settings', JSON.stringify({ classes: ['yes', 'no'], augmentation: { offset_range: [0, 'a'] } }));
    form.append('file', new Blob([toneWav()]), 'yes/a.wav');
    const res = await injectForm(t.app, '/v1/datasets', form);
    const p = problemOf(res, 400, 'validation-error');
    assert.deepEqual(p.errors, [
      { location: 'settings/augmentation/offset_range/1', pointer: '/augmentation/offset_range/1', in: 'settings', message: 'must be number' },
    ]);
    assert.equal(p.detail, 'settings/augmentation/offset_range/1 must be number');
  });

  test('query strings: a value out of an enum names the values', async () => {
    const p = problemOf(await t.app.inject({ url: '/v1/datasets/p0/batches?subset=testing' }), 400, 'validation-error');
    assert.deepEqual(p.errors, [{ location: 'querystring/subset', pointer: '/subset', in: 'querystring', message: 'must be "training", "validation" or "evaluation"' }]);
  });
});

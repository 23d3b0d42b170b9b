/**
 * Rate limiting (429 problem+json with Retry-After, per client, health checks exempt)
 * and CORS (only configured origins; preflights pass without credentials).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('rate limit', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  after(async () => t?.close());

  test('the request over the limit is a 429 problem with Retry-After; others are not counted against it', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ url: '/v1/info', remoteAddress: '10.0.0.1' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-ratelimit-remaining'], String(2 - i));
    }
    const res = await t.app.inject({ url: '/v1/datasets', remoteAddress: '10.0.0.1' });
    assert.equal(res.statusCode, 429);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json().type, 'https://audiofeed.dev/problems/rate-limited');
    assert.equal(res.json().limit, 3);
    assert.ok(Number(res.headers['retry-after']) > 0);
    // Another client has its own budget; health checks and metrics are exempt.
    assert.equal((await t.app.inject({ url: '/v1/info', remoteAddress: '10.0.0.2' })).statusCode, 200);
    for (const url of ['/healthz', '/metrics']) {
      assert.equal((await t.app.inject({ url, remoteAddress: '10.0.0.1' })).statusCode, 200, url);
    }
    // Not counted either (503 here: this app has no featurization worker).
    assert.notEqual((await t.app.inject({ url: '/readyz', remoteAddress: '10.0.0.1' })).statusCode, 429);
  });

  test('RATE_LIMIT_MAX=0 turns it off', async () => {
    const open = await startTestApp({ RATE_LIMIT_MAX: '0' });
    try {
      for (let i = 0; i < 20; i++) assert.equal((await open.app.inject({ url: '/v1/info' })).statusCode, 200);
      assert.equal((await open.app.inject({ url: '/v1/info' })).headers['x-ratelimit-limit'], undefined);
    } finally {
      await open.close();
    }
  });
});

describe('behind a reverse proxy (TRUST_PROXY)', () => {
  test("a trusted proxy's clients are told apart by X-Forwarded-For; an untrusted peer's header is ignored", async () => {
    const t = await startTestApp({ RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '60000', TRUST_PROXY: '10.0.0.9' });
    try {
      const via = (remoteAddress: string, client: string) =>
        t.app.inject({ url: '/v1/info', remoteAddress, headers: { 'x-forwarded-for': client } });
      // Two clients behind the proxy: one request each is within the limit of 1.
      assert.equal((await via('10.0.0.9', '203.0.113.1')).statusCode, 200);
      assert.equal((await via('10.0.0.9', '203.0.113.2')).statusCode, 200);
      assert.equal((await via('10.0.0.9', '203.0.113.1')).statusCode, 429, 'the same client again');
      // A peer that is not the proxy cannot pick its address with the header.
      assert.equal((await via('198.51.100.7', '203.0.113.3')).statusCode, 200);
      assert.equal((await via('198.51.100.7', '203.0.113.4')).statusCode, 429);
    } finally {
      await t.close();
    }
  });

  test('without TRUST_PROXY every client of a proxy is the proxy', async () => {
    const t = await startTestApp({ RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '60000' });
    try {
      const via = (client: string) => t.app.inject({ url: '/v1/info', remoteAddress: '10.0.0.9', headers: { 'x-forwarded-for': client } });
      assert.equal((await via('203.0.113.1')).statusCode, 200);
      assert.equal((await via('203.0.113.2')).statusCode, 429);
    } finally {
      await t.close();
    }
  });
});

describe('CORS', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ CORS_ORIGINS: 'https://dash.example, https://other.example', API_TOKENS: 'tok-read-1:read' });
  });
  after(async () => t?.close());

  test('a preflight from a configured origin is answered without credentials', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/datasets',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://dash.example');
    assert.match(String(res.headers['access-control-allow-headers']), /authorization/);
  });

  test('responses, also 401s, carry the CORS headers for configured origins only', async () => {
    const ok = await t.app.inject({ url: '/v1/info', headers: { origin: 'https://other.example', authorization: 'Bearer tok-read-1' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://other.example');
    assert.match(String(ok.headers['access-control-expose-headers']), /x-request-id/);
    const denied = await t.app.inject({ url: '/v1/info', headers: { origin: 'https://dash.example' } });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.headers['access-control-allow-origin'], 'https://dash.example');
    const foreign = await t.app.inject({ url: '/v1/info', headers: { origin: 'https://evil.example', authorization: 'Bearer tok-read-1' } });
    assert.equal(foreign.headers['access-control-allow-origin'], undefined);
  });

  test('without CORS_ORIGINS no CORS header is sent', async () => {
    const plain = await startTestApp();
    try {
      const res = await plain.app.inject({ url: '/v1/info', headers: { origin: 'https://dash.example' } });
      assert.equal(res.headers['access-control-allow-origin'], undefined);
    } finally {
      await plain.close();
    }
  });
});

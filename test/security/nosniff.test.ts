/**
 * Issue #21 item 8: `X-Content-Type-Options: nosniff` on every response: JSON, problems
 * (also those sent before routing), text, metrics, the dashboard and its assets, the
 * OpenAPI page, HEAD and hijacked batch streams, and the raw answer to unparseable HTTP.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { smallCorpus } from '../helpers/wav.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';

let t: TestApp;
let workers: RunningWorkers;
let base: string;
before(async () => {
  t = await startTestApp();
  smallCorpus(t.root);
  workers = startTestWorkers(t);
  await registerDataset(t, { name: 'small', source: { type: 'directory', path: '.' }, classes: ['yes', 'no', 'maybe'], batch_size: 2 });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await workers.close();
  await t.close();
});

test('every route answers nosniff, problems and streams included', async () => {
  const requests: { url: string; method?: 'GET' | 'HEAD' | 'POST'; status: number; payload?: object }[] = [
    { url: '/v1/datasets', status: 200 },
    { url: '/v1/datasets/small', status: 200 },
    { url: '/v1/datasets/small/summary', status: 200 },
    { url: '/v1/datasets/nope', status: 404 },
    { url: '/v1/no-such-route', status: 404 },
    { url: '/v1/datasets?limit=nope', status: 400 },
    { url: '/v1/datasets', method: 'POST', payload: { name: 'bad' }, status: 400 },
    { url: '/v1/datasets/%E0%A4%A', status: 400 },
    { url: `/v1/datasets/${'x'.repeat(20_000)}`, status: 414 },
    { url: '/healthz', status: 200 },
    { url: '/metrics', status: 200 },
    { url: '/', status: 200 },
    { url: '/docs/json', status: 200 },
    { url: '/v1/datasets/small/batches?batch_size=4&format=npy', method: 'HEAD', status: 200 },
    { url: '/v1/datasets/small/batches?batch_size=4&format=npy', status: 200 },
    { url: '/v1/datasets/small/batches?batch_size=4', status: 200 },
  ];
  for (const r of requests) {
    const res = await t.app.inject({ url: r.url, method: r.method ?? 'GET', payload: r.payload });
    assert.equal(res.statusCode, r.status, `${r.method ?? 'GET'} ${r.url.slice(0, 80)}: ${res.body.slice(0, 200)}`);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', `${r.method ?? 'GET'} ${r.url.slice(0, 80)}`);
  }
  // A dashboard asset, whatever its name in this build.
  const page = (await t.app.inject({ url: '/' })).body;
  const asset = /\/dashboard\/[^"']+/.exec(page)?.[0];
  assert.ok(asset, 'the page links an asset');
  assert.equal((await t.app.inject({ url: asset })).headers['x-content-type-options'], 'nosniff');
});

test('over a socket: a hijacked batch stream and the answer to unparseable HTTP', async () => {
  const res = await fetch(`${base}/v1/datasets/small/batches?batch_size=4&format=npy`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  await res.arrayBuffer();

  const url = new URL(base);
  const raw = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname, () => sock.write('NOT HTTP AT ALL\r\n\r\n'));
    let got = '';
    sock.on('data', (d) => (got += String(d)));
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.match(raw, /\r\nX-Content-Type-Options: nosniff\r\n/i);
});

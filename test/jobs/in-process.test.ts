/**
 * `npm start` runs its workers in worker threads (DSP off the API's event loop); the
 * threads load TypeScript through their own tsx registration. Without any worker, a
 * stream that needs featurization is refused instead of hanging.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { smallCorpus } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';
import { startInProcessWorkers } from '../../jobs/in-process.ts';

let t: TestApp;
/** The API's warnings and errors (what a 500 was), for failure messages. */
const apiLog: string[] = [];
before(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      apiLog.push(String(chunk).trim());
      done();
    },
  });
  t = await startTestApp({}, { logger: pino({ level: 'warn' }, sink) });
  smallCorpus(path.join(t.root, 'small'));
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/datasets',
    payload: { name: 'small', source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'], batch_size: 4 },
  });
  assert.equal(res.statusCode, 201, res.body);
});
after(async () => t?.close());

test('without any worker, a stream that needs featurization is a 503 problem', async () => {
  const res = await t.app.inject({ url: '/v1/datasets/small/batches?format=npy' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().type, 'https://audiofeed.dev/problems/no-workers');
});

test('worker threads featurize and the stream completes', async () => {
  const logs: string[] = [];
  const workers = startInProcessWorkers(
    1,
    { redisUrl: t.redisUrl, prefix: t.prefix, concurrency: 1, frontendBackend: 'auto', lockMs: 5000 },
    { info: (m) => logs.push(m), error: (m) => logs.push(`ERROR ${m}`) },
  );
  try {
    // Ready means a worker is connected to the queues (GET /readyz), not only that the thread started.
    await waitFor(async () => (await t.app.inject({ url: '/readyz' })).statusCode, {
      what: 'a worker thread connected (/readyz 200)',
      until: (s) => s === 200,
      everyMs: 100,
      describe: (s) => `${s}; worker logs:\n${logs.join('\n')}`,
    });
    const res = await t.app.inject({ url: '/v1/datasets/small/batches?format=npy' });
    assert.equal(res.statusCode, 200, `${res.body}\nAPI log:\n${apiLog.join('\n')}\nworker log:\n${logs.join('\n')}`);
    assert.equal(res.headers['x-audiofeed-batches'], '3');
    assert.ok(!logs.some((l) => l.includes('crashed')), logs.join('\n'));
  } finally {
    await workers.close();
  }
});

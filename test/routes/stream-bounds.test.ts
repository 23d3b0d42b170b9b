/**
 * Issue #11 item 2: memory bounds of batch streams. A batch larger than MAX_BATCH_BYTES is
 * a 413 naming the limit; streams beyond STREAM_MEMORY_BUDGET wait, then get 503 with
 * Retry-After; HEAD answers the stream's headers without streaming.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { smallCorpus } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { StreamMemoryBudget, streamReservationBytes } from '../../src/services/stream-budget.ts';
import { closeAll } from '../helpers/cleanup.ts';

// One float32 row of (98, 32, 1) + 3 classes: 98*32*4 + 12 + 4 = 12560 bytes.
const ROW = 98 * 32 * 4 + 12 + 4;

describe('batch stream bounds', () => {
  let t: TestApp;
  let workers: RunningWorkers;
  before(async () => {
    // 4 rows per batch at most; the budget holds one stream of 4-row batches (2 in flight).
    t = await startTestApp({ MAX_BATCH_BYTES: String(4 * ROW), STREAM_MEMORY_BUDGET: String(streamReservationBytes(4 * ROW)), STREAM_BUDGET_WAIT_MS: '300' });
    smallCorpus(t.root);
    workers = startTestWorkers(t);
    await registerDataset(t, { name: 'small', source: { type: 'directory', path: '.' }, classes: ['yes', 'no', 'maybe'], batch_size: 2 });
  });
  after(() =>
    closeAll(
      () => workers?.close(),
      () => t?.close(),
    ),
  );

  test('a batch larger than MAX_BATCH_BYTES is a 413 problem naming the limit, before anything is queued', async () => {
    for (const q of ['batch_size=5', 'batch_size=-1', 'batch_size=65536', 'subset=training&batch_size=65536&format=npy']) {
      const res = await t.app.inject({ url: `/v1/datasets/small/batches?${q}` });
      assert.equal(res.statusCode, 413, `${q}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const body = res.json();
      assert.equal(body.type, 'https://audiofeed.dev/problems/payload-too-large');
      assert.equal(body.setting, 'MAX_BATCH_BYTES');
      assert.equal(body.limit, 4 * ROW);
      assert.ok(body.requested > body.limit);
      assert.equal(body.max_batch_size, 4);
    }
    const counts = await t.queues.jobCounts('waiting', 'active', 'completed', 'delayed', 'prioritized');
    const total = Object.values(counts).flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
    assert.equal(total, 0, JSON.stringify(counts));
    const ok = await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=4' });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  test('HEAD …/batches answers the headers of GET without streaming', async () => {
    const get = await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=3&from_batch=1' });
    const head = await t.app.inject({ method: 'HEAD', url: '/v1/datasets/small/batches?batch_size=3&from_batch=1' });
    assert.equal(head.statusCode, 200, head.body);
    assert.equal(head.body, '');
    for (const h of ['content-type', 'x-audiofeed-batches', 'x-audiofeed-from-batch', 'x-audiofeed-columns', 'x-audiofeed-x-shape', 'x-audiofeed-dtype']) {
      assert.equal(head.headers[h], get.headers[h], h);
    }
    assert.equal(head.headers['x-audiofeed-batches'], '4');
    assert.equal((await t.app.inject({ method: 'HEAD', url: '/v1/datasets/small/batches?batch_size=65536' })).statusCode, 413);
  });

  test('a stream beyond STREAM_MEMORY_BUDGET waits, then is a 503 with Retry-After; once room is free it is served', async () => {
    // Other streams in flight hold all but 3 rows (and the frames' overhead) of the budget.
    const others = await t.ctx.streamBudget.reserve(5 * ROW);
    try {
      const res = await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=2' });
      assert.equal(res.statusCode, 503, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().type, 'https://audiofeed.dev/problems/stream-budget-exhausted');
      assert.equal(res.json().setting, 'STREAM_MEMORY_BUDGET');
      assert.equal(res.json().requested, streamReservationBytes(2 * ROW));
      assert.ok(Number(res.headers['retry-after']) >= 1);
      // A stream that fits in what is left is served meanwhile.
      assert.equal((await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=1' })).statusCode, 200);
      // A waiting stream is served as soon as room frees up within STREAM_BUDGET_WAIT_MS.
      const waiting = t.app.inject({ url: '/v1/datasets/small/batches?batch_size=4' });
      setTimeout(() => others.release(), 50);
      assert.equal((await waiting).statusCode, 200);
    } finally {
      others.release();
    }
    // Every stream gave its reservation back when it ended.
    await waitFor(() => t.ctx.streamBudget.inUse, { what: 'every stream reservation given back', until: (n) => n === 0 });
  });
});

test('StreamMemoryBudget: first come first served, a waiter is granted when room frees up', async () => {
  const b = new StreamMemoryBudget(100, 1000);
  const a = await b.reserve(60);
  const waiting = b.reserve(50);
  let granted = false;
  void waiting.then(() => (granted = true));
  // Every callback that could run has run (the pending promise jobs, then an event-loop turn): still waiting.
  await new Promise((r) => setImmediate(r));
  assert.equal(granted, false);
  a.release();
  a.release();
  const w = await waiting;
  assert.equal(b.inUse, 50);
  w.release();
  assert.equal(b.inUse, 0);
  await assert.rejects(new StreamMemoryBudget(10, 0).reserve(5).then(() => new StreamMemoryBudget(10, 0).reserve(20)).then(async () => {
    const c = new StreamMemoryBudget(10, 0);
    await c.reserve(10);
    await c.reserve(1);
  }), /STREAM_MEMORY_BUDGET/);
});

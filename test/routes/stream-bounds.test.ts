/**
 * Issue #11 item 2: memory bounds of batch streams. A batch larger than MAX_BATCH_BYTES is
 * a 413 naming the limit; streams beyond STREAM_MEMORY_BUDGET wait, then get 503 with
 * Retry-After; HEAD answers the stream's headers without streaming.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { makeTree, smallCorpus, toneWav } from '../helpers/wav.ts';
import { batchIndices, maxBatchRows, MAX_BATCH_SIZE, MAX_EPOCH_POSITIONS, MAX_STEPS_BEYOND_EPOCH } from '../../src/core/datasets/batch-order.ts';
import { epochBatchRows, planEpoch } from '../../src/services/epochs/epoch-plan.ts';
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

/**
 * Issue #21 item 0: a batch_size far above the subset's size is filled with repeats (the
 * MLTK wrap-around), so its batches have batch_size rows: MAX_BATCH_BYTES and the stream
 * budget are computed from the rows the epoch plan emits, not from min(batch_size, n).
 */
describe('batch_size far above the subset (wrap-around) is bounded by MAX_BATCH_BYTES', () => {
  let t: TestApp;
  before(async () => {
    // The default MAX_BATCH_BYTES (64 MiB); 50 clips: a 50-row batch is 0.6 MiB, a 65536-row one 823 MB.
    t = await startTestApp();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) files[`yes/y${i}.wav`] = toneWav(1600, 300 + 10 * i);
    for (let i = 0; i < 18; i++) files[`no/n${i}.wav`] = toneWav(1600, 900 + 10 * i);
    for (let i = 0; i < 12; i++) files[`maybe/m${i}.wav`] = toneWav(1600, 2000 + 10 * i);
    makeTree(t.root, files);
    await registerDataset(t, {
      name: 'fifty',
      source: { type: 'directory', path: '.' },
      classes: ['yes', 'no', 'maybe'],
      validation_split: 0,
      class_weights: 'balanced',
    });
  });
  after(async () => {
    await t.close();
  });

  test('npy and Arrow, x + labels + class weights: 413 before anything is planned, reserved or queued', async () => {
    let opened = 0;
    const open = t.ctx.epochs.open.bind(t.ctx.epochs);
    t.ctx.epochs.open = (...args) => {
      opened++;
      return open(...args);
    };
    const reserve = t.ctx.streamBudget.reserve.bind(t.ctx.streamBudget);
    let reserved = 0;
    t.ctx.streamBudget.reserve = (...args) => {
      reserved++;
      return reserve(...args);
    };
    try {
      for (const method of ['GET', 'HEAD'] as const) {
        for (const format of ['npy', 'arrow']) {
          for (const q of [`batch_size=65536&class_weight=true&format=${format}`, `batch_size=6000&class_mode=categorical&format=${format}`]) {
            const res = await t.app.inject({ method, url: `/v1/datasets/fifty/batches?${q}` });
            assert.equal(res.statusCode, 413, `${method} ${q}: ${res.statusCode} ${res.body}`);
            if (method === 'GET') {
              assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
              const body = res.json();
              assert.equal(body.setting, 'MAX_BATCH_BYTES');
              assert.equal(body.limit, 64 * 1024 * 1024);
              assert.ok(body.requested > body.limit, res.body);
              // The largest batch that fits, from the rows a batch really has.
              assert.ok(body.max_batch_size > 50 && body.max_batch_size < 6000, res.body);
            }
          }
        }
      }
      assert.equal(opened, 0, 'no epoch was planned');
      assert.equal(reserved, 0, 'no stream budget was reserved');
      assert.equal(t.ctx.streamBudget.inUse, 0);
      const counts = await t.queues.jobCounts('waiting', 'active', 'completed', 'delayed', 'prioritized');
      assert.equal(Object.values(counts).flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0), 0, JSON.stringify(counts));
    } finally {
      t.ctx.epochs.open = open;
      t.ctx.streamBudget.reserve = reserve;
    }
  });

  test('a batch_size above the subset that fits is planned with that many rows per batch', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: '/v1/datasets/fifty/batches?batch_size=120&class_weight=true&format=npy' });
    assert.equal(head.statusCode, 200, head.body);
    assert.equal(head.headers['x-audiofeed-batches'], '1');
    const rec = await t.ctx.registry.get('fifty');
    const subsets = await t.ctx.registry.subsets('fifty');
    const ep = planEpoch(rec, subsets, { subset: 'training', epoch: 0, batchSize: 120 }, '');
    assert.equal(ep.maxBatchRows, 120);
    assert.deepEqual(Array.from({ length: ep.batches.length }, (_, i) => ep.batches.at(i)!.length), [120]);
    assert.equal(epochBatchRows(rec, subsets, { subset: 'training', batchSize: -1 }), 50);
    assert.equal(epochBatchRows(rec, subsets, { subset: 'training', batchSize: 65536 }), 65536);
  });

  test('registration refuses a batch_size above MAX_BATCH_SIZE', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { name: 'huge', source: { type: 'directory', path: '.' }, classes: ['yes', 'no'], batch_size: MAX_BATCH_SIZE + 1 },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.match(res.body, /batch_size/);
    const q = await t.app.inject({ url: `/v1/datasets/fifty/batches?batch_size=${MAX_BATCH_SIZE + 1}` });
    assert.equal(q.statusCode, 400, q.body);
  });

  test('an epoch far longer than the subset (steps_per_epoch) is a 422 before it is planned', async () => {
    for (const q of ['steps_per_epoch=10000000&batch_size=1', 'steps_per_epoch=200000&batch_size=1', 'steps_per_epoch=100000&batch_size=200']) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await t.app.inject({ method, url: `/v1/datasets/fifty/batches?${q}` });
        assert.equal(res.statusCode, 422, `${method} ${q}: ${res.body}`);
        if (method === 'GET') {
          assert.equal(res.json().setting, 'steps_per_epoch');
          assert.ok(res.json().max_steps >= 1);
        }
      }
    }
    assert.equal(t.ctx.streamBudget.inUse, 0);
    // Longer than the subset within the bounds (Keras' fixed steps_per_epoch on a small dataset) is planned.
    const head = await t.app.inject({ method: 'HEAD', url: '/v1/datasets/fifty/batches?steps_per_epoch=1000&batch_size=32' });
    assert.equal(head.statusCode, 200, head.body);
    assert.equal(head.headers['x-audiofeed-batches'], '1000');
  });

  test('the head of augmented epoch 0 is not computed ahead when its batches are over MAX_BATCH_BYTES', async () => {
    const rec = await t.ctx.registry.get('fifty');
    const subsets = await t.ctx.registry.subsets('fifty');
    const augmented = { ...rec, settings: { ...rec.settings, augmentation: { offset_range: [0, 1], loudness_range: [0.6, 1.2] } } } as typeof rec;
    const big = { ...augmented, settings: { ...augmented.settings, batch_size: 65536 } };
    assert.equal(await t.ctx.epochs.precomputeHead(big, subsets, 'test'), 0);
    // The same dataset with batches that fit has its head queued.
    assert.ok((await t.ctx.epochs.precomputeHead(augmented, subsets, 'test')) > 0);
  });
});

test('batchIndices: an epoch beyond one pass is bounded in batches and positions, before allocating', () => {
  assert.throws(() => batchIndices(50, 1, { shuffle: true, epoch: 0, stepsPerEpoch: MAX_STEPS_BEYOND_EPOCH + 1 }), /at most 131072 batches/);
  assert.throws(() => batchIndices(50, 4096, { shuffle: true, epoch: 0, stepsPerEpoch: MAX_EPOCH_POSITIONS / 4096 + 1 }), /steps_per_epoch/);
  assert.equal(batchIndices(50, 4096, { shuffle: false, epoch: 0, stepsPerEpoch: MAX_EPOCH_POSITIONS / 4096 / 64 }).length, 64);
  // Within one pass any length is planned (the subset's size bounds it).
  assert.equal(batchIndices(300_000, 1, { shuffle: false, epoch: 0 }).length, 300_000);
});

test('maxBatchRows: every batch has batch_size rows, cycling past the subset', () => {
  assert.equal(maxBatchRows(50, 65536), 65536);
  assert.equal(maxBatchRows(50, -1), 50);
  assert.equal(maxBatchRows(0, 32), 0);
  for (const b of batchIndices(5, 12, { shuffle: true, epoch: 1 })) {
    assert.equal(b.length, maxBatchRows(5, 12));
    assert.ok(b.every((p) => p >= 0 && p < 5));
  }
});

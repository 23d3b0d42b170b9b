/**
 * Featurization on BullMQ workers and batch streaming: an epoch streamed over HTTP equals,
 * batch for batch and byte for byte, what src/ computes directly (decode → frontend →
 * dtype → labels in MLTK's epoch order), in both wire formats; from_batch resumes
 * exactly; a repeated request does no featurization work; a clip that cannot be read is
 * skipped by every epoch and reported with its reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RecordBatchReader } from 'apache-arrow';
import { connectIdleWorkers, featurized, startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { SHARD_QUEUE } from '../../jobs/queues.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { batchIndices, buildLabels } from '../../src/core/datasets/index.ts';
import { loadSample, toInt16 } from '../../src/core/audio/index.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { convertSpectrogram } from '../../src/core/frontend/output.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';
import { closeAll } from '../helpers/cleanup.ts';

let t: TestApp;
let workers: RunningWorkers;
const settings = resolveFrontendSettings({});

before(async () => {
  t = await startTestApp();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  // One clip that cannot be decoded, in a class of its own position in the list.
  fs.copyFileSync(testdata('bad-wavs', 'truncated-data.wav'), path.join(t.root, 'mini', 'yes', 'ffffffff_nohash_0.wav'));
  workers = startTestWorkers(t);
  await registerDataset(t, {
    name: 'mini',
    source: { type: 'directory', path: 'mini' },
    classes: ['yes', 'no', '_unknown_', '_silence_'],
    validation_split: 0.2,
    batch_size: 8,
    class_weights: 'balanced',
  });
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

async function samples(subset: 'training' | 'validation') {
  const res = await t.app.inject({ url: `/v1/datasets/mini/samples?subset=${subset}&limit=10000` });
  return res.json().items as { entry: string | null; label: number }[];
}

/** What src/ computes for one clip, without shards, queues or HTTP. */
const featureCache = new Map<string, Uint16Array | null>();
async function directFeatures(entry: string | null): Promise<Uint16Array | null> {
  const key = entry ?? '<silence>';
  if (!featureCache.has(key)) {
    try {
      const audio = await loadSample(entry === null ? null : path.join(t.root, 'mini', entry), { sampleRateHz: 16000, sampleLengthMs: 1000 });
      featureCache.set(key, computeSpectrogram(settings, toInt16(audio)).uint16);
    } catch {
      featureCache.set(key, null);
    }
  }
  return featureCache.get(key)!;
}

interface Expected {
  x: Uint8Array;
  y: Uint8Array;
  rows: number;
}

async function expectedEpoch(
  subset: 'training' | 'validation',
  opts: { epoch: number; shuffle: boolean; dtype: 'float32' | 'int8' | 'uint16'; classMode: 'categorical' | 'sparse' },
): Promise<Expected[]> {
  const items = await samples(subset);
  const order = batchIndices(items.length, 8, { shuffle: opts.shuffle, seed: null, epoch: opts.epoch });
  const out: Expected[] = [];
  for (const positions of order) {
    const rows: ArrayLike<number>[] = [];
    const labels: number[] = [];
    for (const p of positions) {
      const u16 = await directFeatures(items[p]!.entry);
      if (!u16) continue; // skipped: cannot be decoded
      rows.push(opts.dtype === 'uint16' ? u16 : convertSpectrogram(u16, settings, opts.dtype));
      labels.push(items[p]!.label);
    }
    const Ctor = { float32: Float32Array, int8: Int8Array, uint16: Uint16Array }[opts.dtype];
    const x = new Ctor(rows.length * 98 * 32);
    rows.forEach((r, i) => x.set(r as ArrayLike<number>, i * 98 * 32));
    const y = buildLabels(labels, opts.classMode, 4, opts.dtype);
    assert.ok(y && y.kind === 'labels');
    out.push({ x: new Uint8Array(x.buffer), y: new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength), rows: rows.length });
  }
  return out;
}

function npyBatches(body: Buffer, columns: number): Uint8Array[][] {
  const batches: Uint8Array[][] = [];
  let at = 0;
  while (at < body.length) {
    const batch: Uint8Array[] = [];
    for (let c = 0; c < columns; c++) {
      const a = decodeNpy(body.subarray(at));
      batch.push(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
      at += a.byteLength;
    }
    batches.push(batch);
  }
  return batches;
}

async function arrowBatches(body: Buffer): Promise<{ x: Uint8Array; y: Uint8Array; rows: number }[]> {
  const out: { x: Uint8Array; y: Uint8Array; rows: number }[] = [];
  const reader = await RecordBatchReader.from(body);
  for await (const rb of reader) {
    const x = rb.getChild('x')!.data[0]!.children[0]!.values as ArrayLike<number> & ArrayBufferView;
    const yData = rb.getChild('y')!.data[0]!;
    const y = (yData.children.length ? yData.children[0]!.values : yData.values) as ArrayBufferView;
    const xBytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const rowBytes = xBytes.byteLength / Math.max(1, rb.numRows);
    out.push({ x: xBytes.subarray(0, rowBytes * rb.numRows), y: new Uint8Array(y.buffer, y.byteOffset, y.byteLength), rows: rb.numRows });
  }
  return out;
}

describe('an epoch over HTTP equals src/ computed directly', () => {
  test('training epoch 0, npy stream, float32 categorical', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?subset=training&epoch=0&format=npy' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/x-npy-stream');
    assert.equal(res.headers['x-audiofeed-columns'], 'x,y');
    const got = npyBatches(res.rawPayload, 2);
    const want = await expectedEpoch('training', { epoch: 0, shuffle: true, dtype: 'float32', classMode: 'categorical' });
    assert.equal(got.length, want.length);
    assert.equal(Number(res.headers['x-audiofeed-batches']), want.length);
    got.forEach((b, i) => {
      assert.ok(Buffer.from(b[0]!).equals(Buffer.from(want[i]!.x)), `x of batch ${i}`);
      assert.ok(Buffer.from(b[1]!).equals(Buffer.from(want[i]!.y)), `y of batch ${i}`);
    });
  });

  test('the same epoch as Arrow IPC carries the same bytes', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?subset=training&epoch=0' });
    assert.equal(res.headers['content-type'], 'application/vnd.apache.arrow.stream');
    const got = await arrowBatches(res.rawPayload);
    const want = await expectedEpoch('training', { epoch: 0, shuffle: true, dtype: 'float32', classMode: 'categorical' });
    assert.equal(got.length, want.length);
    got.forEach((b, i) => {
      assert.equal(b.rows, want[i]!.rows);
      assert.ok(Buffer.from(b.x).equals(Buffer.from(want[i]!.x)), `x of batch ${i}`);
      assert.ok(Buffer.from(b.y).equals(Buffer.from(want[i]!.y)), `y of batch ${i}`);
    });
  });

  test('another epoch is another order of the same features', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?subset=training&epoch=3&format=npy&dtype=int8&class_mode=sparse' });
    const got = npyBatches(res.rawPayload, 2);
    const want = await expectedEpoch('training', { epoch: 3, shuffle: true, dtype: 'int8', classMode: 'sparse' });
    got.forEach((b, i) => {
      assert.ok(Buffer.from(b[0]!).equals(Buffer.from(want[i]!.x)), `x of batch ${i}`);
      assert.ok(Buffer.from(b[1]!).equals(Buffer.from(want[i]!.y)), `y of batch ${i}`);
    });
  });

  test('evaluation is the validation files in order, uint16', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?subset=evaluation&format=npy&dtype=uint16' });
    const got = npyBatches(res.rawPayload, 2);
    const want = await expectedEpoch('validation', { epoch: 0, shuffle: false, dtype: 'uint16', classMode: 'categorical' });
    assert.equal(got.length, want.length);
    got.forEach((b, i) => assert.ok(Buffer.from(b[0]!).equals(Buffer.from(want[i]!.x)), `x of batch ${i}`));
  });

  test('unshuffled batches (consecutive rows of a shard, read together) are exact in the converted dtypes too', async () => {
    for (const dtype of ['float32', 'int8'] as const) {
      const res = await t.app.inject({ url: `/v1/datasets/mini/batches?subset=training&shuffle=false&format=npy&dtype=${dtype}` });
      const got = npyBatches(res.rawPayload, 2);
      const want = await expectedEpoch('training', { epoch: 0, shuffle: false, dtype, classMode: 'categorical' });
      assert.equal(got.length, want.length);
      got.forEach((b, i) => assert.ok(Buffer.from(b[0]!).equals(Buffer.from(want[i]!.x)), `${dtype} x of batch ${i}`));
    }
  });

  test('from_batch resumes with exactly the remaining batches', async () => {
    const full = npyBatches((await t.app.inject({ url: '/v1/datasets/mini/batches?epoch=1&format=npy' })).rawPayload, 2);
    const rest = await t.app.inject({ url: '/v1/datasets/mini/batches?epoch=1&format=npy&from_batch=2' });
    assert.equal(rest.headers['x-audiofeed-from-batch'], '2');
    const tail = npyBatches(rest.rawPayload, 2);
    assert.equal(tail.length, full.length - 2);
    tail.forEach((b, i) => assert.ok(Buffer.from(b[0]!).equals(Buffer.from(full[i + 2]![0]!))));
  });

  test('a second request for the same epoch does no featurization work', async () => {
    const shardJobs = async () => (await t.queues.jobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'paused'))[SHARD_QUEUE];
    // The streams before queued their subsets' background flows after their first batch and
    // did not wait for them (a small subset's stream can end before its flow is even queued):
    // the same flows are asked for and awaited, so every shard is on disk and nothing is pending.
    for (const subset of ['training', 'validation', 'evaluation']) await featurized(t, 'mini', subset);
    const before = await shardJobs();
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?epoch=0&format=npy' });
    assert.equal(res.statusCode, 200);
    const afterCounts = await shardJobs();
    assert.deepEqual(afterCounts, before);
  });

  test('class_weight streams a third column from the balanced class weights', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?format=npy&class_weight=true' });
    assert.equal(res.headers['x-audiofeed-columns'], 'x,y,sample_weight');
    const weights = (await t.app.inject({ url: '/v1/datasets/mini/class-weights' })).json().value as Record<string, number>;
    const items = await samples('training');
    const order = batchIndices(items.length, 8, { shuffle: true, seed: null, epoch: 0 });
    const got = npyBatches(res.rawPayload, 3);
    const first = new Float32Array(got[0]![2]!.slice().buffer);
    const expected = [...order[0]!].filter((p) => items[p]!.entry !== 'yes/ffffffff_nohash_0.wav').map((p) => Math.fround(weights[String(items[p]!.label)]!));
    assert.deepEqual([...first], expected);
  });
});

describe('Keras fit arguments', () => {
  test('validation_steps serves the same first batches every epoch', async () => {
    const a = npyBatches((await t.app.inject({ url: '/v1/datasets/mini/batches?subset=validation&epoch=0&validation_steps=2&format=npy' })).rawPayload, 2);
    const b = npyBatches((await t.app.inject({ url: '/v1/datasets/mini/batches?subset=validation&epoch=5&validation_steps=2&format=npy' })).rawPayload, 2);
    assert.equal(a.length, 2);
    assert.deepEqual(b, a);
  });

  test('validation_batch_size sets the validation batch size', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?subset=validation&validation_batch_size=5&format=npy' });
    const items = await samples('validation');
    assert.equal(Number(res.headers['x-audiofeed-batches']), Math.ceil(items.length / 5));
    assert.deepEqual(decodeNpy(res.rawPayload).shape, [5, 98, 32, 1]);
  });

  test('steps_per_epoch slices the continuous stream of epochs', async () => {
    const items = await samples('training');
    const perEpoch = Math.ceil(items.length / 8);
    const full0 = npyBatches((await t.app.inject({ url: '/v1/datasets/mini/batches?epoch=0&format=npy' })).rawPayload, 2);
    const full1 = npyBatches((await t.app.inject({ url: '/v1/datasets/mini/batches?epoch=1&format=npy' })).rawPayload, 2);
    const steps = perEpoch - 1;
    const second = npyBatches((await t.app.inject({ url: `/v1/datasets/mini/batches?epoch=1&steps_per_epoch=${steps}&format=npy` })).rawPayload, 2);
    assert.equal(second.length, steps);
    // Stream batches [steps, 2·steps): the last batch of epoch 0, then the head of epoch 1.
    assert.deepEqual(second[0], full0[steps]);
    assert.deepEqual(second.slice(1), full1.slice(0, steps - 1));
  });

  test('an uploaded per-sample weight array is streamed as the third column', async () => {
    const items = await samples('training');
    const weights = items.map((_, i) => (i % 7) / 2);
    const up = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/sample-weights', payload: { subset: 'training', weights } });
    assert.equal(up.statusCode, 201, up.body);
    const id = up.json().sample_weight_id;
    const res = await t.app.inject({ url: `/v1/datasets/mini/batches?format=npy&sample_weight_id=${id}` });
    assert.equal(res.headers['x-audiofeed-columns'], 'x,y,sample_weight');
    const order = batchIndices(items.length, 8, { shuffle: true, seed: null, epoch: 0 });
    const got = npyBatches(res.rawPayload, 3);
    const first = [...new Float32Array(got[0]![2]!.slice().buffer)];
    const expected = [...order[0]!].filter((p) => items[p]!.entry !== 'yes/ffffffff_nohash_0.wav').map((p) => weights[p]!);
    assert.deepEqual(first, expected);
  });

  test('a weight array of the wrong length → 422', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/sample-weights', payload: { subset: 'training', weights: [1, 2, 3] } });
    assert.equal(res.statusCode, 422);
  });

  test('class_mode=input streams x as the target, class_mode=none streams x only', async () => {
    const input = await t.app.inject({ url: '/v1/datasets/mini/batches?format=npy&class_mode=input' });
    assert.equal(input.headers['x-audiofeed-columns'], 'x,y');
    for (const [x, y] of npyBatches(input.rawPayload, 2)) assert.ok(Buffer.from(x!).equals(Buffer.from(y!)));
    const none = await t.app.inject({ url: '/v1/datasets/mini/batches?format=npy&class_mode=none' });
    assert.equal(none.headers['x-audiofeed-columns'], 'x');
    const items = await samples('training');
    assert.equal(npyBatches(none.rawPayload, 1).length, Math.ceil(items.length / 8));
  });
});

describe('featurization jobs', () => {
  test('POST featurize gives a job whose progress reaches completed, listing the bad clip with its reason', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', payload: { subset: 'validation' } });
    assert.equal(res.statusCode, 202, res.body);
    const { job_id } = res.json();
    let p = await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${job_id}` })).json(), {
      what: `validation featurization ${job_id} finished`,
      until: (p) => p.state === 'completed' || p.state === 'failed',
    });
    assert.equal(p.state, 'completed');
    assert.equal(p.shards_done, p.shards_total);
    p = await featurized(t, 'mini', 'training');
    const bad = p.failures.find((f: { entry: string }) => f.entry === 'yes/ffffffff_nohash_0.wav');
    assert.ok(bad, JSON.stringify(p.failures));
    assert.equal(bad.reason, 'chunk-overruns-file');
    // Its position in the training list, whatever shard and row of the layout hold it.
    const entries = (await t.ctx.registry.subsets('mini')).training!.entries;
    assert.equal(bad.position, entries.indexOf('yes/ffffffff_nohash_0.wav'));
  });

  test("the dataset's summary JSON lists the skipped clip with its reason", async () => {
    const res = (await t.app.inject({ url: '/v1/datasets/mini/summary', headers: { accept: 'application/json' } })).json();
    const f = res.featurization.training;
    assert.equal(f.shards_done, f.shards_total);
    assert.deepEqual(
      f.skipped_clips.map((c: { entry: string; reason: string }) => [c.entry, c.reason]),
      [['yes/ffffffff_nohash_0.wav', 'chunk-overruns-file']],
    );
    const entries = (await t.ctx.registry.subsets('mini')).training!.entries;
    assert.equal(f.skipped_clips[0].position, entries.indexOf('yes/ffffffff_nohash_0.wav'));
    assert.deepEqual(res.featurization.validation.skipped_clips, []);
  });

  test('a repeated featurize request reuses the job', async () => {
    const a = (await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', payload: { subset: 'training' } })).json();
    assert.equal(a.created, false);
  });

  test('server-sent events end with done', async () => {
    const a = (await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', payload: { subset: 'training' } })).json();
    const res = await t.app.inject({ url: `/v1/jobs/${a.job_id}/events` });
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.match(res.body, /event: progress\ndata: \{/);
    assert.match(res.body, /event: done\ndata: .*"state":"completed"/);
  });

  test('DELETE cancels a flow: its state is cancelled and a new request makes it again', async () => {
    // A new feature setting (dtype is not part of it; trim is) gives a fresh flow to cancel.
    const reg = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { name: 'mini-cancel', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no'], trim_threshold_db: 30 },
    });
    assert.equal(reg.statusCode, 201, reg.body);
    // Workers that take no job keep the flow waiting (with none connected, featurize is a 503).
    await workers.close();
    const idle = await connectIdleWorkers(t);
    try {
      const { job_id } = (await t.app.inject({ method: 'POST', url: '/v1/datasets/mini-cancel/featurize', payload: {} })).json();
      const del = await t.app.inject({ method: 'DELETE', url: `/v1/jobs/${job_id}` });
      assert.equal(del.statusCode, 202, del.body);
      const after = (await t.app.inject({ url: `/v1/jobs/${job_id}` })).json();
      assert.equal(after.state, 'cancelled');
      const shards = (await t.queues.jobCounts('waiting', 'prioritized'))[SHARD_QUEUE]!;
      assert.equal(shards.waiting! + shards.prioritized!, 0, 'its shard jobs are gone');
    } finally {
      await idle.close();
      workers = startTestWorkers(t);
    }
    await waitFor(async () => (await t.queues.workersConnected('featurize')) > 0 && (await t.queues.workersConnected('shards')) > 0, {
      what: 'the restarted workers connected',
    });
    const again = (await t.app.inject({ method: 'POST', url: '/v1/datasets/mini-cancel/featurize', payload: {} })).json();
    assert.equal(again.created, true);
    const p = await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${again.job_id}` })).json(), {
      what: `featurization ${again.job_id} after the cancel finished`,
      until: (p) => ['completed', 'failed', 'cancelled'].includes(p.state),
    });
    assert.equal(p.state, 'completed');
  });

  test('an unknown job is a 404 problem', async () => {
    const res = await t.app.inject({ url: `/v1/jobs/featurize-${'0'.repeat(32)}` });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().type, 'https://audiofeed.dev/problems/job-not-found');
  });
});

describe('bad batch requests', () => {
  test('from_batch past the end → 422', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?from_batch=999' });
    assert.equal(res.statusCode, 422);
  });
  test('unknown parameter → 400', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?colour=red' });
    assert.equal(res.statusCode, 400);
  });
  test('validation schedule follows validation_freq', async () => {
    const res = (await t.app.inject({ url: '/v1/datasets/mini/validation-schedule?epochs=4&validation_freq=2' })).json();
    assert.deepEqual(res.epochs.map((e: { validate: boolean }) => e.validate), [false, true, false, true]);
    const list = (await t.app.inject({ url: '/v1/datasets/mini/validation-schedule?epochs=4&validation_epochs=1,4' })).json();
    assert.deepEqual(list.epochs.map((e: { validate: boolean }) => e.validate), [true, false, false, true]);
  });
});

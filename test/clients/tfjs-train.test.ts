/**
 * The Node client and the TensorFlow.js example against the real service on a loopback
 * port (real HTTP, real Arrow stream, BullMQ workers featurizing corpus-mini): the batch
 * count matches X-Audiofeed-Batches and the subset size, shapes and labels are what
 * Keras/tfjs expect, from_batch resumes with the exact tail, and a small CNN trained with
 * `model.fitDataset` over the stream lowers its training loss.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { AudiofeedClient, AudiofeedError, type Batch } from '../../clients/js/client.ts';
import { CORPUS_MINI_CLASSES, ensureDataset, trainOnService } from '../../clients/js/examples/train-corpus-mini.ts';
import { BATCH_SIZE, CLASSES, startLiveService, subsetSize, type LiveService } from './live-service.ts';

const ID = 'mini';
let live: LiveService;
let client: AudiofeedClient;

// A service that never answers fails the file instead of hanging `npm test`.
before(
  async () => {
    live = await startLiveService();
    client = new AudiofeedClient(live.baseUrl);
    const view = await ensureDataset(live.baseUrl, ID, { path: live.corpusPath, classes: CORPUS_MINI_CLASSES, validationSplit: 0.2, batchSize: BATCH_SIZE });
    assert.equal(view.id, ID);
  },
  { timeout: 240_000 },
);
after(
  async () => {
    await live?.close();
  },
  { timeout: 240_000 },
);

async function collect(params: Parameters<AudiofeedClient['batches']>[1]): Promise<Batch[]> {
  const out: Batch[] = [];
  // Copies: the typed arrays are views of the Arrow buffers of one response.
  for await (const b of client.batches(ID, params)) {
    out.push({ ...b, x: { data: b.x.data.slice(), shape: b.x.shape }, y: b.y && { data: b.y.data.slice(), shape: b.y.shape } });
  }
  return out;
}

/** Each distinct spectrogram row (as hex of its bytes) with its one-hot label. */
function distinctRows(batches: Batch[]): Map<string, string> {
  const width = 98 * 32;
  const out = new Map<string, string>();
  for (const b of batches) {
    for (let r = 0; r < b.x.shape[0]!; r++) {
      const x = b.x.data.subarray(r * width, (r + 1) * width);
      const key = Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
      out.set(key, [...b.y!.data.subarray(r * CLASSES.length, (r + 1) * CLASSES.length)].join(','));
    }
  }
  return out;
}

describe('Node client against the real service', { timeout: 240_000 }, () => {
  test('the example reuses a registered dataset instead of failing with 409', async () => {
    const again = await ensureDataset(live.baseUrl, ID, { path: live.corpusPath, classes: CORPUS_MINI_CLASSES });
    assert.equal(again.id, ID);
    assert.deepEqual(again.audio_classes, CLASSES);
    assert.deepEqual(again.audio_input_shape, [98, 32, 1]);
    assert.equal(again.class_mode, 'categorical');
  });

  test('one epoch: as many batches as X-Audiofeed-Batches announces, shapes [B, 98, 32, 1] and [B, 8]', async () => {
    const head = await fetch(`${live.baseUrl}/v1/datasets/${ID}/batches?subset=training&epoch=0&batch_size=${BATCH_SIZE}`);
    assert.equal(head.status, 200);
    const announced = Number(head.headers.get('x-audiofeed-batches'));
    await head.body?.cancel();
    const rows = await subsetSize(live, ID, 'training');
    assert.ok(rows > BATCH_SIZE * 2, `training subset of ${rows} clips`);
    assert.equal(announced, Math.ceil(rows / BATCH_SIZE));

    const batches = await collect({ subset: 'training', epoch: 0, batchSize: BATCH_SIZE });
    assert.equal(batches.length, announced);
    assert.deepEqual(
      batches.map((b) => b.index),
      batches.map((_, i) => i),
    );
    // As in MLTK, the last batch is full too: it is padded with clips from the head of the list.
    for (const [i, b] of batches.entries()) {
      assert.deepEqual(b.x.shape, [BATCH_SIZE, 98, 32, 1], `x shape of batch ${i}`);
      assert.ok(b.x.data instanceof Float32Array);
      assert.equal(b.x.data.length, BATCH_SIZE * 98 * 32);
      assert.ok(b.y);
      assert.deepEqual(b.y.shape, [BATCH_SIZE, CLASSES.length]);
      assert.ok(b.y.data instanceof Float32Array);
      for (let r = 0; r < BATCH_SIZE; r++) {
        const row: number[] = [...b.y.data.subarray(r * CLASSES.length, (r + 1) * CLASSES.length)].sort();
        assert.deepEqual(row, [...Array<number>(CLASSES.length - 1).fill(0), 1], `one-hot row ${r} of batch ${i}`);
      }
      assert.equal(b.sampleWeight, null);
    }
    // Every clip of the subset is in the epoch: as many distinct spectrograms as clips, less
    // identical ones (the generated silence clips are all the same).
    const distinct = distinctRows(batches);
    assert.ok(distinct.size <= rows && distinct.size > rows / 2, `${distinct.size} distinct rows for ${rows} clips`);
    assert.ok(batches.some((b) => b.x.data.some((v) => v > 0)));
  });

  test('fromBatch resumes with exactly the tail of the epoch', async () => {
    const full = await collect({ subset: 'training', epoch: 1, batchSize: BATCH_SIZE });
    const tail = await collect({ subset: 'training', epoch: 1, batchSize: BATCH_SIZE, fromBatch: 2 });
    assert.equal(tail.length, full.length - 2);
    tail.forEach((b, i) => {
      assert.equal(b.index, i + 2);
      assert.deepEqual(b.x.shape, full[i + 2]!.x.shape);
      assert.ok(Buffer.from(b.x.data.buffer, b.x.data.byteOffset, b.x.data.byteLength).equals(Buffer.from(full[i + 2]!.x.data.buffer)), `x of batch ${i + 2}`);
      assert.deepEqual([...b.y!.data], [...full[i + 2]!.y!.data], `y of batch ${i + 2}`);
    });
  });

  test('another epoch is another order of the same clips', async () => {
    const e0 = await collect({ subset: 'training', epoch: 0, batchSize: BATCH_SIZE });
    const e1 = await collect({ subset: 'training', epoch: 1, batchSize: BATCH_SIZE });
    assert.equal(e0.length, e1.length);
    const firstX = (bs: Batch[]) => Buffer.from(bs[0]!.x.data.buffer, bs[0]!.x.data.byteOffset, bs[0]!.x.data.byteLength);
    assert.ok(!firstX(e0).equals(firstX(e1)), 'epochs 0 and 1 start with the same batch');
    assert.deepEqual([...distinctRows(e0).entries()].sort(), [...distinctRows(e1).entries()].sort());
  });

  test('an unknown dataset is an AudiofeedError with status 404', async () => {
    await assert.rejects(client.dataset('no-such-dataset'), (err: unknown) => err instanceof AudiofeedError && err.status === 404);
    await assert.rejects(
      async () => {
        for await (const _ of client.batches('no-such-dataset')) assert.fail('a batch of a dataset that does not exist');
      },
      (err: unknown) => err instanceof AudiofeedError && err.status === 404,
    );
  });
});

describe('TensorFlow.js training over the stream', { timeout: 240_000 }, () => {
  test('fitDataset on the training subset lowers the loss', async () => {
    const lines: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const losses = await trainOnService(live.baseUrl, ID, { epochs: 6, batchSize: BATCH_SIZE, log: (l) => lines.push(l) });
    console.log(lines.join('\n'));
    assert.equal(losses.length, 6);
    for (const l of losses) assert.ok(Number.isFinite(l) && l > 0, `loss ${l}`);
    assert.ok(losses.at(-1)! < losses[0]! * 0.9, `loss did not fall: ${losses.map((l) => l.toFixed(4)).join(', ')}`);
    assert.equal(lines.length, 6);
    assert.match(lines[0]!, /^epoch 1\/6 {2}loss \d+\.\d{4}/);
    // Every batch tensor streamed in was disposed, and the model too.
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });
});

/**
 * EpochBatches (the epoch plan's batches, made on demand) gives the batches the spec's
 * stream of epoch index arrays gives: checked against the direct construction (slice
 * batch j of index array k for every stream batch of the requested epoch), over
 * shuffle on/off, wrap-around, batch_size -1 and above n, steps_per_epoch across
 * passes, later epochs; spans() covers the same positions in the same order.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { batchesFrom, batchesPerEpoch, epochBatches, epochIndexArray, EpochBatches } from '../../src/core/datasets/index.ts';
import { InvalidSettingsError } from '../../src/core/errors.ts';

/** The batches as the spec builds them, one array per batch. */
function reference(n: number, batchSize: number, shuffle: boolean, seed: number, epoch: number, steps?: number): number[][] {
  const l = batchesPerEpoch(n, batchSize);
  if (l === 0) return [];
  const b = batchSize === -1 ? n : batchSize;
  const s = steps ?? l;
  const out: number[][] = [];
  const arrays = new Map<number, Int32Array>();
  for (let p = epoch * s; p < (epoch + 1) * s; p++) {
    const k = Math.floor(p / l);
    const j = p - k * l;
    if (!arrays.has(k)) arrays.set(k, epochIndexArray(n, batchSize, shuffle, seed, k));
    out.push(Array.from(arrays.get(k)!.subarray(j * b, (j + 1) * b)));
  }
  return out;
}

const CASES: [n: number, batchSize: number, steps?: number][] = [
  [10, 3],
  [10, 5],
  [7, 1],
  [7, -1],
  [5, 12],
  [2, 5],
  [23, 4, 3],
  [23, 4, 17],
  [9, 2, 40],
  [1, 1, 3],
  [0, 4],
];

describe('EpochBatches', () => {
  for (const [n, batchSize, steps] of CASES) {
    for (const shuffle of [false, true]) {
      test(`n ${n}, batch_size ${batchSize}, steps ${steps ?? 'L'}, shuffle ${shuffle}: epochs 0–3 equal the spec's construction`, () => {
        for (let epoch = 0; epoch < 4; epoch++) {
          const want = reference(n, batchSize, shuffle, 7, epoch, steps);
          const list = epochBatches(n, batchSize, { shuffle, seed: 7, epoch, stepsPerEpoch: steps });
          assert.equal(list.length, want.length, `epoch ${epoch}: length`);
          // Out of order too: a pass is rebuilt when it was dropped from the cache.
          for (const i of [...want.keys()].reverse()) assert.deepEqual(Array.from(list.at(i)!), want[i], `epoch ${epoch}, batch ${i}`);
          assert.equal(list.at(want.length), undefined);
          assert.equal(list.at(-1), undefined);
          for (const from of [0, 1, Math.floor(want.length / 2), want.length]) {
            const flat = list.spans(from).flatMap((s) => Array.from(s));
            assert.deepEqual(flat, want.slice(from).flat(), `epoch ${epoch}: spans from ${from}`);
            const rest = batchesFrom(list, from);
            assert.equal(rest.length, Math.max(0, want.length - from));
            for (let i = 0; i < rest.length; i++) assert.deepEqual(Array.from(rest.at(i)!), want[from + i]);
          }
        }
      });
    }
  }

  test('an epoch of millions of batches is planned without building them: its length at once, any batch on demand', () => {
    const list = new EpochBatches(3_000_000, 1, true, 43, 5, undefined);
    assert.equal(list.length, 3_000_000);
    const last = list.at(2_999_999)!;
    assert.equal(last.length, 1);
    // Epoch 5 of L = 3,000,000 batches is pass 5; its last batch is that pass's last position.
    assert.deepEqual(Array.from(last), [epochIndexArray(3_000_000, 1, true, 43, 5)[2_999_999]]);
  });

  test('bad arguments are refused as before', () => {
    assert.throws(() => epochBatches(10, 0, { shuffle: false, epoch: 0 }), InvalidSettingsError);
    assert.throws(() => epochBatches(10, 4, { shuffle: false, epoch: -1 }), InvalidSettingsError);
    assert.throws(() => epochBatches(10, 4, { shuffle: false, epoch: 0, stepsPerEpoch: 0 }), InvalidSettingsError);
    assert.throws(() => epochBatches(10, 4, { shuffle: false, epoch: 0, seed: 2 ** 32 }), InvalidSettingsError);
    assert.throws(() => epochBatches(10, 4, { shuffle: false, epoch: 0, stepsPerEpoch: 10_000_000 }), InvalidSettingsError);
  });
});

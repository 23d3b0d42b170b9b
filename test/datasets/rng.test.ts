import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomState } from '../../src/core/random.ts';

test('rng: seed 43 first five next_uint32 (spec §7)', () => {
  const r = new RandomState(43);
  assert.deepEqual(
    Array.from({ length: 5 }, () => r.nextUint32()),
    [494155588, 2134003008, 2615920895, 442015537, 572909845],
  );
});

test('rng: shuffle of [0..9] with seeds 43 and 42 (spec §7)', () => {
  const a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  new RandomState(43).shuffle(a);
  assert.deepEqual(a, [3, 9, 6, 8, 2, 5, 1, 7, 0, 4]);
  const b = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  new RandomState(42).shuffle(b);
  assert.deepEqual(b, [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
});

test('rng: permutation(10) with seed 7 (spec §7)', () => {
  assert.deepEqual(Array.from(new RandomState(7).permutation(10)), [8, 5, 0, 2, 1, 9, 7, 3, 6, 4]);
});

test('rng: reseeding restarts the stream, like np.random.seed', () => {
  const r = new RandomState(43);
  const first = Array.from(r.permutation(20));
  r.seed(43);
  assert.deepEqual(Array.from(r.permutation(20)), first);
});

test('rng: shuffle of a string list matches the index permutation', () => {
  const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
  new RandomState(42).shuffle(items);
  assert.deepEqual(items, [8, 1, 5, 0, 7, 2, 9, 4, 3, 6].map((i) => 'abcdefghij'[i]));
});

test('rng: the stream continues across the 624-word state refill', () => {
  const r = new RandomState(5489);
  // C++ std::mt19937 reference: with seed 5489 the 10000th output is 4123659995.
  let v = 0;
  for (let i = 0; i < 10000; i++) v = r.nextUint32();
  assert.equal(v, 4123659995);
});

test('rng: seeds outside [0, 2^32 - 1] are rejected', () => {
  assert.throws(() => new RandomState(-1), RangeError);
  assert.throws(() => new RandomState(2 ** 32), RangeError);
  assert.throws(() => new RandomState(1.5), RangeError);
});

/**
 * MLTK's standardization (rescale, samplewise_center, samplewise_std_normalization,
 * samplewise_normalize_range) against numpy float32, bit for bit: the expected values are
 * computed live by python3 + numpy with MLTK's own expressions (test/helpers/numpy-standardize.ts;
 * the test fails, never skips, without numpy).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkStandardizationTarget,
  isStandardizing,
  NO_STANDARDIZATION,
  pairwiseSumF32,
  resolveStandardization,
  standardizeSample,
  type Standardization,
  type StandardizationSettings,
} from '../../src/core/tensors/standardize.ts';
import { InvalidSettingsError } from '../../src/core/errors.ts';
import { numpy, type NumpyCase } from '../helpers/numpy-standardize.ts';
import { mulberry32 } from '../helpers/random.ts';

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Spectrogram-like values: uint16 frontend output (0..~1000, some rows quiet) as float32. */
function spectrogram(rand: () => number, n: number, scale = 1000): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.floor(rand() * scale * (i % 97 < 10 ? 0.05 : 1)));
}

const settings = (s: StandardizationSettings): Standardization => resolveStandardization(s);

describe('numpy float32 semantics', () => {
  test('pairwiseSumF32 is np.sum of a float32 array (pairwise blocks of 8 and 128, one pass over the whole array)', () => {
    const rand = mulberry32(11);
    const lengths = [1, 2, 7, 8, 9, 15, 16, 17, 100, 127, 128, 129, 255, 256, 257, 1000, 3136, 4096, 8191, 8192, 8193, 12345, 20000, 40000];
    const cases: NumpyCase[] = lengths.map((n) => {
      const x = Float32Array.from({ length: n }, () => (rand() - 0.3) * 10 ** Math.floor(rand() * 6));
      return { op: 'sum', x, shape: [n] };
    });
    const ref = numpy(cases);
    cases.forEach((c, i) => assert.equal(pairwiseSumF32(c.x), ref.out[i]![0], `n = ${c.x.length}`));
  });

  const COMBOS: StandardizationSettings[] = [
    { rescale: 0.001 },
    { rescale: 1 / 3 },
    { rescale: -2.5 },
    { samplewise_center: true },
    { samplewise_std_normalization: true },
    { samplewise_center: true, samplewise_std_normalization: true },
    { samplewise_normalize_range: [0, 1] },
    { samplewise_normalize_range: [-1, 1] },
    { samplewise_normalize_range: [-0.3, 7.25] },
    { rescale: 1 / 255, samplewise_center: true },
    { rescale: 0.01, samplewise_std_normalization: true, samplewise_normalize_range: [0, 1] },
    { samplewise_center: true, samplewise_normalize_range: [-1, 1] },
    { rescale: 3, samplewise_std_normalization: true, samplewise_normalize_range: [-128, 127] },
  ];

  test('every option and combination equals MLTK normalize() under numpy, bit for bit (98x32, 49x40, odd sizes)', () => {
    const rand = mulberry32(2024);
    const cases: NumpyCase[] = [];
    for (const s of COMBOS) {
      for (const shape of [[98, 32], [49, 40], [7], [129], [3, 3000]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        cases.push({ op: 'normalize', x: spectrogram(rand, n), shape, settings: settings(s) });
      }
      // Tiny and huge dynamic ranges.
      cases.push({ op: 'normalize', x: spectrogram(rand, 3136, 3), shape: [98, 32], settings: settings(s) });
      cases.push({ op: 'normalize', x: spectrogram(rand, 3136, 65535), shape: [98, 32], settings: settings(s) });
    }
    const ref = numpy(cases);
    cases.forEach((c, i) => {
      const got = standardizeSample(Float32Array.from(c.x), c.settings!);
      const want = ref.out[i]!;
      const at = got.findIndex((v, k) => !Object.is(v, want[k]));
      assert.equal(at, -1, `${JSON.stringify(c.settings)} shape ${c.shape}: value ${at} is ${got[at]}, numpy ${want[at]}`);
      assert.ok(bytes(got).equals(bytes(want)));
    });
  });

  test('an all-zero (silent) sample: the same bytes as numpy where numpy gives numbers', () => {
    const zeros = new Float32Array(3136);
    const combos = COMBOS.filter((s) => !s.samplewise_normalize_range);
    const ref = numpy(combos.map((s) => ({ op: 'normalize', x: zeros, shape: [98, 32], settings: settings(s) })));
    combos.forEach((s, i) => assert.ok(bytes(standardizeSample(Float32Array.from(zeros), settings(s))).equals(bytes(ref.out[i]!)), JSON.stringify(s)));
  });

  test('a constant sample under samplewise_normalize_range: MLTK gives NaN, we give lo (never a NaN)', () => {
    const constant = new Float32Array(3136).fill(417);
    const combos: StandardizationSettings[] = [
      { samplewise_normalize_range: [0.25, 1] },
      { samplewise_std_normalization: true, samplewise_normalize_range: [-1, 1] },
    ];
    for (const s of combos) {
      const [lo] = s.samplewise_normalize_range!;
      const ref = numpy([{ op: 'normalize', x: constant, shape: [98, 32], settings: settings(s) }]);
      assert.ok(ref.out[0]!.every((v) => Number.isNaN(v)), 'numpy: 0 / 0');
      const got = standardizeSample(Float32Array.from(constant), settings(s));
      assert.ok(got.every((v) => v === Math.fround(lo)), JSON.stringify(s));
    }
  });
});

describe('settings', () => {
  test('samplewise_std_normalization switches samplewise_center on (MLTK); defaults are off', () => {
    assert.deepEqual(resolveStandardization({ samplewise_std_normalization: true }), {
      rescale: null,
      samplewise_center: true,
      samplewise_std_normalization: true,
      samplewise_normalize_range: null,
    });
    assert.deepEqual(resolveStandardization({}), NO_STANDARDIZATION);
    assert.equal(isStandardizing(resolveStandardization({})), false);
  });

  test('rescale 0 or null is off, as in MLTK (`if rescale:`)', () => {
    assert.equal(isStandardizing(resolveStandardization({ rescale: 0 })), false);
    assert.equal(isStandardizing(resolveStandardization({ rescale: null })), false);
    const x = Float32Array.of(1, 2, 3);
    assert.deepEqual([...standardizeSample(x, resolveStandardization({ rescale: 0 }))], [1, 2, 3]);
  });

  test('samplewise_normalize_range needs lo < hi (422)', () => {
    for (const r of [[1, 1], [1, 0]] as [number, number][]) {
      assert.throws(
        () => resolveStandardization({ samplewise_normalize_range: r }),
        (err: unknown) => err instanceof InvalidSettingsError && err.status === 422 && /needs lo < hi/.test(err.message),
      );
    }
  });

  test('standardized features are float32 spectrograms only: other dtypes and frontend_enabled false are 422', () => {
    const s = resolveStandardization({ samplewise_center: true });
    assert.doesNotThrow(() => checkStandardizationTarget(s, true, 'float32'));
    for (const dtype of ['uint16', 'int8']) {
      assert.throws(() => checkStandardizationTarget(s, true, dtype), (err: unknown) => err instanceof InvalidSettingsError && err.extra.field === 'dtype');
    }
    assert.throws(() => checkStandardizationTarget(s, false, 'float32'), (err: unknown) => err instanceof InvalidSettingsError && err.extra.field === 'frontend_enabled');
    assert.doesNotThrow(() => checkStandardizationTarget(NO_STANDARDIZATION, false, 'uint16'));
  });
});

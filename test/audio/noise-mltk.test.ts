/**
 * noise_color_level 'mltk' (the default) against numpy: MLTK's _get_color_noise steps
 * (spectrum length, colour exponents, the ×10/×0.01 scales, irfft normalisation,
 * clipping, zero padding, float32) computed by numpy from the same normals our
 * FastGaussian draws. The only difference allowed is FFT rounding (pocketfft's order of
 * operations is not ours): every value within one float32 ulp, nearly all identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { drawNoiseSeed, FastGaussian, mltkColourNoise, NOISE_COLORS, type NoiseSeed } from '../../src/core/audio/noise.ts';
import { augmentRng } from '../../src/core/audio/augment/index.ts';

/** numpy's side, written from the description of MLTK's steps; reads JSON cases on stdin. */
const NUMPY = `
import json, sys
import numpy as np
EXPONENT = {'white': None, 'blue': None, 'pink': -1, 'brown': -2, 'violet': 2}
SCALE = {'white': 1.0, 'blue': 0.01, 'pink': 10.0, 'brown': 10.0, 'violet': 0.01}
out = []
for case in json.load(sys.stdin):
    sample = np.array(case['sample'], dtype=np.float32)
    n = len(sample)
    odd = n % 2
    size = n // 2 + 1 + odd
    spectrum = np.array(case['normals'], dtype=np.float64)
    assert len(spectrum) == size
    shape = np.linspace(1, size, size)
    e = EXPONENT[case['color']]
    if e is not None:
        shape **= e
        spectrum = spectrum * shape
    if odd:
        spectrum = spectrum[:-1]
    noise = np.fft.irfft(spectrum)
    noise = np.clip(noise, sample.min(), sample.max()) * SCALE[case['color']]
    if len(noise) != n:
        noise = np.concatenate([noise, np.zeros(n - len(noise))])
    out.append(noise.astype(np.float32).tolist())
print(json.dumps(out))
`;

function normals(seed: NoiseSeed, count: number): number[] {
  const g = new FastGaussian(seed);
  return Array.from({ length: count }, () => g.gauss());
}

function sampleOf(n: number, k: number): Float32Array {
  // Speech-like level (|x| < 0.3), asymmetric range so both clip bounds matter.
  return Float32Array.from({ length: n }, (_, i) => Math.fround(0.25 * Math.sin(0.013 * (i + 1) * (k + 1)) + 0.05 * Math.cos(0.31 * i) - 0.02));
}

test("MLTK's coloured noise equals numpy's _get_color_noise steps given the same normals (every colour, even and odd lengths)", (t) => {
  const lengths = [16000, 15999, 12000, 8001, 7, 3, 2];
  const cases: { color: string; sample: number[]; normals: number[]; ours: Float32Array }[] = [];
  let k = 0;
  for (const color of NOISE_COLORS) {
    for (const n of lengths) {
      const seed = drawNoiseSeed(augmentRng(5, 1, k, n));
      const sample = sampleOf(n, k++);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of sample) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const size = Math.floor(n / 2) + 1 + (n % 2);
      cases.push({ color, sample: Array.from(sample), normals: normals(seed, size), ours: mltkColourNoise(color, n, lo, hi, seed) });
    }
  }
  const ref = JSON.parse(
    execFileSync('python3', ['-c', NUMPY], { input: JSON.stringify(cases.map(({ ours: _, ...c }) => c)), maxBuffer: 1 << 28, timeout: 240_000 }).toString(),
  ) as number[][];
  let values = 0;
  let identical = 0;
  for (const [i, c] of cases.entries()) {
    const want = Float32Array.from(ref[i]!);
    assert.equal(c.ours.length, want.length, `${c.color} n=${c.sample.length}`);
    for (let j = 0; j < want.length; j++) {
      const a = c.ours[j]!;
      const b = want[j]!;
      values++;
      if (a === b) {
        identical++;
        continue;
      }
      // One float32 ulp at b's magnitude.
      const ulp = b === 0 ? 1.401298464324817e-45 : 2 ** (Math.floor(Math.log2(Math.abs(b))) - 23);
      assert.ok(Math.abs(a - b) <= ulp, `${c.color} n=${c.sample.length} [${j}]: ours ${a}, numpy ${b}`);
    }
  }
  t.diagnostic(`${identical} of ${values} values bit-identical to numpy, the rest within one float32 ulp`);
  assert.ok(identical / values > 0.99, `${identical} of ${values} identical`);
});

test("MLTK's coloured noise: level per colour as MLTK scales it, clipped to the sample, padded for odd lengths", () => {
  const n = 16000;
  const sample = sampleOf(n, 3);
  const lo = Math.min(...sample);
  const hi = Math.max(...sample);
  const rms: Record<string, number> = {};
  for (const color of NOISE_COLORS) {
    const noise = mltkColourNoise(color, n, lo, hi, drawNoiseSeed(augmentRng(9, 0, 0, 0)));
    let ss = 0;
    for (const v of noise) {
      ss += v * v;
      const scale = color === 'pink' || color === 'brown' ? 10 : color === 'white' ? 1 : 0.01;
      assert.ok(v >= Math.fround(lo * scale) - 1e-9 && v <= Math.fround(hi * scale) + 1e-9, `${color} within the scaled sample range`);
    }
    rms[color] = Math.sqrt(ss / n);
  }
  // Spectrum of unit normals: white irfft has rms ~ sqrt(bins)/N ~ 0.0056; blue is white x 0.01.
  assert.ok(rms.white! > 0.004 && rms.white! < 0.008, `white rms ${rms.white}`);
  assert.ok(Math.abs(rms.blue! / rms.white! - 0.01) < 0.002, `blue = white x 0.01: ${rms.blue! / rms.white!}`);
  // Violet (spectrum x k^2) is clipped to the sample range almost everywhere: a square wave x 0.01.
  assert.ok(rms.violet! > 0.5 * 0.01 * Math.min(-lo, hi), `violet rms ${rms.violet}`);
  // Odd length: the last value is the zero padding.
  const odd = mltkColourNoise('white', 15999, -1, 1, drawNoiseSeed(augmentRng(9, 0, 0, 1)));
  assert.equal(odd[15998], 0);
  assert.ok(odd.subarray(0, 15998).some((v) => v !== 0));
  // A single sample (numpy's irfft would raise): no noise.
  assert.deepEqual(Array.from(mltkColourNoise('pink', 1, -1, 1, [1, 2, 3, 4])), [0]);
});

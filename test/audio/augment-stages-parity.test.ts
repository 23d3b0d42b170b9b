/**
 * Each stage of the native augmentation pipeline (native/dsp_fft.cc, stretch.cc,
 * pitch.cc, noise.cc, augment.cc) gives the bits of its TypeScript twin
 * (src/core/math/fft.ts, src/core/audio/stretch.ts, pitch.ts, noise.ts, trim.ts with
 * detmath's log10), on real clips and synthetic signals, odd and even lengths.
 * test/audio/augment-native-parity.test.ts checks the whole pipeline.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { decodeWav } from '../../src/core/audio/wav.ts';
import { drawNoiseSeed, mltkColourNoise, NOISE_COLORS, peakColourNoise, type NoiseSeed } from '../../src/core/audio/noise.ts';
import { resampleRatio, stretchAndShift, vtlp } from '../../src/core/audio/pitch.ts';
import { timeStretch } from '../../src/core/audio/stretch.ts';
import { trimBounds } from '../../src/core/audio/trim.ts';
import { augmentRng } from '../../src/core/audio/augment/index.ts';
import { log10 } from '../../src/core/math/detmath.ts';
import { realFft } from '../../src/core/math/fft.ts';
import { requireNative } from '../helpers/native.ts';
import { testdata } from '../helpers/paths.ts';
import { mulberry32 } from '../helpers/random.ts';

const native = requireNative().addon;

function bitsEqual(a: Float32Array | Float64Array, b: Float32Array | Float64Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const ab = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const bb = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (Buffer.compare(ab, bb) === 0) return;
  const i = a.findIndex((v, k) => !Object.is(v, b[k]));
  assert.fail(`${what}: first difference at ${i}: native ${a[i]}, TypeScript ${b[i]}`);
}

/** A few real clips (16 kHz speech, 8 and 44.1 kHz) and synthetic signals of odd lengths. */
function signals(): { name: string; x: Float32Array; rate: number }[] {
  const out: { name: string; x: Float32Array; rate: number }[] = [];
  const dir = testdata('corpus-mini', 'up');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.wav')).slice(0, 2)) {
    const d = decodeWav(new Uint8Array(fs.readFileSync(path.join(dir, f))));
    out.push({ name: f, x: d.samples, rate: d.sampleRate });
  }
  for (const f of ['0dd08000_nohash_0.wav', '0dd44100_nohash_0.wav']) {
    const d = decodeWav(new Uint8Array(fs.readFileSync(testdata('corpus-mini-odd', 'yes', f))));
    out.push({ name: f, x: d.samples, rate: d.sampleRate });
  }
  const r = mulberry32(11);
  for (const n of [1, 511, 2049, 12345]) {
    out.push({ name: `noise-${n}`, x: Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(0.05 * i) + 0.1 * (r() - 0.5)), rate: 16000 });
  }
  return out;
}

const SIGNALS = signals();

describe('native augmentation stages equal their TypeScript twins', () => {
  test('real FFT forward and inverse, power-of-two, mixed-radix and Bluestein sizes', () => {
    const r = mulberry32(1);
    for (const n of [2, 4, 6, 8, 10, 12, 14, 18, 30, 50, 96, 250, 1250, 2048, 2000, 16000, 15998, 24000, 11998, 6002]) {
      const x = Float32Array.from({ length: n }, () => r() - 0.5);
      const re = new Float64Array(n / 2 + 1);
      const im = new Float64Array(n / 2 + 1);
      realFft(n).forward(x, re, im);
      const want = new Float64Array(n + 2);
      want.set(re, 0);
      want.set(im, n / 2 + 1);
      bitsEqual(native.augmentStage('rfft', x, []) as Float64Array, want, `rfft ${n}`);
      const spec = Float32Array.from({ length: n + 2 }, () => r() - 0.5);
      const y = new Float64Array(n);
      realFft(n).inverse(Float64Array.from(spec.subarray(0, n / 2 + 1)), Float64Array.from(spec.subarray(n / 2 + 1)), y);
      bitsEqual(native.augmentStage('irfft', spec, [n]) as Float64Array, y, `irfft ${n}`);
    }
  });

  test('time stretch (phase vocoder)', () => {
    for (const s of SIGNALS) {
      for (const rate of [0.7, 0.9, 1.1, 1.3]) {
        bitsEqual(native.augmentStage('timeStretch', s.x, [rate]), timeStretch(s.x, rate), `${s.name} x${rate}`);
      }
    }
  });

  test('arbitrary-ratio resampler of the pitch shift', () => {
    for (const s of SIGNALS) {
      for (const k of [-12, -5, 1, 7, 24]) {
        const ratio = 2 ** (-k / 12);
        const len = Math.ceil(s.x.length * ratio);
        bitsEqual(native.augmentStage('resampleRatio', s.x, [ratio, len]), resampleRatio(s.x, ratio, len), `${s.name} ratio ${ratio}`);
      }
    }
  });

  test('stretch and pitch shift together', () => {
    for (const s of SIGNALS) {
      for (const [speed, steps] of [[1, 3], [1, -4], [0.9, 12], [1.1, -12], [1.2, 1], [0.8, 0]]) {
        bitsEqual(native.augmentStage('stretchAndShift', s.x, [speed!, steps!]), stretchAndShift(s.x, speed!, steps!), `${s.name} ${speed} ${steps}`);
      }
    }
  });

  test('VTLP', () => {
    for (const s of SIGNALS) {
      for (const alpha of [2, 3, 0.5]) {
        bitsEqual(native.augmentStage('vtlp', s.x, [s.rate, alpha]), vtlp(s.x, s.rate, alpha), `${s.name} alpha ${alpha}`);
      }
    }
  });

  test("coloured noise at MLTK's and at peak levels, every colour", () => {
    let k = 0;
    for (const n of [16000, 15999, 12000, 3, 2, 1, 7999]) {
      for (const [ci, color] of NOISE_COLORS.entries()) {
        const seed: NoiseSeed = drawNoiseSeed(augmentRng(3, 2, 1, k++));
        const [lo, hi] = [-0.2 - k * 1e-3, 0.3];
        const args = [ci, n, lo, hi, ...seed];
        bitsEqual(native.augmentStage('mltkNoise', new Float32Array(0), args), mltkColourNoise(color, n, lo, hi, seed), `mltk ${color} ${n}`);
        bitsEqual(native.augmentStage('peakNoise', new Float32Array(0), args), peakColourNoise(color, n, seed), `peak ${color} ${n}`);
      }
    }
    // The all-zero seed (xoshiro's fixed point) is replaced the same way.
    bitsEqual(native.augmentStage('peakNoise', new Float32Array(0), [0, 100, 0, 0, 0, 0, 0, 0]), peakColourNoise('white', 100, [0, 0, 0, 0]), 'zero seed');
  });

  test("trim bounds with detmath's log10", () => {
    for (const s of SIGNALS) {
      for (const topDb of [0, 10, 20, 35, 60]) {
        const b = trimBounds(s.x, topDb, log10);
        assert.deepEqual(Array.from(native.augmentStage('trim', s.x, [topDb])), [b.start, b.end], `${s.name} top_db ${topDb}`);
      }
    }
    const silence = new Float32Array(5000);
    assert.deepEqual(Array.from(native.augmentStage('trim', silence, [20])), [0, 5000]);
  });
});

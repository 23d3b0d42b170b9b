import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  applyTransform,
  AugmentRng,
  augmentRng,
  defaultTransformParams,
  drawTransformParams,
  isAugmentationActive,
  loadBackgroundNoises,
  pitchBounds,
  resolveAugmentation,
  roundToTenth,
  speedGrid,
  vtlpBounds,
  type AugmentationSettings,
  type TransformContext,
  type TransformParams,
} from '../../src/core/audio/augment/index.ts';
import { drawNoiseSeed, NOISE_COLORS, peakColourNoise, type NoiseColor } from '../../src/core/audio/noise.ts';
import { pitchShift, resampleRatio, stretchAndShift, vtlp } from '../../src/core/audio/pitch.ts';
import { timeStretch } from '../../src/core/audio/stretch.ts';
import { realFft } from '../../src/core/math/fft.ts';
import { decodeWav, prepareSample, type DecodedWav } from '../../src/core/audio/index.ts';
import { InvalidSettingsError } from '../../src/core/errors.ts';
import { testdata } from '../helpers/paths.ts';
import { wavBytes } from '../helpers/wav.ts';

const SR = 16000;
const BG_DIR = testdata('corpus-mini', '_background_noise_');
const decodeFile = (p: string): DecodedWav => decodeWav(new Uint8Array(readFileSync(p)), p);

function sine(freq: number, n: number, sr = SR, amp = 0.5): Float32Array {
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = amp * Math.sin((2 * Math.PI * freq * i) / sr);
  return y;
}

/** Frequency of the strongest bin of a Hann-windowed 8192-point spectrum (2 Hz resolution). */
function dominantHz(y: Float32Array, sr = SR): number {
  const N = 8192;
  const x = new Float64Array(N);
  const off = Math.max(0, (y.length >> 1) - N / 2);
  for (let i = 0; i < N && off + i < y.length; i++) x[i] = y[off + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));
  const re = new Float64Array(N / 2 + 1);
  const im = new Float64Array(N / 2 + 1);
  realFft(N).forward(x, re, im);
  let best = -1;
  let bk = 0;
  for (let k = 1; k <= N / 2; k++) {
    const p = re[k]! ** 2 + im[k]! ** 2;
    if (p > best) {
      best = p;
      bk = k;
    }
  }
  // Parabolic interpolation on log power sharpens the estimate to a fraction of a bin.
  const lp = (k: number): number => Math.log(re[k]! ** 2 + im[k]! ** 2 + 1e-30);
  const d = bk > 1 && bk < N / 2 ? (0.5 * (lp(bk - 1) - lp(bk + 1))) / (lp(bk - 1) - 2 * lp(bk) + lp(bk + 1)) : 0;
  return ((bk + d) * sr) / N;
}

/** Welch power spectrum (1024-point Hann segments, 50 % overlap); bin k = k * sr / 1024. */
function welch(y: Float32Array): Float64Array {
  const N = 1024;
  const psd = new Float64Array(N / 2 + 1);
  const x = new Float64Array(N);
  const re = new Float64Array(N / 2 + 1);
  const im = new Float64Array(N / 2 + 1);
  for (let s = 0; s + N <= y.length; s += N / 2) {
    for (let i = 0; i < N; i++) x[i] = y[s + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));
    realFft(N).forward(x, re, im);
    for (let k = 0; k <= N / 2; k++) psd[k] += re[k]! ** 2 + im[k]! ** 2;
  }
  return psd;
}

/** Least-squares slope of band power in dB per octave over octave bands 125 Hz … 4 kHz. */
function slopeDbPerOctave(y: Float32Array): number {
  const psd = welch(y);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let f = 125; f <= 4000; f *= 2) {
    // Mean density over [f / sqrt2, f * sqrt2).
    const k0 = Math.round(((f / Math.SQRT2) * 1024) / SR);
    const k1 = Math.round(((f * Math.SQRT2) * 1024) / SR);
    let sum = 0;
    for (let k = k0; k < k1; k++) sum += psd[k]!;
    xs.push(Math.log2(f));
    ys.push(10 * Math.log10(sum / (k1 - k0)));
  }
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

const ctxFor = (over: Partial<TransformContext> = {}): TransformContext => ({
  sampleRateHz: SR,
  sampleLengthMs: 1000,
  trimThresholdDb: 20,
  bgNoises: [],
  ...over,
});

/** Default params with `over`; colour noise gets a seed from `seedFrom` (the draws would give it one). */
const params = (over: Partial<TransformParams>, seedFrom = augmentRng(0, 0, 0, 0)): TransformParams => {
  const p = { ...defaultTransformParams(), ...over };
  if (p.noiseColor !== null && p.noiseSeed === null) p.noiseSeed = drawNoiseSeed(seedFrom);
  return p;
};

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Draws `n` parameter sets from distinct streams. */
function drawMany(s: AugmentationSettings, n: number, bgCount = 0): TransformParams[] {
  const r = resolveAugmentation(s);
  return Array.from({ length: n }, (_, i) => drawTransformParams(r, augmentRng(7, 0, 0, i), bgCount));
}

// --- identity path -----------------------------------------------------------------------

test('identity: default params give exactly prepareSample, for 16 kHz, 8 kHz, 44.1 kHz and long files', () => {
  const files = [
    testdata('corpus-mini', 'up', readdirSync(testdata('corpus-mini', 'up')).filter((f) => f.endsWith('.wav'))[0]!),
    testdata('corpus-mini-odd', 'yes', '0dd08000_nohash_0.wav'),
    testdata('corpus-mini-odd', 'yes', '0dd44100_nohash_0.wav'),
    testdata('corpus-mini', '_background_noise_', 'white_noise.wav'),
  ];
  for (const f of files) {
    const d = decodeFile(f);
    for (const trim of [20, 0, 35.5]) {
      const expected = prepareSample(d, { sampleRateHz: SR, sampleLengthMs: 1000, trimThresholdDb: trim });
      const got = applyTransform(d, defaultTransformParams(), ctxFor({ trimThresholdDb: trim }));
      assert.equal(got.length, 16000);
      assert.ok(bytesOf(got).equals(bytesOf(expected)), `${path.basename(f)} trim ${trim}`);
    }
  }
});

test('identity: all ranges off and offset_range [0, 0] draw the default transform (bit-exact with prepareSample)', () => {
  const s = resolveAugmentation({ offset_range: [0, 0] });
  assert.equal(isAugmentationActive(s), false);
  const d = decodeFile(testdata('corpus-mini-odd', 'yes', '0dd44100_nohash_0.wav'));
  for (let i = 0; i < 5; i++) {
    const rng = augmentRng(3, 1, 2, i);
    const p = drawTransformParams(s, rng, 0);
    assert.deepEqual(p, defaultTransformParams());
    const got = applyTransform(d, p, ctxFor());
    assert.ok(bytesOf(got).equals(bytesOf(prepareSample(d, { sampleRateHz: SR, sampleLengthMs: 1000 }))));
  }
});

test('offset is passed to adjust-length (random placement of a short clip)', () => {
  const d = { samples: sine(300, 8000), sampleRate: SR };
  const at = (offset: number): Float32Array => applyTransform(d, params({ offset }), ctxFor());
  const expected = prepareSample({ ...d, channels: 1, bitsPerSample: 16, format: 'pcm', frames: 8000 }, { sampleRateHz: SR, sampleLengthMs: 1000, offset: 0.5 });
  assert.ok(bytesOf(at(0.5)).equals(bytesOf(expected)));
  assert.ok(!bytesOf(at(0.5)).equals(bytesOf(at(0))));
});

// --- RNG ---------------------------------------------------------------------------------

test('reproducibility: same (seed, epoch, batch, position) gives identical bytes; any change gives others', () => {
  const s = resolveAugmentation({
    speed_range: [0.9, 1.1],
    pitch_range: [-2, 3],
    loudness_range: [0.5, 1.5],
    noise_colors: 'all',
    noise_color_range: [0.1, 0.5],
  });
  const d = decodeFile(testdata('corpus-mini', 'up', readdirSync(testdata('corpus-mini', 'up')).filter((f) => f.endsWith('.wav'))[1]!));
  const run = (seed: number, epoch: number, batch: number, pos: number): Buffer => {
    const rng = augmentRng(seed, epoch, batch, pos);
    return bytesOf(applyTransform(d, drawTransformParams(s, rng, 0), ctxFor()));
  };
  const ref = run(42, 3, 5, 7);
  assert.ok(ref.equals(run(42, 3, 5, 7)));
  for (const other of [run(42, 3, 6, 7), run(42, 3, 5, 8), run(42, 4, 5, 7), run(43, 3, 5, 7)]) assert.ok(!ref.equals(other));
  // Large seeds are accepted and distinct from their low 32 bits.
  assert.notDeepEqual(augmentRng(2 ** 40 + 1, 0, 0, 0).random(), augmentRng(1, 0, 0, 0).random());
  assert.throws(() => augmentRng(-1, 0, 0, 0), RangeError);
  assert.throws(() => augmentRng(0, 0.5, 0, 0), RangeError);
});

test('rng: numpy legacy draws (RandomState(0).random_sample() and randint)', () => {
  // np.random.RandomState(0).random_sample() == 0.5488135039273248
  assert.equal(new AugmentRng(0).random(), 0.5488135039273248);
  // np.random.RandomState(0).randint(0, 10, size=5) == [5, 0, 3, 3, 7]
  const g = new AugmentRng(0);
  assert.deepEqual(Array.from({ length: 5 }, () => g.randint(0, 10)), [5, 0, 3, 3, 7]);
});

// --- draw grids (Q-17) -------------------------------------------------------------------

test('speed grid: numpy arange + round(., 1) without 1.0', () => {
  assert.deepEqual(speedGrid([0.9, 1.1]), [0.9, 1.1]);
  assert.deepEqual(speedGrid([0.8, 1.2]), [0.8, 0.9, 1.1]);
  // Expected lists from numpy: [round(i, 1) for i in np.arange(lo, hi, 0.1)], minus 1.0.
  assert.deepEqual(speedGrid([0.5, 0.8]), [0.5, 0.6, 0.7, 0.8]);
  assert.deepEqual(speedGrid([0.7, 1.3]), [0.7, 0.8, 0.9, 1.1, 1.2, 1.3]);
  assert.deepEqual(speedGrid([0.95, 1.05]), []); // arange gives [1.0, 1.0]
  assert.deepEqual(speedGrid([1, 1]), []);
  const drawn = new Set(drawMany({ speed_range: [0.9, 1.1] }, 200).map((p) => p.speed));
  assert.deepEqual([...drawn].sort(), [0.9, 1.1]);
  const drawn2 = new Set(drawMany({ speed_range: [0.8, 1.2] }, 300).map((p) => p.speed));
  assert.deepEqual([...drawn2].sort(), [0.8, 0.9, 1.1]);
});

test('round(v, 1) as numpy rounds np.float64: rint(v * 10) / 10, ties to even', () => {
  // Expected values printed by numpy 2.4: round(np.float64(v), 1).
  assert.equal(roundToTenth(0.25), 0.2);
  assert.equal(roundToTenth(0.35), 0.4);
  assert.equal(roundToTenth(0.45), 0.4);
  assert.equal(roundToTenth(0.85), 0.8);
  assert.equal(roundToTenth(0.95), 1);
  assert.equal(roundToTenth(1.05), 1);
  assert.equal(roundToTenth(1.1000000000000001), 1.1);
});

test('pitch: float bounds x12 truncated, integer bounds as is; draws in [lo, hi)', () => {
  assert.deepEqual(pitchBounds([0.9, 1.1]), [10, 13]);
  assert.deepEqual(pitchBounds([-2, 3]), [-2, 3]);
  const drawn = new Set(drawMany({ pitch_range: [0.9, 1.1] }, 200).map((p) => p.pitch));
  assert.deepEqual([...drawn].sort((a, b) => a - b), [10, 11, 12]);
  const drawn2 = new Set(drawMany({ pitch_range: [-2, 3] }, 300).map((p) => p.pitch));
  assert.deepEqual([...drawn2].sort((a, b) => a - b), [-2, -1, 0, 1, 2]);
});

test('VTLP: float bounds truncated, so (0.9, 1.1) is always 0 (off); integer bounds draw integers', () => {
  assert.deepEqual(vtlpBounds([0.9, 1.1]), [0, 1]);
  assert.ok(drawMany({ vtlp_range: [0.9, 1.1] }, 50).every((p) => p.vtlp === 0));
  const d = { samples: sine(500, 16000), sampleRate: SR };
  const p = drawMany({ vtlp_range: [0.9, 1.1] }, 1)[0]!;
  assert.ok(bytesOf(applyTransform(d, { ...p, offset: 0 }, ctxFor())).equals(bytesOf(applyTransform(d, defaultTransformParams(), ctxFor()))));
  assert.deepEqual([...new Set(drawMany({ vtlp_range: [1, 3] }, 100).map((p) => p.vtlp))].sort(), [1, 2]);
});

test('VTLP factor 2 warps the spectrum up and keeps the length', () => {
  const y = sine(1000, 16000);
  const w = vtlp(y, SR, 2);
  assert.equal(w.length, y.length);
  assert.ok(w.every(Number.isFinite));
  // Below the boundary (4800 / 2 Hz) frequencies are doubled.
  assert.ok(Math.abs(dominantHz(w) / 2000 - 1) < 0.02, `got ${dominantHz(w)}`);
});

test('draw order and the default offset range', () => {
  const p = drawMany({}, 50);
  assert.ok(p.every((x) => x.offset >= 0 && x.offset < 1));
  assert.ok(new Set(p.map((x) => x.offset)).size === 50);
  // The offset is the stream's first draw (np.random.uniform(0, 1) of the same stream).
  const rng = augmentRng(7, 0, 0, 0);
  assert.equal(p[0]!.offset, rng.uniform(0, 1));
  const loud = drawMany({ loudness_range: [0.5, 2] }, 100).map((x) => x.loudness);
  assert.ok(loud.every((v) => v >= 0.5 && v < 2) && Math.min(...loud) < 0.7 && Math.max(...loud) > 1.8);
});

// --- loudness and colour noise -----------------------------------------------------------

test('loudness multiplies the adjusted sample (float32 product)', () => {
  const d = decodeFile(testdata('corpus-mini', 'up', readdirSync(testdata('corpus-mini', 'up')).filter((f) => f.endsWith('.wav'))[0]!));
  const base = applyTransform(d, defaultTransformParams(), ctxFor());
  const loud = applyTransform(d, params({ loudness: 0.37 }), ctxFor());
  const l32 = Math.fround(0.37);
  for (let i = 0; i < base.length; i++) assert.equal(loud[i], Math.fround(base[i]! * l32));
  assert.ok(applyTransform(d, params({ loudness: 0 }), ctxFor()).every((v) => v === 0));
});

test("coloured noise at 'peak' level: peak 1 and the expected spectral slope per colour", () => {
  const expected: Record<NoiseColor, number> = { white: 0, pink: -3, brown: -6, blue: 3, violet: 6 };
  for (const c of NOISE_COLORS) {
    let slope = 0;
    const reps = 4;
    for (let r = 0; r < reps; r++) {
      const n = peakColourNoise(c, 32000, drawNoiseSeed(augmentRng(1, 2, 3, r)));
      assert.equal(Math.max(...n.map(Math.abs)), 1, `${c} peak`);
      slope += slopeDbPerOctave(n) / reps;
    }
    assert.ok(Math.abs(slope - expected[c]) < 1, `${c}: ${slope.toFixed(2)} dB/octave, expected ${expected[c]}`);
  }
});

test('colour noise (both levels): clipped to the sample range and scaled by factor x loudness; silence stays exact zeros (Q-16)', () => {
  for (const level of ['mltk', 'peak'] as const) {
    const silence = { samples: new Float32Array(16000), sampleRate: SR };
    for (const c of NOISE_COLORS) {
      const out = applyTransform(silence, params({ noiseColor: c, noiseFactor: 0.8, loudness: 1.5 }, augmentRng(0, 0, 0, 1)), ctxFor({ noiseLevel: level }));
      assert.ok(out.every((v) => v === 0), c);
    }
  }
  const d = { samples: sine(440, 16000, SR, 0.2), sampleRate: SR };
  const clean = applyTransform(d, params({ loudness: 1.5 }), ctxFor());
  const noisy = applyTransform(d, params({ noiseColor: 'white', noiseFactor: 0.5, loudness: 1.5 }, augmentRng(0, 0, 0, 2)), ctxFor({ noiseLevel: 'peak' }));
  const lo = Math.min(...clean);
  const hi = Math.max(...clean);
  let diffs = 0;
  for (let i = 0; i < clean.length; i++) {
    const added = noisy[i]! - clean[i]!;
    // |noise| <= range of the sample, times 0.5 * 1.5.
    assert.ok(added >= lo * 0.75 - 1e-6 && added <= hi * 0.75 + 1e-6);
    if (added !== 0) diffs++;
  }
  assert.ok(diffs > 15000);
  // Factor 0 means no noise (MLTK applies noise only for a factor > 0).
  const zero = applyTransform(d, params({ noiseColor: 'pink', noiseFactor: 0, loudness: 1.5 }), ctxFor());
  // MLTK's level for white noise is the clipped irfft of normals: about 1/sqrt(2·16000) per
  // sample before clipping, so far below the 0.2 sine's range.
  const mltk = applyTransform(d, params({ noiseColor: 'white', noiseFactor: 0.5, loudness: 1.5 }, augmentRng(0, 0, 0, 2)), ctxFor());
  let peak = 0;
  for (let i = 0; i < clean.length; i++) peak = Math.max(peak, Math.abs(mltk[i]! - clean[i]!));
  assert.ok(peak > 0 && peak < 0.05, `mltk white noise peak ${peak}`);
  assert.ok(bytesOf(zero).equals(bytesOf(clean)));
});

// --- background noise (Q-16 fix) ----------------------------------------------------------

test('loadBackgroundNoises: only *.wav, code-point order, resampled; missing dir is a settings error', async () => {
  const bg = await loadBackgroundNoises(BG_DIR, SR);
  assert.equal(bg.length, 2); // pink_noise.wav, white_noise.wav; README.md skipped
  assert.deepEqual(bg[0], decodeFile(path.join(BG_DIR, 'pink_noise.wav')).samples);
  assert.deepEqual(bg[1], decodeFile(path.join(BG_DIR, 'white_noise.wav')).samples);
  const bg8k = await loadBackgroundNoises(BG_DIR, 8000);
  assert.equal(bg8k[1]!.length, Math.ceil(bg[1]!.length / 2));
  await assert.rejects(loadBackgroundNoises(path.join(BG_DIR, 'nope'), SR), (e: unknown) => e instanceof InvalidSettingsError && /bg_noise_dir not found/.test(e.message));
});

test('loadBackgroundNoises averages channels (decodeWav alone keeps channel 0)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'augment-bg-'));
  try {
    const frames = 400;
    const inter = new Int16Array(frames * 2);
    for (let i = 0; i < frames; i++) {
      inter[2 * i] = 1000 * (i % 7);
      inter[2 * i + 1] = -300 * (i % 5);
    }
    await writeFile(path.join(dir, 'st.wav'), wavBytes(inter, SR, 2));
    await writeFile(path.join(dir, 'skip.WAV'), wavBytes([1, 2, 3], SR));
    const [avg, ...rest] = await loadBackgroundNoises(dir, SR);
    assert.equal(rest.length, 0);
    for (let i = 0; i < frames; i++) assert.equal(avg![i], Math.fround((1000 * (i % 7) / 32768 + (-300 * (i % 5)) / 32768) / 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bg noise: 'mix' mixes a random crop x (factor x loudness); 'mltk' draws it and drops it", async () => {
  const bgNoises = await loadBackgroundNoises(BG_DIR, SR);
  const d = { samples: sine(440, 16000, SR, 0.3), sampleRate: SR };
  const base = { bg_noise_dir: BG_DIR, bg_noise_range: [0.2, 0.4] as [number, number], loudness_range: [0.8, 1.2] as [number, number] };

  const mix = drawMany({ ...base, bg_noise_mode: 'mix' }, 100, bgNoises.length);
  assert.ok(mix.every((p) => p.bgNoise !== null && p.bgFactor >= 0.2 && p.bgFactor < 0.4));
  assert.deepEqual([...new Set(mix.map((p) => p.bgNoise))].sort(), [0, 1]);
  const mltk = drawMany({ ...base, bg_noise_mode: 'mltk' }, 100, bgNoises.length);
  assert.ok(mltk.every((p) => p.bgNoise === null));
  // Same stream: 'mltk' draws exactly what 'mix' draws, then drops the file.
  assert.deepEqual(mltk.map((p) => p.loudness), mix.map((p) => p.loudness));

  const p = mix[0]!;
  const clean = applyTransform(d, { ...p, bgNoise: null }, ctxFor({ bgNoises }));
  const mixed = applyTransform(d, p, ctxFor({ bgNoises }));
  let energy = 0;
  for (let i = 0; i < clean.length; i++) energy += (mixed[i]! - clean[i]!) ** 2;
  assert.ok(energy > 1, `added bg energy ${energy}`);
  // 'mltk' params are the 'mix' ones with the file dropped.
  assert.deepEqual(mltk[0], { ...mix[0]!, bgNoise: null, bgOffset: null });

  // The added signal is a contiguous crop of the chosen file x fround(factor x loudness).
  const g = Math.fround(p.bgFactor * p.loudness);
  const added = Float32Array.from(mixed, (v, i) => v - clean[i]!);
  const src = bgNoises[p.bgNoise!]!;
  const first = added.findIndex((v) => v !== 0);
  let start = -1;
  for (let s = 0; s + 16000 <= src.length && start < 0; s++) {
    if (Math.abs(Math.fround(src[s + first]! * g) - added[first]!) < 1e-7 && Math.abs(Math.fround(src[s + first + 1]! * g) - added[first + 1]!) < 1e-7) start = s;
  }
  assert.ok(start >= 0, 'crop found in the noise file');

  // Silence gets background noise (it is not clipped, unlike colour noise).
  const sil = applyTransform({ samples: new Float32Array(16000), sampleRate: SR }, p, ctxFor({ bgNoises }));
  assert.ok(sil.some((v) => v !== 0));
});

test("bg noise with colour noise: 'mix' picks one of the two per sample, about half each", () => {
  const s = { bg_noise_dir: BG_DIR, bg_noise_range: [0.1, 0.2] as [number, number], noise_colors: 'all' as const, noise_color_range: [0.1, 0.2] as [number, number] };
  const mix = drawMany(s, 400, 2);
  const bg = mix.filter((p) => p.bgNoise !== null).length;
  assert.ok(mix.every((p) => (p.bgNoise === null) !== (p.noiseColor === null)));
  assert.ok(bg > 150 && bg < 250, `bg chosen ${bg}/400`);
  const mltk = drawMany({ ...s, bg_noise_mode: 'mltk' }, 100, 2);
  assert.ok(mltk.every((p) => p.bgNoise === null && p.noiseColor !== null));
  // No bg noise loaded: nothing drawn for it.
  assert.ok(drawMany(s, 20, 0).every((p) => p.bgNoise === null && p.noiseColor !== null));
});

// --- stretch and pitch ---------------------------------------------------------------------

test('time stretch: length round(n / rate), dominant frequency preserved', () => {
  const y = sine(440, 16000);
  for (const rate of [0.8, 0.9, 1.1, 1.2]) {
    const s = timeStretch(y, rate);
    assert.equal(s.length, Math.round(16000 / rate));
    assert.ok(Math.abs(dominantHz(s) / 440 - 1) < 0.02, `rate ${rate}: ${dominantHz(s)} Hz`);
    // Amplitude survives (the vocoder is normalised by the window sum of squares).
    const mid = s.subarray(s.length / 4, (3 * s.length) / 4);
    const peak = Math.max(...mid.map(Math.abs));
    assert.ok(peak > 0.4 && peak < 0.65, `rate ${rate}: peak ${peak}`);
  }
});

test('pitch shift: dominant frequency x 2^(n/12), length kept', () => {
  const y = sine(440, 16000);
  for (const n of [-5, -1, 2, 7, 11, 12]) {
    const p = pitchShift(y, n);
    assert.equal(p.length, y.length);
    const want = 440 * 2 ** (n / 12);
    assert.ok(Math.abs(dominantHz(p) / want - 1) < 0.02, `n ${n}: ${dominantHz(p)} Hz, want ${want}`);
  }
  // At 8 kHz the same (the shift is a ratio).
  const y8 = sine(300, 8000, 8000);
  assert.ok(Math.abs(dominantHz(pitchShift(y8, 4), 8000) / (300 * 2 ** (4 / 12)) - 1) < 0.02);
});

test('speed and pitch together: duration from speed, pitch from steps', () => {
  const y = sine(500, 16000);
  for (const [speed, n] of [[0.9, 11], [1.1, -3], [1.2, 12]] as const) {
    const out = stretchAndShift(y, speed, n);
    assert.equal(out.length, Math.round(16000 / speed));
    const want = 500 * 2 ** (n / 12);
    assert.ok(Math.abs(dominantHz(out) / want - 1) < 0.02, `speed ${speed} n ${n}: ${dominantHz(out)}`);
  }
});

test('arbitrary-ratio resampler preserves a tone and its level', () => {
  const y = sine(1000, 16000);
  const r = 2 ** (-5 / 12);
  const out = resampleRatio(y, r, Math.ceil(16000 * r));
  assert.ok(Math.abs(dominantHz(out, SR * r) / 1000 - 1) < 0.01);
  const mid = out.subarray(2000, out.length - 2000);
  assert.ok(Math.abs(Math.max(...mid.map(Math.abs)) - 0.5) < 0.01);
});

test('applyTransform end to end: exactly T samples for short, long, and resampled input', () => {
  const s = resolveAugmentation({ speed_range: [0.8, 1.2], pitch_range: [0.9, 1.1], noise_colors: 'all', noise_color_range: [0, 0.3], loudness_range: [0.5, 1.5] });
  const inputs = [
    { samples: sine(300, 4000), sampleRate: SR },
    { samples: sine(300, 40000), sampleRate: SR },
    decodeFile(testdata('corpus-mini-odd', 'yes', '0dd44100_nohash_0.wav')),
    decodeFile(testdata('corpus-mini-odd', 'yes', '0dd08000_nohash_0.wav')),
    { samples: new Float32Array(16000), sampleRate: SR },
  ];
  for (const [i, d] of inputs.entries()) {
    const rng = augmentRng(1, 1, 1, i);
    const out = applyTransform(d, drawTransformParams(s, rng, 0), ctxFor({ sampleLengthMs: 750 }));
    assert.equal(out.length, 12000);
    assert.ok(out.every(Number.isFinite));
  }
});

// --- settings ------------------------------------------------------------------------------

test('resolveAugmentation: defaults', () => {
  const r = resolveAugmentation();
  assert.deepEqual(r, {
    offset_range: [0, 1],
    loudness_range: null,
    noise_colors: null,
    noise_color_range: null,
    noise_color_level: 'mltk',
    bg_noise_range: null,
    bg_noise_dir: null,
    bg_noise_mode: 'mix',
    speed_range: null,
    pitch_range: null,
    vtlp_range: null,
    trim_threshold_db: 20,
    validation_augmentation_enabled: true,
  });
  assert.equal(isAugmentationActive(r), true); // random offset
  assert.deepEqual(resolveAugmentation({ noise_colors: 'all' }).noise_colors, ['white', 'brown', 'blue', 'pink', 'violet']);
  assert.deepEqual(resolveAugmentation({ noise_colors: ['Pink', 'none'] }).noise_colors, ['pink', 'none']);
  assert.equal(resolveAugmentation({ noise_colors: [] }).noise_colors, null);
  assert.equal(resolveAugmentation({ noise_colors: 'none' }).noise_colors, null);
  assert.deepEqual(resolveAugmentation({ offset_range: [] as unknown as [number, number] }).offset_range, [0, 1]);
});

test('resolveAugmentation: invalid values are InvalidSettingsError naming the field', () => {
  const cases: [AugmentationSettings, string][] = [
    [{ offset_range: [0.8, 0.2] }, 'offset_range'],
    [{ offset_range: [0, 1.5] }, 'offset_range'],
    [{ loudness_range: [-0.1, 1] }, 'loudness_range'],
    [{ loudness_range: [0, Infinity] }, 'loudness_range'],
    [{ loudness_range: [NaN, 1] }, 'loudness_range'],
    [{ noise_colors: ['white', 'purple'] }, 'noise_colors'],
    [{ noise_colors: 'some' as 'all' }, 'noise_colors'],
    [{ noise_color_range: [0.5, 0.1] }, 'noise_color_range'],
    [{ bg_noise_range: [-1, 0] }, 'bg_noise_range'],
    [{ bg_noise_mode: 'both' as 'mix' }, 'bg_noise_mode'],
    [{ noise_color_level: 'loud' as 'mltk' }, 'noise_color_level'],
    [{ speed_range: [0, 0.05] }, 'speed_range'],
    [{ speed_range: [-0.5, 0.5] }, 'speed_range'],
    [{ speed_range: [1, 1.05] }, 'speed_range'],
    [{ pitch_range: [0.95, 0.99] }, 'pitch_range'],
    [{ pitch_range: [0, 40] }, 'pitch_range'],
    [{ vtlp_range: [1.2, 1.5] }, 'vtlp_range'],
    [{ vtlp_range: [-2, 1] }, 'vtlp_range'],
    [{ trim_threshold_db: -1 }, 'trim_threshold_db'],
    [{ validation_augmentation_enabled: 'yes' as unknown as boolean }, 'validation_augmentation_enabled'],
  ];
  for (const [s, field] of cases) {
    assert.throws(
      () => resolveAugmentation(s),
      (e: unknown) => e instanceof InvalidSettingsError && e.message.startsWith(`${field}:`) && e.extra.field === field,
      JSON.stringify(s),
    );
  }
});

test('isAugmentationActive', () => {
  const off = { offset_range: [0, 0] as [number, number] };
  const active = (s: AugmentationSettings): boolean => isAugmentationActive(resolveAugmentation({ ...off, ...s }));
  assert.equal(active({}), false);
  assert.equal(active({ loudness_range: [1, 1] }), false);
  assert.equal(active({ loudness_range: [0.9, 1.1] }), true);
  assert.equal(active({ noise_colors: 'all' }), false); // no factor range: factor 0
  assert.equal(active({ noise_colors: 'all', noise_color_range: [0, 0.1] }), true);
  assert.equal(active({ bg_noise_dir: BG_DIR, bg_noise_range: [0.1, 0.2] }), true);
  assert.equal(active({ bg_noise_dir: BG_DIR, bg_noise_range: [0.1, 0.2], bg_noise_mode: 'mltk' }), false);
  assert.equal(active({ speed_range: [0.9, 1.1] }), true);
  assert.equal(active({ pitch_range: [0, 1] }), false);
  assert.equal(active({ pitch_range: [0.9, 1.1] }), true);
  assert.equal(active({ vtlp_range: [0.9, 1.1] }), false);
  assert.equal(active({ vtlp_range: [1, 3] }), true);
});

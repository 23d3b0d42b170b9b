import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  adjustLength,
  decodeWav,
  loadSample,
  MAX_WAV_FILE_BYTES,
  prepareSample,
  resample,
  resampledLength,
  targetLength,
  toInt16,
  trimBounds,
  trimSilence,
  type DecodedWav,
} from '../../src/core/audio/index.ts';
import { InvalidSettingsError, WavDecodeError } from '../../src/core/errors.ts';
import { testdata } from '../helpers/paths.ts';

const odd = (rel: string): string => testdata('corpus-mini-odd', rel);
const decodeFile = (p: string): DecodedWav => decodeWav(new Uint8Array(readFileSync(p)), p);

/** Signal of length n: `level` on [from, to), zero elsewhere. */
function block(n: number, from: number, to: number, level: number, background = 0): Float32Array {
  const y = new Float32Array(n).fill(background);
  y.fill(level, from, to);
  return y;
}

const asDecoded = (samples: Float32Array, sampleRate = 16000): DecodedWav => ({
  sampleRate,
  channels: 1,
  bitsPerSample: 16,
  format: 'pcm',
  frames: samples.length,
  samples,
});

const allZero = (a: Float32Array | Int16Array): boolean => a.every((v) => v === 0);

// --- trim ------------------------------------------------------------------------------

test('trim: silence-tone-silence keeps whole 512-hops around the tone (centred 2048 frames)', () => {
  // Frame t spans [512t - 1024, 512t + 1024). A constant 0.5 block on [4000, 8000): frame 6
  // ([2048, 4096)) is the first to overlap it, frame 17 ([7680, 9728)) the last.
  const y = block(16000, 4000, 8000, 0.5);
  assert.deepEqual(trimBounds(y, 20), { start: 6 * 512, end: 18 * 512 });
  const kept = trimSilence(y, 20);
  assert.equal(kept.length, 18 * 512 - 6 * 512);
  assert.equal(kept[4000 - 3072], 0.5);
});

test('trim: frame t covers exactly [512t - 1024, 512t + 1024)', () => {
  const impulse = (p: number): Float32Array => {
    const y = new Float32Array(8000);
    y[p] = 0.5;
    return y;
  };
  // Only frames containing the impulse are loud (the rest sit at the 1e-5 floor).
  assert.deepEqual(trimBounds(impulse(0), 20), { start: 0, end: 3 * 512 });
  assert.deepEqual(trimBounds(impulse(2047), 20), { start: 2 * 512, end: 6 * 512 });
  assert.deepEqual(trimBounds(impulse(2048), 20), { start: 3 * 512, end: 7 * 512 });
  assert.deepEqual(trimBounds(impulse(7999), 20), { start: 14 * 512, end: 8000 });
});

test('trim: a quiet background below the threshold is removed, above it kept', () => {
  // Loud 1.0 on [6144, 10240) over a 0.05 background (-26 dB).
  const y = block(16384, 6144, 10240, 1, 0.05);
  // Frame 10 ([4096, 6144)) is all background; frame 11 overlaps 512 loud samples.
  assert.deepEqual(trimBounds(y, 20), { start: 11 * 512, end: 22 * 512 });
  // At 30 dB the background (-26 dB) and even the half-padded edge frames (-29 dB) count.
  assert.deepEqual(trimBounds(y, 30), { start: 0, end: 16384 });
  // 26 dB: background frames are exactly at the edge region; -26.02 dB is not > -26.
  assert.deepEqual(trimBounds(y, 26), { start: 11 * 512, end: 22 * 512 });
});

test('trim: an all-zero signal is not trimmed; an empty one stays empty', () => {
  assert.deepEqual(trimBounds(new Float32Array(16000), 20), { start: 0, end: 16000 });
  assert.deepEqual(trimBounds(new Float32Array(0), 20), { start: 0, end: 0 });
  // Everything under the 1e-5 RMS floor counts as 0 dB too.
  assert.deepEqual(trimBounds(block(16000, 8000, 8100, 1e-6), 20), { start: 0, end: 16000 });
});

test('trim: top_db = trunc(trim_threshold_db); 0 disables trimming; 0.5 trims everything', () => {
  // Background at -20.5 dB relative to a full-scale block.
  const bg = 10 ** (-20.5 / 20);
  const y = block(16384, 6144, 10240, 1, bg);
  const opts = { sampleRateHz: 16000, sampleLengthMs: 1024 };
  // 20.9 -> top_db 20: the background is below -20 dB and is trimmed.
  const a = prepareSample(asDecoded(y), { ...opts, trimThresholdDb: 20.9 });
  assert.deepEqual(a.subarray(0, 5632), y.subarray(5632, 11264));
  assert.ok(allZero(a.subarray(5632)));
  // 21 -> top_db 21: full background frames (-20.5 dB) count; the zero-padded edge frames
  // 0, 1 (and 31, 32) hold 1/2 or 3/4 background (-23.5, -21.75 dB) and do not.
  const b = prepareSample(asDecoded(y), { ...opts, trimThresholdDb: 21 });
  assert.deepEqual(b.subarray(0, 15872 - 1024), y.subarray(1024, 15872));
  assert.ok(allZero(b.subarray(15872 - 1024)));
  // 0 disables trimming.
  const lead = block(16384, 8000, 9000, 0.5);
  assert.deepEqual(prepareSample(asDecoded(lead), { ...opts, trimThresholdDb: 0 }), lead);
  // 0.5 is non-zero so MLTK trims, with top_db 0: no frame is louder than the loudest.
  assert.ok(allZero(prepareSample(asDecoded(lead), { ...opts, trimThresholdDb: 0.5 })));
});

test('trim: default threshold is 20 dB', () => {
  const y = block(16384, 6144, 10240, 1, 0.05);
  const withDefault = prepareSample(asDecoded(y), { sampleRateHz: 16000, sampleLengthMs: 1024 });
  const with20 = prepareSample(asDecoded(y), { sampleRateHz: 16000, sampleLengthMs: 1024, trimThresholdDb: 20 });
  assert.deepEqual(withDefault, with20);
  assert.equal(withDefault[0], Math.fround(0.05));
  assert.equal(withDefault[5632], 0);
});

// --- length adjustment -----------------------------------------------------------------

const ramp = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => (i + 1) / 1024);

test('target length is floor(ms * rate / 1000)', () => {
  assert.equal(targetLength(16000, 1000), 16000);
  assert.equal(targetLength(16000, 10), 160);
  assert.equal(targetLength(8000, 1234.5), 9876);
  assert.equal(targetLength(44100, 33), 1455);
});

test('pad: offset 0, 0.5, 0.999 place floor((T - m) * offset) zeros first', () => {
  const x = ramp(100);
  const T = 160;
  for (const [offset, before] of [[0, 0], [0.5, 30], [0.999, 59]] as const) {
    const out = prepareSample(asDecoded(x), { sampleRateHz: 16000, sampleLengthMs: 10, trimThresholdDb: 0, offset });
    assert.equal(out.length, T);
    assert.ok(allZero(out.subarray(0, before)), `offset ${offset}`);
    assert.deepEqual(out.subarray(before, before + 100), x);
    assert.ok(allZero(out.subarray(before + 100)), `offset ${offset}`);
  }
});

test('crop: offset 0, 0.5, 0.999 start at floor((m - T) * offset)', () => {
  const x = ramp(300);
  for (const [offset, start] of [[0, 0], [0.5, 70], [0.999, 139]] as const) {
    const out = prepareSample(asDecoded(x), { sampleRateHz: 16000, sampleLengthMs: 10, trimThresholdDb: 0, offset });
    assert.deepEqual(out, x.slice(start, start + 160), `offset ${offset}`);
  }
});

test('Q-18: trimmed length exactly T returns the untrimmed signal cut to T', () => {
  // Tone from 4000 to the end: trimming starts at 6 * 512 = 3072 and keeps the tail.
  const exact = block(3072 + 16000, 4000, 3072 + 16000, 0.5);
  assert.equal(trimSilence(exact, 20).length, 16000);
  const out = prepareSample(asDecoded(exact), { sampleRateHz: 16000, sampleLengthMs: 1000 });
  assert.deepEqual(out, exact.slice(0, 16000));
  assert.ok(allZero(out.subarray(0, 4000)));
  // One sample longer: ordinary crop of the trimmed signal (starts at the trim point).
  const longer = block(3072 + 16001, 4000, 3072 + 16001, 0.5);
  const out2 = prepareSample(asDecoded(longer), { sampleRateHz: 16000, sampleLengthMs: 1000 });
  assert.deepEqual(out2, longer.slice(3072, 3072 + 16000));
  // adjustLength alone, with distinguishable inputs.
  assert.deepEqual(adjustLength(ramp(8), ramp(4).map((v) => -v), 4, 0.7), ramp(4));
});

test('output never aliases the decoded buffer', () => {
  const x = ramp(16000);
  const out = prepareSample(asDecoded(x), { sampleRateHz: 16000, sampleLengthMs: 1000, trimThresholdDb: 0 });
  out[0] = 42;
  assert.notEqual(x[0], 42);
});

// --- float -> int16 --------------------------------------------------------------------

test('toInt16: x * 32768 truncated toward zero', () => {
  const xs = [0, 0.5, -0.5, 1 / 32768, -1 / 32768, 3e-5, -3e-5, -1, Math.fround(1 - 2 ** -24), 0.7, -0.7];
  const got = Array.from(toInt16(Float32Array.from(xs)));
  assert.deepEqual(got, [0, 16384, -16384, 1, -1, 0, 0, -32768, 32767, 22937, -22937]);
});

test('toInt16: every int16 value round-trips, and in-range values match plain truncation', () => {
  const all = new Float32Array(65536);
  for (let k = -32768; k < 32768; k++) all[k + 32768] = k / 32768;
  assert.deepEqual(Array.from(toInt16(all)), Array.from({ length: 65536 }, (_, i) => i - 32768));
  const halfway = new Float32Array(65535);
  for (let k = -32768; k < 32767; k++) halfway[k + 32768] = (k + 0.5) / 32768;
  const h = toInt16(halfway);
  for (let i = 0; i < halfway.length; i++) {
    if (h[i] !== Math.trunc(halfway[i]! * 32768)) assert.fail(`index ${i}: ${h[i]}`);
  }
});

test('toInt16: out-of-range values clip instead of wrapping (Q-19 fix); NaN -> 0', () => {
  const got = Array.from(toInt16(Float32Array.from([1, 1.2, 7, -1.0001, -3, Infinity, -Infinity, NaN])));
  // MLTK would give 1.2 -> -26215 and 1.0 -> -32768.
  assert.deepEqual(got, [32767, 32767, 32767, -32768, -32768, 32767, -32768, 0]);
});

// --- resampling ------------------------------------------------------------------------

/** Count sign changes (a clean sine of f Hz over d seconds has about 2*f*d). */
function zeroCrossings(y: Float32Array, from: number, to: number): number {
  let n = 0;
  for (let i = from + 1; i < to; i++) if ((y[i - 1]! < 0) !== (y[i]! < 0)) n++;
  return n;
}

/** Magnitude of the DFT of y[from, to) at frequency f (Hz), normalised to sine amplitude. */
function toneAmplitude(y: Float32Array, rate: number, f: number, from: number, to: number): number {
  let re = 0;
  let im = 0;
  for (let i = from; i < to; i++) {
    const w = (2 * Math.PI * f * i) / rate;
    re += y[i]! * Math.cos(w);
    im -= y[i]! * Math.sin(w);
  }
  return (2 * Math.hypot(re, im)) / (to - from);
}

const sine = (n: number, rate: number, f: number, amp: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * f * i) / rate));

test('resample: lengths follow ceil(n * to / from)', () => {
  assert.equal(resample(new Float32Array(8000), 8000, 16000).length, 16000);
  assert.equal(resample(new Float32Array(44100), 44100, 16000).length, 16000);
  assert.equal(resample(new Float32Array(44101), 44100, 16000).length, 16001);
  assert.equal(resample(new Float32Array(4410), 44100, 16000).length, 1600);
  assert.equal(resampledLength(22050, 22050, 16000), 16000);
  assert.equal(resample(new Float32Array(0), 8000, 16000).length, 0);
  const w8 = decodeFile(odd('yes/0dd08000_nohash_0.wav'));
  assert.equal(resample(w8.samples, 8000, 16000).length, 16000);
  const w44 = decodeFile(odd('yes/0dd44100_nohash_0.wav'));
  assert.equal(resample(w44.samples, 44100, 16000).length, 16000);
});

test('resample 8k -> 16k: a 1 kHz sine keeps its frequency and amplitude, no image at 7 kHz', () => {
  const y = resample(sine(8000, 8000, 1000, 0.5), 8000, 16000);
  // Away from the edges (the filter sees zeros beyond the ends).
  assert.ok(Math.abs(zeroCrossings(y, 1000, 15000) - 1750) <= 1, String(zeroCrossings(y, 1000, 15000)));
  assert.ok(Math.abs(toneAmplitude(y, 16000, 1000, 1000, 15000) - 0.5) < 1e-4);
  assert.ok(toneAmplitude(y, 16000, 7000, 1000, 15000) < 1e-5);
  let err = 0;
  for (let i = 1000; i < 15000; i++) err = Math.max(err, Math.abs(y[i]! - 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000)));
  assert.ok(err < 1e-5, `max error ${err}`);
});

test('resample 44.1k -> 16k: a 1 kHz sine survives, a 10 kHz tone is filtered instead of aliasing to 6 kHz', () => {
  const y = resample(sine(44100, 44100, 1000, 0.5), 44100, 16000);
  assert.ok(Math.abs(zeroCrossings(y, 1000, 15000) - 1750) <= 1);
  assert.ok(Math.abs(toneAmplitude(y, 16000, 1000, 1000, 15000) - 0.5) < 1e-4);
  const hi = resample(sine(44100, 44100, 10000, 0.5), 44100, 16000);
  assert.ok(toneAmplitude(hi, 16000, 6000, 1000, 15000) < 1e-5);
  let peak = 0;
  for (let i = 1000; i < 15000; i++) peak = Math.max(peak, Math.abs(hi[i]!));
  assert.ok(peak < 1e-4, `10 kHz leaked with peak ${peak}`);
});

test('resample: constant input stays constant away from the edges', () => {
  const y = resample(new Float32Array(22050).fill(0.25), 22050, 16000);
  for (let i = 500; i < y.length - 500; i++) assert.ok(Math.abs(y[i]! - 0.25) < 1e-6, `index ${i}: ${y[i]}`);
});

test('resample: an odd rate pair (16001 -> 16000) keeps a 440 Hz tone', () => {
  const x = sine(1600, 16001, 440, 0.5);
  const y = resample(x, 16001, 16000);
  assert.equal(y.length, 1600);
  for (let i = 200; i < 1400; i++) {
    const want = 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000);
    assert.ok(Math.abs(y[i]! - want) < 1e-5, `index ${i}`);
  }
});

test('equal rates: no resampling, 16 kHz input reaches the output bit for bit', () => {
  const w = decodeFile(testdata('bad-wavs', 'reference-valid.wav'));
  assert.equal(resample(w.samples, 16000, 16000), w.samples);
  const out = prepareSample(w, { sampleRateHz: 16000, sampleLengthMs: 1000 });
  const { start, end } = trimBounds(w.samples, 20);
  assert.ok(end - start < 16000);
  assert.deepEqual(out.subarray(0, end - start), w.samples.subarray(start, end));
  assert.ok(allZero(out.subarray(end - start)));
  // Every value is still an exact int16 / 32768.
  for (const v of out) assert.equal(Math.trunc(v * 32768), v * 32768);
});

test('resample rejects non-integer or non-positive rates', () => {
  assert.throws(() => resample(new Float32Array(4), 0, 16000), RangeError);
  assert.throws(() => resample(new Float32Array(4), 8000.5, 16000), RangeError);
});

// --- loadSample ------------------------------------------------------------------------

const DEFAULTS = { sampleRateHz: 16000, sampleLengthMs: 1000 };

test('loadSample: every corpus-mini-odd file becomes exactly 16000 samples', async () => {
  for (const rel of [
    'yes/0dd08000_nohash_0.wav',
    'yes/0dd44100_nohash_0.wav',
    'yes/0dd0c2c2_nohash_0.wav',
    'yes/0dd24b17_nohash_0.wav',
    'yes/0dd0fffe_nohash_0.wav',
    'no/0dd32f10_nohash_0.wav',
    'no/0dd01400_nohash_0.wav',
    'no/0dd00300_nohash_0.wav',
    'no/0dd0115f_nohash_0.wav',
  ]) {
    const out = await loadSample(odd(rel), DEFAULTS);
    assert.equal(out.length, 16000, rel);
    assert.ok(!allZero(out), rel);
  }
});

test('loadSample: 1.4 s file is trimmed before cropping, so the word past 1.0 s survives', async () => {
  const w = decodeFile(odd('no/0dd01400_nohash_0.wav'));
  const { start, end } = trimBounds(w.samples, 20);
  assert.ok(start >= 0.6 * 16000, `trim start ${start}`);
  assert.ok(end > 16000, `word should extend past 1.0 s, trim end ${end}`);
  const out = await loadSample(odd('no/0dd01400_nohash_0.wav'), DEFAULTS);
  assert.deepEqual(out.subarray(0, end - start), w.samples.subarray(start, end));
  assert.ok(allZero(out.subarray(end - start)));
});

test('loadSample: 0.3 s file is zero-padded after the audio (offset 0)', async () => {
  const out = await loadSample(odd('no/0dd00300_nohash_0.wav'), DEFAULTS);
  assert.ok(allZero(out.subarray(4800)));
  assert.ok(!allZero(out.subarray(0, 4800)));
});

test('loadSample: 8 kHz and 44.1 kHz files go through resampling, then trim and pad', async () => {
  for (const [rel, rate] of [['yes/0dd08000_nohash_0.wav', 8000], ['yes/0dd44100_nohash_0.wav', 44100]] as const) {
    const w = decodeFile(odd(rel));
    const y = resample(w.samples, rate, 16000);
    const { start, end } = trimBounds(y, 20);
    const out = await loadSample(odd(rel), DEFAULTS);
    assert.deepEqual(out.subarray(0, end - start), y.subarray(start, end), rel);
    assert.ok(allZero(out.subarray(end - start)), rel);
  }
});

test('loadSample raw: decoded first channel at the file rate, untouched', async () => {
  const raw8 = await loadSample(odd('yes/0dd08000_nohash_0.wav'), { ...DEFAULTS, raw: true });
  assert.deepEqual(raw8, decodeFile(odd('yes/0dd08000_nohash_0.wav')).samples);
  assert.equal(raw8.length, 8000);
  const long = await loadSample(odd('no/0dd01400_nohash_0.wav'), { ...DEFAULTS, raw: true });
  assert.equal(long.length, 22400);
});

test('silence entries are T zeros', async () => {
  const s = await loadSample(null, DEFAULTS);
  assert.equal(s.length, 16000);
  assert.ok(allZero(s));
  assert.equal((await loadSample('', { sampleRateHz: 8000, sampleLengthMs: 1500 })).length, 12000);
  const raw = await loadSample(null, { ...DEFAULTS, raw: true });
  assert.equal(raw.length, 16000);
  assert.ok(allZero(raw));
});

test('loadSample: bad files reject with WavDecodeError naming the file', async () => {
  const p = testdata('bad-wavs', 'claims-10-hours.wav');
  await assert.rejects(loadSample(p, DEFAULTS), (err: unknown) => {
    assert.ok(err instanceof WavDecodeError);
    assert.equal(err.reason, 'chunk-overruns-file');
    assert.ok(err.message.includes(p));
    return true;
  });
  const missing = testdata('bad-wavs', 'does-not-exist.wav');
  await assert.rejects(loadSample(missing, DEFAULTS), (err: unknown) => err instanceof WavDecodeError && err.reason === 'unreadable-file');
  await assert.rejects(loadSample(testdata('bad-wavs'), DEFAULTS), (err: unknown) => err instanceof WavDecodeError && err.reason === 'not-a-regular-file');
});

test('loadSample: files above the size cap are refused before reading', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'audiofeed-wav-'));
  try {
    const big = path.join(dir, 'big.wav');
    const fh = await open(big, 'w');
    await fh.truncate(MAX_WAV_FILE_BYTES + 1); // sparse: no real disk use
    await fh.close();
    await assert.rejects(loadSample(big, DEFAULTS), (err: unknown) => err instanceof WavDecodeError && err.reason === 'file-too-large');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an absurd resampling ratio is refused (rate floor) instead of allocating gigabytes', () => {
  const oneHz = asDecoded(new Float32Array(8000), 1);
  assert.throws(() => prepareSample(oneHz, DEFAULTS), (err: unknown) => err instanceof WavDecodeError && err.reason === 'sample-rate-too-low');
});

test('invalid options are InvalidSettingsError', () => {
  const d = asDecoded(new Float32Array(10));
  for (const bad of [
    { sampleRateHz: 0, sampleLengthMs: 1000 },
    { sampleRateHz: 16000.5, sampleLengthMs: 1000 },
    { sampleRateHz: 16000, sampleLengthMs: 0 },
    { sampleRateHz: 16000, sampleLengthMs: 0.01 },
    { sampleRateHz: 16000, sampleLengthMs: 1000, offset: 1.5 },
    { sampleRateHz: 16000, sampleLengthMs: 1000, offset: -0.1 },
    { sampleRateHz: 16000, sampleLengthMs: 1000, offset: NaN },
    { sampleRateHz: 16000, sampleLengthMs: 1000, trimThresholdDb: -1 },
  ]) {
    assert.throws(() => prepareSample(d, bad), InvalidSettingsError, JSON.stringify(bad));
  }
});

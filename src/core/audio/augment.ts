/**
 * MLTK's random audio augmentation (`ParallelAudioDataGenerator.get_random_transform` and
 * `apply_transform`, spec §14 steps 3–4, settings §2).
 *
 * Draws (MLTK's order and grids, quirks Q-17 copied):
 *   offset ~ U(offset_range); loudness ~ U(loudness_range); noise colour = uniform choice
 *   of `noise_colors` with factor ~ U(noise_color_range) (0 without a range); background
 *   noise factor ~ U(bg_noise_range) (0 without a range) then a uniform file choice;
 *   speed = uniform choice of the arange grid with 1.0 removed; pitch steps = integer in
 *   [lo, hi) with non-integer bounds turned into trunc(bound * 12); VTLP = integer in
 *   [trunc(lo), trunc(hi)) (0 and 1 mean off).
 * Applied: time stretch and pitch shift (one phase-vocoder pass, ./pitch.ts
 * stretchAndShift), VTLP (all at the file's rate), adjust length
 * (resample, trim, pad/crop at the offset — exactly `prepareSample`), x loudness, + noise
 * clipped to the sample's own [min, max] x (factor x loudness) (Q-16 copy: silence stays
 * exact zeros), + a random crop of a background-noise file x (factor x loudness).
 *
 * Fixes (spec §16):
 * - Q-16 background noise: MLTK always drops the drawn file (its 50/50 coin is
 *   `randint(0, 1)`, always 0, and runs even without colour noise because the default
 *   colour is the string 'none'). `bg_noise_mode: 'mix'` (default) mixes it: with only
 *   background noise configured every sample gets it; with colour noise too, a fair coin
 *   per sample picks one of the two. `'mltk'` drops it as MLTK does.
 * - Q-20 RNG: every draw comes from an MT19937 stream seeded by a hash of (seed, epoch,
 *   batch index, position in batch), so an augmented epoch is reproducible.
 * - The background noise is cropped at `sample_rate_hz` as loaded; MLTK passes the
 *   sample file's rate to its adjust-length, which resamples the (already resampled)
 *   noise again whenever that rate differs.
 * Integer-valued pitch/VTLP bounds count as integers (JSON cannot tell 1 from 1.0;
 * Python would scale a float 1.0 by 12).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidSettingsError, WavDecodeError } from '../errors.ts';
import { compareCodePoints } from '../datasets/code-point-order.ts';
import { RandomState } from '../random.ts';
import { adjustLength } from './adjust-length.ts';
import { MAX_RESAMPLED_SAMPLES, MAX_WAV_FILE_BYTES, prepareSample } from './load.ts';
import { colouredNoise, isNoiseColor, NOISE_COLORS, type NoiseColor, type WordSource } from './noise.ts';
import { stretchAndShift, vtlp } from './pitch.ts';
import { resample, resampledLength } from './resample.ts';
import { roundHalfEven } from './stretch.ts';
import { trimBounds } from './trim.ts';
import { decodeWav, inspectWav, type DecodedWav } from './wav.ts';

export { NOISE_COLORS, type NoiseColor } from './noise.ts';

export type Range = [number, number];

export interface AugmentationSettings {
  offset_range?: Range | null;
  loudness_range?: Range | null;
  noise_colors?: string[] | 'all' | 'none' | null;
  noise_color_range?: Range | null;
  bg_noise_range?: Range | null;
  bg_noise_dir?: string | null;
  bg_noise_mode?: 'mix' | 'mltk';
  speed_range?: Range | null;
  pitch_range?: Range | null;
  vtlp_range?: Range | null;
  trim_threshold_db?: number;
  validation_augmentation_enabled?: boolean;
}

/** Validated settings with defaults filled in; `noise_colors` is lower-case and expanded. */
export interface ResolvedAugmentation extends Required<AugmentationSettings> {
  offset_range: Range;
  /** Lower-case colour names; 'none' entries mean "no colour noise" when drawn. */
  noise_colors: string[] | null;
}

export interface TransformParams {
  offset: number;
  loudness: number;
  /** null: no colour noise (none configured, 'none' drawn, or the coin chose bg noise). */
  noiseColor: NoiseColor | null;
  noiseFactor: number;
  /** Index into the background-noise list, or null when none is mixed. */
  bgNoise: number | null;
  bgFactor: number;
  speed: number;
  pitch: number;
  vtlp: number;
}

/** MLTK's `default_transform`: what non-augmented batches use. */
export function defaultTransformParams(): TransformParams {
  return { offset: 0, loudness: 1, noiseColor: null, noiseFactor: 0, bgNoise: null, bgFactor: 0, speed: 1, pitch: 0, vtlp: 1 };
}

// --- RNG -------------------------------------------------------------------------------

/**
 * numpy legacy `RandomState` draws on top of ./rng.ts's MT19937: `random_sample`,
 * `uniform` and `randint` (masked rejection), so the parameter draws behave like
 * `np.random` seeded with the same value. Bulk noise uses ./noise.ts's FastGaussian,
 * seeded from this stream.
 */
export class AugmentRng implements WordSource {
  private readonly rs: RandomState;

  constructor(seed32: number) {
    this.rs = new RandomState(seed32);
  }

  nextUint32(): number {
    return this.rs.nextUint32();
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.rs.nextUint32() >>> 5;
    const b = this.rs.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer in [lo, hi); a one-value range draws nothing (as numpy). */
  randint(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`randint needs lo < hi, got [${lo}, ${hi})`);
    return lo + this.rs.interval(hi - lo - 1);
  }
}

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** MurmurHash3 (x86, 32-bit) over 32-bit words. */
function murmur3Words(words: number[], seed: number): number {
  let h = seed >>> 0;
  for (const w of words) {
    let k = Math.imul(w >>> 0, 0xcc9e2d51);
    k = rotl32(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl32(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= words.length * 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The stream for one sample: MT19937 seeded with MurmurHash3 of the four numbers (each
 * as two 32-bit words, so seeds up to 2^53 are distinct inputs). Streams of different
 * tuples are unrelated MT19937 states; identical tuples give identical streams.
 */
export function augmentRng(seed: number, epoch: number, batch: number, position: number): AugmentRng {
  const words: number[] = [];
  for (const [name, v] of [
    ['seed', seed],
    ['epoch', epoch],
    ['batch', batch],
    ['position', position],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${v}`);
    words.push(v % 0x100000000, Math.floor(v / 0x100000000));
  }
  return new AugmentRng(murmur3Words(words, 0x61756766 /* 'augf' */));
}

// --- settings --------------------------------------------------------------------------

const BG_NOISE_MODES = ['mix', 'mltk'] as const;
/** Pitch shifts beyond two octaves stretch a clip 4x or more: refused as settings errors. */
export const MAX_PITCH_STEPS = 24;

function bad(field: string, detail: string): never {
  throw new InvalidSettingsError(`${field}: ${detail}`, { field });
}

/** A [lo, hi] pair of finite numbers with lo <= hi; null/undefined/[] = off (MLTK's falsy). */
function readRange(field: string, v: unknown, min?: number, max?: number): Range | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) bad(field, `must be a [min, max] pair of numbers or null, got ${JSON.stringify(v)}`);
  if (v.length === 0) return null;
  if (v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    bad(field, `must be a [min, max] pair of numbers or null, got ${JSON.stringify(v)}`);
  }
  const lo = v[0];
  const hi = v[1];
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) bad(field, `bounds must be finite, got [${lo}, ${hi}]`);
  if (lo > hi) bad(field, `min ${lo} is greater than max ${hi}`);
  if (min !== undefined && lo < min) bad(field, `bounds must be >= ${min}, got [${lo}, ${hi}]`);
  if (max !== undefined && hi > max) bad(field, `bounds must be <= ${max}, got [${lo}, ${hi}]`);
  return [lo, hi];
}

/**
 * `round(v, 1)` for the np.float64 values of np.arange, which is numpy's rounding (not
 * Python's correctly rounded one): rint(v * 10) / 10 with ties to even, after the product
 * is rounded to double (so 0.95 -> 1.0 although 0.95 is 0.9499… in binary).
 */
export function roundToTenth(x: number): number {
  return roundHalfEven(x * 10) / 10;
}

/**
 * MLTK's speed grid: `[round(i, 1) for i in np.arange(lo, hi, 0.1)]` without exactly 1.0.
 * numpy arange: ceil((hi - lo) / 0.1) values, value 1 = lo + 0.1, value i >= 2 =
 * lo + i * ((lo + 0.1) - lo).
 */
export function speedGrid(range: Range): number[] {
  const [lo, hi] = range;
  const step = 0.1;
  const len = Math.ceil((hi - lo) / step);
  const raw: number[] = [];
  if (len >= 1) raw.push(lo);
  if (len >= 2) raw.push(lo + step);
  const delta = lo + step - lo;
  for (let i = 2; i < len; i++) raw.push(lo + i * delta);
  return raw.map(roundToTenth).filter((s) => s !== 1);
}

/** MLTK's pitch bounds: a non-integer bound b becomes trunc(b * 12); draws are in [lo, hi). */
export function pitchBounds(range: Range): Range {
  const conv = (b: number): number => (Number.isInteger(b) ? b : Math.trunc(b * 12));
  return [conv(range[0]), conv(range[1])];
}

/** MLTK's VTLP bounds: numpy randint truncates float bounds; draws are in [lo, hi). */
export function vtlpBounds(range: Range): Range {
  return [Math.trunc(range[0]), Math.trunc(range[1])];
}

function readColors(v: unknown): string[] | null {
  const field = 'noise_colors';
  if (v === null || v === undefined || v === 'none') return null;
  if (v === 'all') return [...NOISE_COLORS];
  if (!Array.isArray(v)) bad(field, `must be 'all', 'none', null or a list of colours (${NOISE_COLORS.join(', ')}), got ${JSON.stringify(v)}`);
  const out: string[] = [];
  for (const c of v) {
    const name = typeof c === 'string' ? c.toLowerCase() : null;
    if (name === null || (name !== 'none' && !isNoiseColor(name))) {
      bad(field, `unknown noise colour ${JSON.stringify(c)}; valid: ${NOISE_COLORS.join(', ')}, none`);
    }
    out.push(name);
  }
  return out.length === 0 ? null : out;
}

/** Validate and fill defaults (spec §2). Errors are InvalidSettingsError naming the field. */
export function resolveAugmentation(partial: AugmentationSettings = {}): ResolvedAugmentation {
  if (partial === null || typeof partial !== 'object') {
    throw new InvalidSettingsError('augmentation settings must be an object');
  }
  const p = partial as Record<string, unknown>;
  const offset = readRange('offset_range', p.offset_range, 0, 1) ?? [0, 1];
  const loudness = readRange('loudness_range', p.loudness_range, 0);
  const noiseColors = readColors(p.noise_colors);
  const noiseRange = readRange('noise_color_range', p.noise_color_range, 0);
  const bgRange = readRange('bg_noise_range', p.bg_noise_range, 0);

  let bgDir: string | null = null;
  if (p.bg_noise_dir !== null && p.bg_noise_dir !== undefined) {
    if (typeof p.bg_noise_dir !== 'string') bad('bg_noise_dir', `must be a string or null, got ${JSON.stringify(p.bg_noise_dir)}`);
    // MLTK tests the directory for truthiness: '' means no background noise.
    bgDir = p.bg_noise_dir === '' ? null : p.bg_noise_dir;
  }
  const mode = p.bg_noise_mode ?? 'mix';
  if (!(BG_NOISE_MODES as readonly unknown[]).includes(mode)) {
    bad('bg_noise_mode', `must be 'mix' (background noise mixed, the fix of Q-16) or 'mltk' (drawn then dropped, as MLTK), got ${JSON.stringify(mode)}`);
  }

  const speed = readRange('speed_range', p.speed_range);
  if (speed !== null) {
    const grid = speedGrid(speed);
    if (grid.length === 0) {
      bad('speed_range', `[${speed[0]}, ${speed[1]}] gives no speed: MLTK's grid is round(lo + i*0.1, 1) for i < ceil((hi - lo) / 0.1), without 1.0; widen the range or use null`);
    }
    if (grid.some((s) => !(s > 0))) bad('speed_range', `speeds must be > 0; [${speed[0]}, ${speed[1]}] gives ${grid.join(', ')}`);
  }

  const pitch = readRange('pitch_range', p.pitch_range);
  if (pitch !== null) {
    const [a, b] = pitchBounds(pitch);
    if (a >= b) {
      bad('pitch_range', `[${pitch[0]}, ${pitch[1]}] gives the empty semitone range [${a}, ${b}) (non-integer bounds are multiplied by 12 and truncated, as MLTK); use null for no pitch shift`);
    }
    if (a < -MAX_PITCH_STEPS || b - 1 > MAX_PITCH_STEPS) {
      bad('pitch_range', `[${pitch[0]}, ${pitch[1]}] gives semitone shifts [${a}, ${b}), beyond +-${MAX_PITCH_STEPS}`);
    }
  }

  const vtlpRange = readRange('vtlp_range', p.vtlp_range);
  if (vtlpRange !== null) {
    const [a, b] = vtlpBounds(vtlpRange);
    if (a >= b) {
      bad('vtlp_range', `[${vtlpRange[0]}, ${vtlpRange[1]}] gives the empty integer range [${a}, ${b}) (bounds are truncated, as numpy randint does in MLTK); use null for no VTLP`);
    }
    if (a < 0) bad('vtlp_range', `warp factors must be >= 0 (0 and 1 mean off), got integer range [${a}, ${b})`);
  }

  const trim = p.trim_threshold_db ?? 20;
  if (typeof trim !== 'number' || !Number.isFinite(trim) || trim < 0) {
    bad('trim_threshold_db', `must be a finite number >= 0, got ${JSON.stringify(trim)}`);
  }
  const valAug = p.validation_augmentation_enabled ?? true;
  if (typeof valAug !== 'boolean') bad('validation_augmentation_enabled', `must be a boolean, got ${JSON.stringify(valAug)}`);

  return {
    offset_range: offset,
    loudness_range: loudness,
    noise_colors: noiseColors,
    noise_color_range: noiseRange,
    bg_noise_range: bgRange,
    bg_noise_dir: bgDir,
    bg_noise_mode: mode as 'mix' | 'mltk',
    speed_range: speed,
    pitch_range: pitch,
    vtlp_range: vtlpRange,
    trim_threshold_db: trim,
    validation_augmentation_enabled: valAug,
  };
}

/**
 * Whether random transforms can make a sample differ from the deterministic path
 * (offset 0, no transform). The default offset_range (0, 1) alone makes it active: MLTK
 * places every training sample at a random offset.
 */
export function isAugmentationActive(s: ResolvedAugmentation): boolean {
  if (s.offset_range[0] !== 0 || s.offset_range[1] !== 0) return true;
  if (s.loudness_range !== null && (s.loudness_range[0] !== 1 || s.loudness_range[1] !== 1)) return true;
  if (s.noise_colors !== null && s.noise_colors.some((c) => c !== 'none') && s.noise_color_range !== null && s.noise_color_range[1] > 0) {
    return true;
  }
  if (s.bg_noise_dir !== null && s.bg_noise_mode === 'mix' && s.bg_noise_range !== null && s.bg_noise_range[1] > 0) return true;
  // The speed grid never contains 1.0: any configured range stretches every sample.
  if (s.speed_range !== null) return true;
  if (s.pitch_range !== null) {
    const [a, b] = pitchBounds(s.pitch_range);
    if (!(a === 0 && b === 1)) return true;
  }
  if (s.vtlp_range !== null) {
    const [a, b] = vtlpBounds(s.vtlp_range);
    if (b > 2 || a < 0) return true;
  }
  return false;
}

/**
 * One sample's random transform, in MLTK's draw order. `bgNoiseCount` = number of loaded
 * background-noise files (0: no background noise, as MLTK's empty dict).
 */
export function drawTransformParams(s: ResolvedAugmentation, rng: AugmentRng, bgNoiseCount: number): TransformParams {
  const p = defaultTransformParams();
  p.offset = rng.uniform(s.offset_range[0], s.offset_range[1]);
  if (s.loudness_range !== null) p.loudness = rng.uniform(s.loudness_range[0], s.loudness_range[1]);

  let colourDrawn = false;
  if (s.noise_colors !== null) {
    const c = s.noise_colors[rng.randint(0, s.noise_colors.length)]!;
    colourDrawn = true;
    p.noiseColor = c === 'none' ? null : (c as NoiseColor);
    p.noiseFactor = s.noise_color_range !== null ? rng.uniform(s.noise_color_range[0], s.noise_color_range[1]) : 0;
  }
  if (bgNoiseCount > 0) {
    p.bgFactor = s.bg_noise_range !== null ? rng.uniform(s.bg_noise_range[0], s.bg_noise_range[1]) : 0;
    p.bgNoise = rng.randint(0, bgNoiseCount);
    if (s.bg_noise_mode === 'mltk') {
      // MLTK: randint(0, 1) is always 0 (and draws nothing), so the bg noise is dropped.
      p.bgNoise = null;
    } else if (colourDrawn) {
      if (rng.randint(0, 2) === 0) p.bgNoise = null;
      else p.noiseColor = null;
    }
  }

  if (s.speed_range !== null) {
    const grid = speedGrid(s.speed_range);
    p.speed = grid[rng.randint(0, grid.length)]!;
  }
  if (s.pitch_range !== null) {
    const [a, b] = pitchBounds(s.pitch_range);
    p.pitch = rng.randint(a, b);
  }
  if (s.vtlp_range !== null) {
    const [a, b] = vtlpBounds(s.vtlp_range);
    p.vtlp = rng.randint(a, b);
  }
  return p;
}

// --- apply -----------------------------------------------------------------------------

export interface TransformContext {
  sampleRateHz: number;
  sampleLengthMs: number;
  trimThresholdDb: number;
  /** Background noises at `sampleRateHz`, channel-averaged (loadBackgroundNoises). */
  bgNoises: Float32Array[];
  /** The sample's stream, positioned after drawTransformParams: noise and bg offset. */
  rng: AugmentRng;
}

/** Trim bounds of background noises per top_db: a 1-minute noise costs ~4 ms to trim. */
const bgTrimCache = new WeakMap<Float32Array, Map<number, { start: number; end: number }>>();

function bgCrop(noise: Float32Array, topDb: number | null, T: number, offset: number): Float32Array {
  let trimmed = noise;
  if (topDb !== null) {
    let perDb = bgTrimCache.get(noise);
    if (perDb === undefined) {
      perDb = new Map();
      bgTrimCache.set(noise, perDb);
    }
    let b = perDb.get(topDb);
    if (b === undefined) {
      b = trimBounds(noise, topDb);
      perDb.set(topDb, b);
    }
    trimmed = noise.subarray(b.start, b.end);
  }
  return adjustLength(noise, trimmed, T, offset);
}

/**
 * Apply `params` to a decoded clip; returns exactly T = floor(ms * rate / 1000) samples.
 * With `defaultTransformParams()` the result is bit-identical to `prepareSample`.
 */
export function applyTransform(
  decoded: { samples: Float32Array; sampleRate: number },
  params: TransformParams,
  ctx: TransformContext,
): Float32Array {
  const rate = decoded.sampleRate;
  let x = decoded.samples;
  // Speed and pitch share one phase-vocoder pass (./pitch.ts stretchAndShift).
  const speed = params.speed === 0 ? 1 : params.speed;
  if (speed !== 1 || params.pitch !== 0) x = stretchAndShift(x, speed, params.pitch);
  if (params.vtlp !== 1 && params.vtlp !== 0) x = vtlp(x, rate, params.vtlp);

  const asWav: DecodedWav = { sampleRate: rate, channels: 1, bitsPerSample: 32, format: 'float', frames: x.length, samples: x };
  const y = prepareSample(asWav, {
    sampleRateHz: ctx.sampleRateHz,
    sampleLengthMs: ctx.sampleLengthMs,
    trimThresholdDb: ctx.trimThresholdDb,
    offset: params.offset,
  });
  const T = y.length;

  // numpy: float32 array * Python float -> the scalar is cast to float32 first.
  const loud = Math.fround(params.loudness);
  if (params.loudness !== 1) {
    for (let i = 0; i < T; i++) y[i] = y[i]! * loud;
  }

  if (params.noiseColor !== null && params.noiseFactor > 0) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < T; i++) {
      const v = y[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const noise = colouredNoise(params.noiseColor, T, ctx.rng);
    const g = Math.fround(params.noiseFactor * params.loudness);
    for (let i = 0; i < T; i++) {
      // Clipping to the sample's own range (Q-16 copy): silence gets no noise at all.
      const n = noise[i]! < lo ? lo : noise[i]! > hi ? hi : noise[i]!;
      y[i] = y[i]! + Math.fround(n * g);
    }
  }

  if (params.bgNoise !== null && params.bgFactor > 0) {
    const noise = ctx.bgNoises[params.bgNoise];
    if (noise === undefined) {
      throw new RangeError(`background noise index ${params.bgNoise} is out of range (${ctx.bgNoises.length} loaded)`);
    }
    const offset = ctx.rng.uniform(0, 1);
    const topDb = ctx.trimThresholdDb === 0 ? null : Math.trunc(ctx.trimThresholdDb);
    const crop = bgCrop(noise, topDb, T, offset);
    const g = Math.fround(params.bgFactor * params.loudness);
    for (let i = 0; i < T; i++) y[i] = y[i]! + Math.fround(crop[i]! * g);
  }
  return y;
}

// --- background noise files -------------------------------------------------------------

/** All channels of a WAV, averaged (librosa `load(mono=True)`); decodeWav keeps channel 0. */
function decodeAveraged(bytes: Uint8Array, file: string): { samples: Float32Array; sampleRate: number } {
  const info = inspectWav(bytes, file);
  if (info.channels === 1) {
    const d = decodeWav(bytes, file);
    return { samples: d.samples, sampleRate: d.sampleRate };
  }
  const { frames, blockAlign, channels, bitsPerSample, format } = info;
  const view = new DataView(bytes.buffer, bytes.byteOffset + info.dataOffset, frames * blockAlign);
  const bytesPer = bitsPerSample / 8;
  // Same scaling as decodeWav, per channel.
  const read = (p: number): number => {
    if (format === 'float') {
      const v = view.getFloat32(p, true);
      if (!Number.isFinite(v)) throw new WavDecodeError('non-finite-samples', `non-finite float sample at byte ${p}`, file);
      return v;
    }
    switch (bitsPerSample) {
      case 8:
        return (view.getUint8(p) - 128) / 128;
      case 16:
        return view.getInt16(p, true) / 32768;
      case 24:
        return ((view.getInt8(p + 2) << 16) | (view.getUint8(p + 1) << 8) | view.getUint8(p)) / 8388608;
      default:
        return Math.min(Math.fround(view.getInt32(p, true) / 2147483648), 1 - 2 ** -24);
    }
  };
  const out = new Float32Array(frames);
  for (let i = 0, p = 0; i < frames; i++, p += blockAlign) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += Math.fround(read(p + c * bytesPer));
    out[i] = sum / channels;
  }
  return { samples: out, sampleRate: info.sampleRate };
}

/**
 * Load the background noises of `dir`: names ending exactly in '.wav' (case-sensitive),
 * in code-point order (MLTK uses os.listdir order, which is arbitrary; the file index
 * drawn must mean the same file on every run), channels averaged, resampled to
 * `sampleRateHz`. A missing directory is MLTK's "bg_noise_dir not found".
 */
export async function loadBackgroundNoises(dir: string, sampleRateHz: number): Promise<Float32Array[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new InvalidSettingsError(`bg_noise_dir not found: ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      field: 'bg_noise_dir',
    });
  }
  const wavs = names.filter((n) => n.endsWith('.wav')).sort(compareCodePoints);
  const out: Float32Array[] = [];
  for (const name of wavs) {
    const file = path.join(dir, name);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      throw new WavDecodeError('unreadable-file', `cannot open file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, file);
    }
    if (!st.isFile()) throw new WavDecodeError('unreadable-file', 'not a regular file', file);
    if (st.size > MAX_WAV_FILE_BYTES) {
      throw new WavDecodeError('file-too-large', `file is ${st.size} bytes; the limit is ${MAX_WAV_FILE_BYTES} bytes`, file);
    }
    const d = decodeAveraged(new Uint8Array(await readFile(file)), file);
    if (resampledLength(d.samples.length, d.sampleRate, sampleRateHz) > MAX_RESAMPLED_SAMPLES) {
      throw new WavDecodeError('too-long', `would exceed ${MAX_RESAMPLED_SAMPLES} samples at ${sampleRateHz} Hz`, file);
    }
    out.push(resample(d.samples, d.sampleRate, sampleRateHz));
  }
  return out;
}

/**
 * Coloured noise for augmentation (spec §14 step 4, "add coloured noise"), at one of two
 * levels (`noise_color_level`):
 *
 * - 'mltk' (default): MLTK's `_get_color_noise`, reproduced step by step. For a sample of
 *   n values: a real random spectrum of n//2 + 1 + (n % 2) standard normals, multiplied
 *   by linspace(1, size, size) to the power 0 (white, blue), −1 (pink), −2 (brown) or 2
 *   (violet) (MLTK gives blue no shaping), the last value dropped when n is odd, inverse
 *   real FFT (numpy's irfft, 1/N normalisation, N = 2·(bins − 1)), clipped to the sample's
 *   own [min, max], times 10 (pink, brown) or 0.01 (blue, violet), zero-padded to n and
 *   cast to float32. Because the spectrum is real the noise is time-symmetric, and its
 *   level differs by orders of magnitude between colours (violet is clipped to a square
 *   wave): that is MLTK's behaviour, which a ported recipe was tuned for. Same values as
 *   numpy given the same normals, to FFT rounding (pocketfft's order of operations differs
 *   from ../math/fft.ts's; see test/audio/noise-mltk.test.ts).
 * - 'peak': every colour scaled so that its largest magnitude is exactly 1, so
 *   `noise_color_range` means the same for every colour. PSD slopes per octave: white
 *   0 dB (i.i.d. normals); brown −6 dB (running sum, mean removed); violet +6 dB (first
 *   difference); pink −3 dB and blue +3 dB (complex Gaussian spectrum on the bins of the
 *   next power of two >= n, amplitude 1/√k or √k on bin k >= 1, DC zero, first n samples
 *   of the inverse FFT).
 *
 * Both draw their normals from the sample's own stream (FastGaussian, seeded with four
 * words of it), use ../math/detmath.ts and ../math/fft.ts, and have a native twin
 * (native/noise.cc) that gives the same bits.
 */
import { log } from '../math/detmath.ts';
import { realFft } from '../math/fft.ts';

export const NOISE_COLORS = ['white', 'brown', 'blue', 'pink', 'violet'] as const;
export type NoiseColor = (typeof NOISE_COLORS)[number];

export const NOISE_COLOR_LEVELS = ['mltk', 'peak'] as const;
export type NoiseColorLevel = (typeof NOISE_COLOR_LEVELS)[number];

/** Source of 32-bit words (the per-sample augmentation stream) that seeds the generator. */
export interface WordSource {
  nextUint32(): number;
}

/** The four words that seed a FastGaussian, as drawn from the sample's stream. */
export type NoiseSeed = readonly [number, number, number, number];

export function drawNoiseSeed(src: WordSource): NoiseSeed {
  return [src.nextUint32(), src.nextUint32(), src.nextUint32(), src.nextUint32()];
}

/**
 * Bulk standard normals: xoshiro128** (seeded with four words of the sample's MT19937
 * stream) and the polar method. MT19937 through ./rng.ts costs ~20 ns a word; a 1-s clip
 * of noise needs ~40 000 words, so the bulk draws use this much cheaper generator while
 * staying a pure function of the sample's stream.
 */
export class FastGaussian {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: NoiseSeed) {
    this.a = seed[0] | 0;
    this.b = seed[1] | 0;
    this.c = seed[2] | 0;
    this.d = seed[3] | 0;
    // The all-zero state is xoshiro's only fixed point.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 0x9e3779b9 | 0;
  }

  private next(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r >>> 0;
  }

  /** Uniform in (-1, 1) with 32 bits of resolution. */
  private signed(): number {
    return (this.next() + 0.5) * (2 / 4294967296) - 1;
  }

  gauss(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = this.signed();
      x2 = this.signed();
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * log(r2)) / r2);
    this.spare = f * x1;
    this.hasSpare = true;
    return f * x2;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function isNoiseColor(c: string): c is NoiseColor {
  return (NOISE_COLORS as readonly string[]).includes(c);
}

// ------------------------------------------------------------------ MLTK's levels

/** MLTK's scale_factor per colour. */
const MLTK_SCALE: Record<NoiseColor, number> = { white: 1, pink: 10, brown: 10, blue: 0.01, violet: 0.01 };

/**
 * MLTK's `_get_color_noise(sample, color)` with normals from `seed`: `n` = the sample's
 * length, `lo`/`hi` = its min and max (the noise is clipped to them). See the file
 * comment for the steps. n = 1 (where numpy's irfft of one bin raises) gives a zero.
 */
export function mltkColourNoise(color: NoiseColor, n: number, lo: number, hi: number, seed: NoiseSeed): Float32Array {
  const out = new Float32Array(n);
  const size = Math.floor(n / 2) + 1 + (n % 2);
  const bins = size - (n % 2);
  const N = 2 * (bins - 1);
  if (N === 0) return out;
  const g = new FastGaussian(seed);
  // numpy draws all `size` normals, then shapes them: linspace(1, size, size)[i] = i + 1.
  const spec = new Float64Array(size);
  for (let i = 0; i < size; i++) spec[i] = g.gauss();
  switch (color) {
    case 'pink': // color_noise **= -1: numpy's reciprocal
      for (let i = 0; i < bins; i++) spec[i] = spec[i]! * (1 / (i + 1));
      break;
    case 'brown': // **= -2: pow(k, -2), correctly rounded as 1 / k²
      for (let i = 0; i < bins; i++) spec[i] = spec[i]! * (1 / ((i + 1) * (i + 1)));
      break;
    case 'violet': // **= 2: numpy's square
      for (let i = 0; i < bins; i++) spec[i] = spec[i]! * ((i + 1) * (i + 1));
      break;
    default: // white; blue (MLTK does not shape it)
      break;
  }
  const y = new Float64Array(N);
  realFft(N).inverse(spec.subarray(0, bins), new Float64Array(bins), y);
  const scale = MLTK_SCALE[color];
  for (let i = 0; i < N; i++) {
    const v = y[i]!;
    out[i] = (v < lo ? lo : v > hi ? hi : v) * scale;
  }
  return out;
}

// ------------------------------------------------------------------ peak-normalised levels

function normalisePeak(x: Float64Array, n: number): Float32Array {
  let peak = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[i]!);
    if (a > peak) peak = a;
  }
  const out = new Float32Array(n);
  if (peak === 0) return out;
  // Division (not multiplication by 1 / peak) makes the peak exactly +-1.
  for (let i = 0; i < n; i++) out[i] = x[i]! / peak;
  return out;
}

function white(n: number, rng: FastGaussian): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = rng.gauss();
  return w;
}

function brown(n: number, rng: FastGaussian): Float64Array {
  const y = new Float64Array(n);
  let acc = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    acc += rng.gauss();
    y[i] = acc;
    sum += acc;
  }
  const mean = n > 0 ? sum / n : 0;
  for (let i = 0; i < n; i++) y[i]! -= mean;
  return y;
}

function violet(n: number, rng: FastGaussian): Float64Array {
  const y = new Float64Array(n);
  let prev = rng.gauss();
  for (let i = 0; i < n; i++) {
    const cur = rng.gauss();
    y[i] = cur - prev;
    prev = cur;
  }
  return y;
}

/** Spectrally shaped noise: amplitude 1/√k (pink) or √k (blue) on bin k >= 1. */
function shaped(n: number, rng: FastGaussian, pink: boolean): Float64Array {
  let size = 4;
  while (size < n) size *= 2;
  const bins = size / 2 + 1;
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let k = 1; k < bins; k++) {
    const a = pink ? 1 / Math.sqrt(k) : Math.sqrt(k);
    re[k] = rng.gauss() * a;
    im[k] = k === bins - 1 ? 0 : rng.gauss() * a;
  }
  const out = new Float64Array(size);
  realFft(size).inverse(re, im, out);
  return out;
}

/** `n` samples of `color` noise, peak-normalised to 1 (all zeros only if n = 0). */
export function peakColourNoise(color: NoiseColor, n: number, seed: NoiseSeed): Float32Array {
  const rng = new FastGaussian(seed);
  switch (color) {
    case 'white':
      return normalisePeak(white(n, rng), n);
    case 'brown':
      return normalisePeak(brown(n, rng), n);
    case 'violet':
      return normalisePeak(violet(n, rng), n);
    case 'pink':
      return normalisePeak(shaped(n, rng, true), n);
    case 'blue':
      return normalisePeak(shaped(n, rng, false), n);
  }
}

/**
 * Coloured noise for augmentation (spec §14 step 4, "add coloured noise").
 *
 * Every generator returns `n` float32 samples scaled so that the largest magnitude is
 * exactly 1 (the caller clips to the sample's range and scales by factor x loudness).
 * Power spectral density slopes (per octave):
 *
 * - white  (0 dB):  i.i.d. standard normal samples.
 * - brown  (-6 dB): integrated white noise (running sum), mean removed. A running sum
 *   has PSD 1 / (4 sin^2(pi f / fs)), i.e. 1/f^2 well below Nyquist.
 * - violet (+6 dB): differentiated white noise (first difference), PSD 4 sin^2(pi f / fs),
 *   i.e. f^2 well below Nyquist.
 * - pink   (-3 dB) and blue (+3 dB): spectral shaping. Complex Gaussian spectrum on the
 *   bins of the next power of two >= n, amplitude k^(-1/2) (pink) or k^(1/2) (blue) for
 *   bin k >= 1, DC zero, one inverse real FFT, first n samples kept. Exact 1/f and f
 *   slopes over the whole band, unlike Voss–McCartney's stepped approximation.
 *
 * MLTK (`_get_color_noise`) shapes a real-only random spectrum (so its noise is
 * time-symmetric), forgets the f factor for blue (blue = white there) and then scales the
 * colours by 10 or 0.01 without normalising, so its levels differ by orders of magnitude
 * between colours (violet ends up clipped to a square wave). We normalise every colour to
 * peak 1 instead, so `noise_color_range` means the same thing for every colour.
 */
import { realFft } from './stretch.ts';

export const NOISE_COLORS = ['white', 'brown', 'blue', 'pink', 'violet'] as const;
export type NoiseColor = (typeof NOISE_COLORS)[number];

/** Source of 32-bit words (the per-sample augmentation stream) that seeds the generator. */
export interface WordSource {
  nextUint32(): number;
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

  constructor(src: WordSource) {
    this.a = src.nextUint32() | 0;
    this.b = src.nextUint32() | 0;
    this.c = src.nextUint32() | 0;
    this.d = src.nextUint32() | 0;
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
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
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

/** Spectrally shaped noise: amplitude k^exponent on bin k (>= 1). */
function shaped(n: number, rng: FastGaussian, exponent: number): Float64Array {
  let size = 4;
  while (size < n) size *= 2;
  const bins = size / 2 + 1;
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let k = 1; k < bins; k++) {
    const a = k ** exponent;
    re[k] = rng.gauss() * a;
    im[k] = k === bins - 1 ? 0 : rng.gauss() * a;
  }
  const out = new Float64Array(size);
  realFft(size).inverse(re, im, out);
  return out;
}

/** `n` samples of `color` noise, peak-normalised to 1 (all zeros only if n = 0). */
export function colouredNoise(color: NoiseColor, n: number, src: WordSource): Float32Array {
  const rng = new FastGaussian(src);
  switch (color) {
    case 'white':
      return normalisePeak(white(n, rng), n);
    case 'brown':
      return normalisePeak(brown(n, rng), n);
    case 'violet':
      return normalisePeak(violet(n, rng), n);
    case 'pink':
      return normalisePeak(shaped(n, rng, -0.5), n);
    case 'blue':
      return normalisePeak(shaped(n, rng, 0.5), n);
  }
}

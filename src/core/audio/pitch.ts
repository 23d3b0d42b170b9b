/**
 * Pitch shift and vocal-tract-length perturbation (spec §14 step 4).
 *
 * Pitch shift is librosa's `effects.pitch_shift(y, sr, n_steps)`: with
 * rate = 2^(-n/12), time-stretch by `rate` (phase vocoder, ./stretch.ts; the signal gets
 * 2^(n/12) times longer for n > 0) and resample from sr / rate to sr, so the duration is
 * restored and every frequency is multiplied by 2^(n/12); cut/pad to the input length.
 * See `stretchAndShift` for the order of the two steps and the fusion with the speed
 * stretch. The ratio is irrational, so the resampler here is an arbitrary-ratio
 * Kaiser-windowed sinc (10 zero crossings, beta 7, cutoff at 95 % of the lower Nyquist,
 * polyphase table per ratio) rather than ./resample.ts's exact
 * rational-phase kaiser_best filter, which would need one kernel phase per output sample
 * here. The shorter kernel is a deliberate speed/quality trade (augmented epochs are
 * computed on the fly); its stop band (~70 dB) is far below the noise the augmentation
 * adds. sin and 2^x come from ../math/detmath.ts: native/pitch.cc gives the same bits.
 */
import { exp2, sin } from '../math/detmath.ts';
import { IstftWriter, roundHalfEven, stft, timeStretch } from './stretch.ts';

const ZERO_CROSSINGS = 10;
const KAISER_BETA = 7;
const ROLLOFF = 0.95;
/** Kernel table resolution: entries per zero crossing. */
const TABLE_RES = 512;

function besselI0(x: number): number {
  const q = (x * x) / 4;
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Windowed sinc sampled at u = i / TABLE_RES zero crossings, u in [0, ZERO_CROSSINGS]. */
const KERNEL: Float64Array = (() => {
  const n = ZERO_CROSSINGS * TABLE_RES + 2;
  const t = new Float64Array(n);
  const i0b = besselI0(KAISER_BETA);
  for (let i = 0; i < n; i++) {
    const u = i / TABLE_RES;
    if (u >= ZERO_CROSSINGS) continue;
    const r = u / ZERO_CROSSINGS;
    const win = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0b;
    t[i] = (u === 0 ? 1 : sin(Math.PI * u) / (Math.PI * u)) * win;
  }
  return t;
})();

/**
 * Fractional positions are rounded to 1/PHASES of an input sample (jitter <= 1/512: phase
 * error < 0.005 rad at 4 kHz), keeping the per-ratio table small enough to stay in cache.
 */
const PHASES = 256;

interface PolyphaseFilter {
  /** Offset of the first tap relative to floor(t). */
  first: number;
  taps: number;
  /** PHASES + 1 rows of `taps` coefficients (row PHASES = fraction 1, used after rounding). */
  table: Float64Array;
}

const polyCache = new Map<number, PolyphaseFilter>();
const MAX_POLY_CACHE = 32;

/** Kernel rows for every rounded fraction, evaluated once per ratio (the pitch grid is small). */
function polyphase(ratio: number): PolyphaseFilter {
  const hit = polyCache.get(ratio);
  if (hit !== undefined) return hit;
  const scale = Math.min(1, ratio) * ROLLOFF;
  // Kernel argument in zero crossings is |tau| * scale; support |tau| < ZC / scale.
  const width = ZERO_CROSSINGS / scale;
  const first = -Math.floor(width);
  const taps = 2 * Math.floor(width) + 2;
  const table = new Float64Array((PHASES + 1) * taps);
  for (let p = 0; p <= PHASES; p++) {
    const frac = p / PHASES;
    for (let j = 0; j < taps; j++) {
      const u = Math.abs(frac - (first + j)) * scale * TABLE_RES;
      const k = Math.floor(u);
      const f = u - k;
      const h = k + 1 < KERNEL.length ? KERNEL[k]! + f * (KERNEL[k + 1]! - KERNEL[k]!) : 0;
      table[p * taps + j] = h * scale;
    }
  }
  const filt = { first, taps, table };
  polyCache.set(ratio, filt);
  if (polyCache.size > MAX_POLY_CACHE) polyCache.delete(polyCache.keys().next().value as number);
  return filt;
}

/**
 * Resample by an arbitrary `ratio` = target rate / source rate, producing `outLen` samples
 * (output i sits at input time i / ratio; the signal is zero outside its bounds).
 */
export function resampleRatio(x: Float32Array, ratio: number, outLen: number): Float32Array {
  if (!(ratio > 0) || !Number.isFinite(ratio)) throw new RangeError(`resample ratio must be > 0, got ${ratio}`);
  const out = new Float32Array(outLen);
  const n = x.length;
  if (n === 0) return out;
  const { first, taps, table } = polyphase(ratio);
  const xd = Float64Array.from(x);
  const inv = 1 / ratio;
  for (let i = 0; i < outLen; i++) {
    const t = i * inv;
    const k0 = Math.floor(t);
    const row = Math.round((t - k0) * PHASES) * taps;
    const base = k0 + first;
    const lo = base < 0 ? -base : 0;
    const hi = base + taps > n ? n - base : taps;
    let a0 = 0;
    let a1 = 0;
    let j = lo;
    for (; j + 1 < hi; j += 2) {
      a0 += xd[base + j]! * table[row + j]!;
      a1 += xd[base + j + 1]! * table[row + j + 1]!;
    }
    if (j < hi) a0 += xd[base + j]! * table[row + j]!;
    out[i] = a0 + a1;
  }
  return out;
}

/** Semitone shift at the file's own rate; keeps the length (librosa `pitch_shift`). */
export function pitchShift(y: Float32Array, nSteps: number): Float32Array {
  return stretchAndShift(y, 1, nSteps);
}

/**
 * Time stretch by `speed` followed by a pitch shift of `nSteps` semitones. librosa would
 * stretch by `speed`, stretch again by rate = 2^(-n/12) and resample by `rate`. Here:
 * - the two stretches are one phase-vocoder pass by speed * rate (same duration and pitch;
 *   chained vocoders only approximate their product anyway);
 * - stretch and resample commute (both give duration n / speed and frequencies x 2^(n/12)),
 *   so for n > 0 the resampling runs first: the vocoder then works on the shortened
 *   signal (about half the frames for the MLTK-typical +10..12 steps) instead of on a
 *   signal stretched to twice the length.
 * Output length round(n / speed) (time_stretch's; librosa's pitch_shift keeps its input's).
 */
export function stretchAndShift(y: Float32Array, speed: number, nSteps: number): Float32Array {
  if (!Number.isFinite(nSteps)) throw new RangeError(`pitch steps must be finite, got ${nSteps}`);
  if (nSteps === 0) return speed === 1 ? y : timeStretch(y, speed);
  const targetLen = speed === 1 ? y.length : roundHalfEven(y.length / speed);
  const rate = exp2(-nSteps / 12);
  let out: Float32Array;
  if (rate < 1) {
    const shifted = resampleRatio(y, rate, Math.ceil(y.length * rate));
    out = timeStretch(shifted, speed * rate);
  } else {
    const stretched = timeStretch(y, speed * rate);
    // librosa: resample(orig_sr = sr / rate, target_sr = sr) -> ceil(len * rate) samples.
    out = resampleRatio(stretched, rate, Math.min(Math.ceil(stretched.length * rate), targetLen));
  }
  if (out.length === targetLen) return out;
  const fixed = new Float32Array(targetLen);
  fixed.set(out.subarray(0, Math.min(out.length, targetLen)));
  return fixed;
}

/**
 * MLTK's VTLP warp function (`_get_vtlp_scale_factors`, fhi 4800 Hz): bin frequency f
 * maps to f * alpha below the boundary fhi * min(alpha, 1) / alpha and linearly to the
 * Nyquist frequency above it; the result is rescaled so the highest value is the last bin.
 */
export function vtlpBinMap(bins: number, sampleRate: number, alpha: number): Float64Array {
  const fhi = Math.min(4800, Math.floor((sampleRate - 1) / 2));
  const scale = fhi * Math.min(alpha, 1);
  const boundary = scale / alpha;
  const halfSr = sampleRate / 2;
  const out = new Float64Array(bins);
  let max = 0;
  for (let i = 0; i < bins; i++) {
    const f = (i / (bins - 1)) * halfSr;
    const v = f <= boundary ? f * alpha : halfSr - ((halfSr - scale) / (halfSr - scale / alpha)) * (halfSr - f);
    out[i] = v;
    if (v > max) max = v;
  }
  const k = max > 0 ? (bins - 1) / max : 0;
  for (let i = 0; i < bins; i++) out[i]! *= k;
  return out;
}

/**
 * Vocal tract length perturbation by `alpha` (> 0): every STFT bin's energy is moved to
 * its warped position (split linearly between the two nearest bins), then inverted.
 * MLTK's `_apply_vtlp` indexes the STFT as (time, freq) although librosa returns
 * (freq, time), so it warps along time and maps bins over 0..sr instead of 0..sr/2; we
 * apply the warp along frequency as VTLP intends. The output keeps the input length
 * (MLTK's istft without `length` returns whole hops; adjust-length follows either way).
 */
export function vtlp(y: Float32Array, sampleRate: number, alpha: number): Float32Array {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`VTLP factor must be > 0, got ${alpha}`);
  const S = stft(y);
  const { frames, bins } = S;
  const map = vtlpBinMap(bins, sampleRate, alpha);
  const used = IstftWriter.framesNeeded(y.length, frames);
  const writer = new IstftWriter(y.length, used);
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let t = 0; t < used; t++) {
    re.fill(0);
    im.fill(0);
    const base = t * bins;
    for (let i = 0; i < bins; i++) {
      const sr = S.re[base + i]!;
      const si = S.im[base + i]!;
      if (i === 0 || i === bins - 1) {
        re[i] += sr;
        im[i] += si;
        continue;
      }
      const pos = Math.floor(map[i]!);
      const up = map[i]! - pos;
      const down = 1 - up;
      re[pos] += down * sr;
      im[pos] += down * si;
      if (pos + 1 < bins) {
        re[pos + 1] += up * sr;
        im[pos + 1] += up * si;
      }
    }
    writer.push(re, im);
  }
  return writer.finish();
}

/**
 * Time stretch without pitch change (spec §14 step 4, "time-stretch by speed").
 *
 * Method: librosa's `effects.time_stretch`, i.e. a phase vocoder over librosa's default
 * STFT — n_fft 2048, hop 512, periodic Hann window, centred frames with zero padding —
 * followed by an inverse STFT (window-sum-square normalised overlap-add) cut or padded to
 * round(n / rate) samples. `rate` > 1 speeds up (shorter), < 1 slows down (longer).
 * The phase-vocoder loop is librosa's `core.phase_vocoder`: output frame t reads input
 * position t * rate, interpolates the magnitudes of the two neighbouring frames linearly
 * and accumulates phase with the expected advance plus the wrapped deviation.
 * Not bit-exact with librosa (float64 here, and MLTK's output is not reproducible anyway
 * because of its wall-clock RNG, Q-20); the algorithm and parameters are the same.
 *
 * Transcendentals (FFT twiddles, the window) come from ../math/detmath.ts and the FFT from
 * ../math/fft.ts, whose twins in native/ give the same bits: the native augmentation
 * pipeline reproduces this file exactly.
 */
import { cos } from '../math/detmath.ts';
import { realFft } from '../math/fft.ts';

export const STFT_N_FFT = 2048;
export const STFT_HOP = 512;
const TWO_PI = 2 * Math.PI;

/** Periodic Hann window (scipy `get_window('hann', n, fftbins=True)`, librosa's default). */
const hannCache = new Map<number, Float64Array>();
export function hann(n: number): Float64Array {
  let w = hannCache.get(n);
  if (w === undefined) {
    w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * cos((TWO_PI * i) / n);
    hannCache.set(n, w);
  }
  return w;
}

/** Complex STFT, frame-major: frame t occupies re/im[t * bins, (t + 1) * bins). */
export interface Stft {
  frames: number;
  bins: number;
  re: Float64Array;
  im: Float64Array;
}

/** librosa `stft(y)` with the defaults (n_fft 2048, hop 512, Hann, centre, zero padding). */
export function stft(y: Float32Array | Float64Array): Stft {
  const nFft = STFT_N_FFT;
  const hop = STFT_HOP;
  const half = nFft >> 1;
  const bins = half + 1;
  const frames = 1 + Math.floor(y.length / hop);
  const re = new Float64Array(frames * bins);
  const im = new Float64Array(frames * bins);
  const fft = realFft(nFft);
  const win = hann(nFft);
  const buf = new Float64Array(nFft);
  const fr = new Float64Array(bins);
  const fi = new Float64Array(bins);
  const n = y.length;
  for (let t = 0; t < frames; t++) {
    const start = t * hop - half;
    for (let i = 0; i < nFft; i++) {
      const j = start + i;
      buf[i] = j >= 0 && j < n ? y[j]! * win[i]! : 0;
    }
    fft.forward(buf, fr, fi);
    re.set(fr, t * bins);
    im.set(fi, t * bins);
  }
  return { frames, bins, re, im };
}

/**
 * Streaming inverse STFT (librosa `istft(..., length)`): frames are pushed one at a time,
 * windowed, overlap-added, normalised by the summed squared window and cut to `length`
 * samples after dropping the centre padding.
 */
export class IstftWriter {
  private readonly acc: Float64Array;
  private readonly wss: Float64Array;
  private readonly buf = new Float64Array(STFT_N_FFT);
  private t = 0;

  constructor(
    private readonly length: number,
    private readonly maxFrames: number,
  ) {
    // Frames beyond ceil((length + n_fft) / hop) cannot touch the kept samples (librosa
    // drops them too).
    const span = STFT_N_FFT + STFT_HOP * Math.max(0, maxFrames - 1);
    this.acc = new Float64Array(span);
    this.wss = new Float64Array(span);
  }

  /** How many frames contribute to the output (librosa's n_frames with `length`). */
  static framesNeeded(length: number, available: number): number {
    return Math.min(available, Math.ceil((length + STFT_N_FFT) / STFT_HOP));
  }

  push(re: Float64Array, im: Float64Array): void {
    if (this.t >= this.maxFrames) return;
    const fft = realFft(STFT_N_FFT);
    const win = hann(STFT_N_FFT);
    fft.inverse(re, im, this.buf);
    const off = this.t * STFT_HOP;
    const { acc, wss, buf } = this;
    for (let i = 0; i < STFT_N_FFT; i++) {
      const w = win[i]!;
      acc[off + i] += buf[i]! * w;
      wss[off + i] += w * w;
    }
    this.t++;
  }

  finish(): Float32Array {
    const out = new Float32Array(this.length);
    const start = STFT_N_FFT >> 1;
    // librosa divides only where the window sum exceeds tiny(float32).
    const tiny = 1.1754943508222875e-38;
    const end = Math.min(this.length, this.acc.length - start);
    for (let i = 0; i < end; i++) {
      const w = this.wss[start + i]!;
      const v = this.acc[start + i]!;
      out[i] = w > tiny ? v / w : v;
    }
    return out;
  }
}

/**
 * librosa `effects.time_stretch(y, rate)`: phase vocoder at hop 512, output length
 * round(n / rate) (Python's round: half to even).
 */
export function timeStretch(y: Float32Array, rate: number): Float32Array {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`time-stretch rate must be > 0, got ${rate}`);
  const outLen = roundHalfEven(y.length / rate);
  const S = stft(y);
  const { frames, bins } = S;
  // Per input frame: magnitude and unit phasor X / |X| (numpy's angle(0) = 0 gives the
  // phasor 1), with two zero frames appended as librosa pads the STFT.
  //
  // librosa accumulates phase_acc += phi_advance + wrap(dphase), dphase = angle(X1) -
  // angle(X0) - phi_advance. Since wrap() only removes multiples of 2 pi, the phasor
  // e^{i phase_acc} is multiplied by e^{i (angle(X1) - angle(X0))} at every step, i.e. by
  // u1 * conj(u0): two complex products instead of two atan2 + cos + sin per bin.
  const total = (frames + 2) * bins;
  const mag = new Float64Array(total);
  const ur = new Float64Array(total).fill(1, frames * bins);
  const ui = new Float64Array(total);
  for (let i = 0; i < frames * bins; i++) {
    const r = S.re[i]!;
    const q = S.im[i]!;
    const m = Math.sqrt(r * r + q * q);
    mag[i] = m;
    if (m > 0) {
      ur[i] = r / m;
      ui[i] = q / m;
    } else {
      ur[i] = 1;
    }
  }
  // np.arange(0, frames, rate): ceil(frames / rate) steps at i * rate.
  const steps = Math.ceil(frames / rate);
  const used = IstftWriter.framesNeeded(outLen, steps);
  const writer = new IstftWriter(outLen, used);
  // Accumulated output phasor, starting at the phase of the first input frame.
  const pr = ur.slice(0, bins);
  const pi = ui.slice(0, bins);
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let t = 0; t < used; t++) {
    const step = t * rate;
    const f0 = Math.floor(step);
    const alpha = step - f0;
    const a0 = f0 * bins;
    const a1 = a0 + bins;
    for (let k = 0; k < bins; k++) {
      const m = (1 - alpha) * mag[a0 + k]! + alpha * mag[a1 + k]!;
      const cr = pr[k]!;
      const ci = pi[k]!;
      re[k] = m * cr;
      im[k] = m * ci;
      // d = u1 * conj(u0); phasor *= d.
      const u0r = ur[a0 + k]!;
      const u0i = ui[a0 + k]!;
      const u1r = ur[a1 + k]!;
      const u1i = ui[a1 + k]!;
      const dr = u1r * u0r + u1i * u0i;
      const di = u1i * u0r - u1r * u0i;
      pr[k] = cr * dr - ci * di;
      pi[k] = cr * di + ci * dr;
    }
    writer.push(re, im);
  }
  return writer.finish();
}

/** Round half to even (Python's round(x) and numpy's rint). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

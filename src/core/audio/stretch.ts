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
 * Also exports the small real FFT used by the pitch shifter, VTLP and noise generators.
 */

export const STFT_N_FFT = 2048;
export const STFT_HOP = 512;
const TWO_PI = 2 * Math.PI;

/**
 * Real FFT of a power-of-two size n >= 4, computed as one complex FFT of size n / 2
 * (even/odd packing). Forward is unnormalised; inverse divides by n (numpy's conventions).
 * Instances keep scratch buffers: not re-entrant, but cheap to create and cached per size.
 */
export class RealFft {
  readonly n: number;
  private readonly m: number;
  private readonly rev: Uint32Array;
  /** Complex twiddles e^{-2 pi i k / m} for the half-size FFT. */
  private readonly cosM: Float64Array;
  private readonly sinM: Float64Array;
  /** e^{-2 pi i k / n}, k in [0, m], for the even/odd split. */
  private readonly cosN: Float64Array;
  private readonly sinN: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 4 || (n & (n - 1)) !== 0) {
      throw new RangeError(`RealFft size must be a power of two >= 4, got ${n}`);
    }
    this.n = n;
    const m = n >> 1;
    this.m = m;
    const bits = Math.log2(m);
    this.rev = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.rev[i] = r;
    }
    // Full-circle table: radix-4 stages read twiddle indices up to 3m/4.
    this.cosM = new Float64Array(m);
    this.sinM = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      this.cosM[k] = Math.cos((TWO_PI * k) / m);
      this.sinM[k] = -Math.sin((TWO_PI * k) / m);
    }
    this.cosN = new Float64Array(m + 1);
    this.sinN = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.cosN[k] = Math.cos((TWO_PI * k) / n);
      this.sinN[k] = -Math.sin((TWO_PI * k) / n);
    }
    this.zr = new Float64Array(m);
    this.zi = new Float64Array(m);
  }

  /**
   * In-place complex FFT of (zr, zi), size m; `inverse` uses conjugate twiddles (no
   * scaling). Bit-reversed input, one radix-2 stage when log2(m) is odd, then radix-4
   * stages (half the passes over memory of pure radix-2). With bit-reversed order the four
   * quarter blocks of a radix-4 group hold residues 0, 2, 1, 3.
   */
  private complex(inverse: boolean): void {
    const { m, rev, zr, zi, cosM, sinM } = this;
    for (let i = 0; i < m; i++) {
      const j = rev[i]!;
      if (j > i) {
        let t = zr[i]!;
        zr[i] = zr[j]!;
        zr[j] = t;
        t = zi[i]!;
        zi[i] = zi[j]!;
        zi[j] = t;
      }
    }
    let L = 4;
    if ((Math.log2(m) & 1) === 1) {
      for (let a = 0; a < m; a += 2) {
        const ar = zr[a]!;
        const ai = zi[a]!;
        const br = zr[a + 1]!;
        const bi = zi[a + 1]!;
        zr[a] = ar + br;
        zi[a] = ai + bi;
        zr[a + 1] = ar - br;
        zi[a + 1] = ai - bi;
      }
      L = 8;
    }
    // Forward: X1 = t1 - i t3, X3 = t1 + i t3; inverse swaps the signs of i.
    const s = inverse ? -1 : 1;
    for (; L <= m; L <<= 2) {
      const q = L >> 2;
      // Integer step (| 0) keeps twiddle indices small integers for V8's fast path.
      const step = (m / L) | 0;
      for (let k = 0; k < q; k++) {
        const i1 = k * step;
        const w1r = cosM[i1]!;
        const w1i = s * sinM[i1]!;
        const w2r = cosM[2 * i1]!;
        const w2i = s * sinM[2 * i1]!;
        const w3r = cosM[3 * i1]!;
        const w3i = s * sinM[3 * i1]!;
        for (let a = k; a < m; a += L) {
          const b = a + q;
          const c = b + q;
          const d = c + q;
          const x0r = zr[a]!;
          const x0i = zi[a]!;
          // Residue 2 (block b) takes w^2, residue 1 (block c) w^1.
          let r = zr[b]!;
          let im = zi[b]!;
          const x2r = r * w2r - im * w2i;
          const x2i = r * w2i + im * w2r;
          r = zr[c]!;
          im = zi[c]!;
          const x1r = r * w1r - im * w1i;
          const x1i = r * w1i + im * w1r;
          r = zr[d]!;
          im = zi[d]!;
          const x3r = r * w3r - im * w3i;
          const x3i = r * w3i + im * w3r;
          const t0r = x0r + x2r;
          const t0i = x0i + x2i;
          const t1r = x0r - x2r;
          const t1i = x0i - x2i;
          const t2r = x1r + x3r;
          const t2i = x1i + x3i;
          const t3r = (x1r - x3r) * s;
          const t3i = (x1i - x3i) * s;
          zr[a] = t0r + t2r;
          zi[a] = t0i + t2i;
          zr[c] = t0r - t2r;
          zi[c] = t0i - t2i;
          zr[b] = t1r + t3i;
          zi[b] = t1i - t3r;
          zr[d] = t1r - t3i;
          zi[d] = t1i + t3r;
        }
      }
    }
  }

  /** X[k] = sum x[j] e^{-2 pi i jk / n} for k in [0, n/2]; re/im need n/2 + 1 entries. */
  forward(x: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const { m, zr, zi, cosN, sinN } = this;
    for (let j = 0; j < m; j++) {
      zr[j] = x[2 * j]!;
      zi[j] = x[2 * j + 1]!;
    }
    this.complex(false);
    for (let k = 0; k <= m; k++) {
      const k1 = k === m ? 0 : k;
      const k2 = k === 0 ? 0 : m - k;
      const ar = zr[k1]!;
      const ai = zi[k1]!;
      const br = zr[k2]!;
      const bi = -zi[k2]!;
      // E = (Z[k] + conj Z[m-k]) / 2, O = (Z[k] - conj Z[m-k]) / 2i, X = E + W^k O.
      const er = 0.5 * (ar + br);
      const ei = 0.5 * (ai + bi);
      const or = 0.5 * (ai - bi);
      const oi = -0.5 * (ar - br);
      const wr = cosN[k]!;
      const wi = sinN[k]!;
      re[k] = er + (or * wr - oi * wi);
      im[k] = ei + (or * wi + oi * wr);
    }
  }

  /** Inverse of `forward` (imaginary parts of bins 0 and n/2 are ignored); out needs n entries. */
  inverse(re: Float64Array, im: Float64Array, out: Float64Array): void {
    const { m, zr, zi, cosN, sinN } = this;
    for (let k = 0; k < m; k++) {
      const xr = re[k]!;
      const xi = k === 0 ? 0 : im[k]!;
      const yr = re[m - k]!;
      const yi = k === 0 ? 0 : -im[m - k]!;
      // E = (X[k] + conj X[m-k]) / 2, O = (X[k] - conj X[m-k]) / (2 W^k), Z = E + i O.
      const er = 0.5 * (xr + yr);
      const ei = 0.5 * (xi + yi);
      const dr = 0.5 * (xr - yr);
      const di = 0.5 * (xi - yi);
      // Divide by W^k = multiply by conj(W^k).
      const wr = cosN[k]!;
      const wi = -sinN[k]!;
      const or = dr * wr - di * wi;
      const oi = dr * wi + di * wr;
      zr[k] = er - oi;
      zi[k] = ei + or;
    }
    this.complex(true);
    const scale = 1 / m;
    for (let j = 0; j < m; j++) {
      out[2 * j] = zr[j]! * scale;
      out[2 * j + 1] = zi[j]! * scale;
    }
  }
}

const fftCache = new Map<number, RealFft>();
export function realFft(n: number): RealFft {
  let f = fftCache.get(n);
  if (f === undefined) {
    f = new RealFft(n);
    fftCache.set(n, f);
  }
  return f;
}

/** Periodic Hann window (scipy `get_window('hann', n, fftbins=True)`, librosa's default). */
const hannCache = new Map<number, Float64Array>();
export function hann(n: number): Float64Array {
  let w = hannCache.get(n);
  if (w === undefined) {
    w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((TWO_PI * i) / n);
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

/**
 * Double-precision FFTs for the augmentation pipeline, written twice with the same
 * operations in the same order (this file and native/dsp_fft.cc), so the two give
 * identical bits; twiddles come from ./detmath.ts.
 *
 * - ComplexFft(m), any m >= 1, unnormalised, in place:
 *   - m a power of two: bit-reversed input, one radix-2 stage when log2(m) is odd, then
 *     radix-4 stages;
 *   - m = 2^a·3^b·5^c: a self-sorting (Stockham) mixed-radix FFT, radix 4 while 4 divides
 *     what is left, then 2, 3, 5;
 *   - any other m: Bluestein's chirp-z over the power-of-two FFT of size >= 2m − 1.
 *   Inverse = conjugate twiddles (power of two) or conj(FFT(conj x)) (the others).
 * - RealFft(n), any even n >= 2: one complex FFT of n/2 (even/odd packing). Forward is
 *   unnormalised; inverse divides by n (numpy's conventions).
 * Instances keep scratch buffers: not re-entrant; realFft(n) caches one per size.
 */
import { cos, sin } from './detmath.ts';

const TWO_PI = 2 * Math.PI;

function isPowerOfTwo(m: number): boolean {
  return (m & (m - 1)) === 0;
}

/** Radices of the mixed-radix path in the order they are applied, or null when another prime divides m. */
function radices(m: number): number[] | null {
  const out: number[] = [];
  let r = m;
  while (r % 4 === 0) {
    out.push(4);
    r /= 4;
  }
  if (r % 2 === 0) {
    out.push(2);
    r /= 2;
  }
  while (r % 3 === 0) {
    out.push(3);
    r /= 3;
  }
  while (r % 5 === 0) {
    out.push(5);
    r /= 5;
  }
  return r === 1 ? out : null;
}

/** The length-m DFT kernels of one algorithm. */
interface Kernel {
  /** In place; forward (e^{-2πi jk/m}) or inverse (e^{+2πi jk/m}), unnormalised. */
  run(re: Float64Array, im: Float64Array, inverse: boolean): void;
}

/** Power-of-two m: radix 4 (and one radix 2) over bit-reversed input. */
class PowerOfTwoKernel implements Kernel {
  private readonly rev: Uint32Array;
  /** e^{-2πi k/m}, k in [0, m): radix-4 stages read indices up to 3m/4. */
  private readonly cosM: Float64Array;
  private readonly sinM: Float64Array;
  private readonly oddBits: boolean;

  constructor(private readonly m: number) {
    let bits = 0;
    while (1 << bits < m) bits++;
    this.oddBits = (bits & 1) === 1;
    this.rev = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.rev[i] = r;
    }
    this.cosM = new Float64Array(m);
    this.sinM = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      this.cosM[k] = cos((TWO_PI * k) / m);
      this.sinM[k] = -sin((TWO_PI * k) / m);
    }
  }

  /** With bit-reversed order the four quarter blocks of a radix-4 group hold residues 0, 2, 1, 3. */
  run(zr: Float64Array, zi: Float64Array, inverse: boolean): void {
    const { m, rev, cosM, sinM } = this;
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
    if (this.oddBits) {
      for (let a = 0; a + 1 < m; a += 2) {
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
    for (; L <= m; L *= 4) {
      const q = L >> 2;
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
}

// Radix-3 and radix-5 butterfly constants.
const S3 = Math.sqrt(0.75); // sin(2π/3)
const C51 = cos(TWO_PI / 5);
const C52 = cos((2 * TWO_PI) / 5);
const S51 = sin(TWO_PI / 5);
const S52 = sin((2 * TWO_PI) / 5);

/**
 * m = 2^a·3^b·5^c: Stockham autosort. A stage of radix p after sub-transforms of length
 * L (r = m/L of them, r' = r/p): for k < L, a < r',
 *   y_s = Σ_c (x[k·r + a + r'·c] · ω_{Lp}^{ck}) · ω_p^{cs}  →  out[(k + L·s)·r' + a],
 * which needs no reordering pass; ω_{Lp}^{ck} = table[c·k·r'].
 */
class MixedRadixKernel implements Kernel {
  private readonly cosM: Float64Array;
  private readonly sinM: Float64Array;
  private readonly br: Float64Array;
  private readonly bi: Float64Array;

  constructor(
    private readonly m: number,
    private readonly plan: number[],
  ) {
    this.cosM = new Float64Array(m);
    this.sinM = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      this.cosM[k] = cos((TWO_PI * k) / m);
      this.sinM[k] = -sin((TWO_PI * k) / m);
    }
    this.br = new Float64Array(m);
    this.bi = new Float64Array(m);
  }

  run(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const { m } = this;
    if (inverse) for (let i = 0; i < m; i++) im[i] = -im[i]!;
    let xr = re;
    let xi = im;
    let yr = this.br;
    let yi = this.bi;
    let L = 1;
    for (const p of this.plan) {
      const rp = m / (L * p);
      this.stage(p, L, rp, xr, xi, yr, yi);
      [xr, yr] = [yr, xr];
      [xi, yi] = [yi, xi];
      L *= p;
    }
    if (xr !== re) {
      re.set(xr);
      im.set(xi);
    }
    if (inverse) for (let i = 0; i < m; i++) im[i] = -im[i]!;
  }

  private stage(p: number, L: number, rp: number, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { cosM, sinM } = this;
    const r = rp * p;
    const out = L * rp; // output distance between s and s + 1
    for (let k = 0; k < L; k++) {
      const w1 = k * rp;
      const w1r = cosM[w1]!;
      const w1i = sinM[w1]!;
      const w2r = cosM[2 * w1]!;
      const w2i = sinM[2 * w1]!;
      const w3r = p > 3 ? cosM[3 * w1]! : 0;
      const w3i = p > 3 ? sinM[3 * w1]! : 0;
      const w4r = p > 4 ? cosM[4 * w1]! : 0;
      const w4i = p > 4 ? sinM[4 * w1]! : 0;
      const twiddle = k > 0;
      for (let a = 0; a < rp; a++) {
        const i0 = k * r + a;
        const o0 = k * rp + a;
        const u0r = xr[i0]!;
        const u0i = xi[i0]!;
        let u1r = xr[i0 + rp]!;
        let u1i = xi[i0 + rp]!;
        if (twiddle) {
          const t = u1r * w1r - u1i * w1i;
          u1i = u1r * w1i + u1i * w1r;
          u1r = t;
        }
        if (p === 2) {
          yr[o0] = u0r + u1r;
          yi[o0] = u0i + u1i;
          yr[o0 + out] = u0r - u1r;
          yi[o0 + out] = u0i - u1i;
          continue;
        }
        let u2r = xr[i0 + 2 * rp]!;
        let u2i = xi[i0 + 2 * rp]!;
        if (twiddle) {
          const t = u2r * w2r - u2i * w2i;
          u2i = u2r * w2i + u2i * w2r;
          u2r = t;
        }
        if (p === 3) {
          const t1r = u1r + u2r;
          const t1i = u1i + u2i;
          const t2r = u0r - 0.5 * t1r;
          const t2i = u0i - 0.5 * t1i;
          const t3r = S3 * (u1r - u2r);
          const t3i = S3 * (u1i - u2i);
          yr[o0] = u0r + t1r;
          yi[o0] = u0i + t1i;
          yr[o0 + out] = t2r + t3i;
          yi[o0 + out] = t2i - t3r;
          yr[o0 + 2 * out] = t2r - t3i;
          yi[o0 + 2 * out] = t2i + t3r;
          continue;
        }
        let u3r = xr[i0 + 3 * rp]!;
        let u3i = xi[i0 + 3 * rp]!;
        if (twiddle) {
          const t = u3r * w3r - u3i * w3i;
          u3i = u3r * w3i + u3i * w3r;
          u3r = t;
        }
        if (p === 4) {
          const t0r = u0r + u2r;
          const t0i = u0i + u2i;
          const t1r = u0r - u2r;
          const t1i = u0i - u2i;
          const t2r = u1r + u3r;
          const t2i = u1i + u3i;
          const t3r = u1r - u3r;
          const t3i = u1i - u3i;
          yr[o0] = t0r + t2r;
          yi[o0] = t0i + t2i;
          yr[o0 + out] = t1r + t3i;
          yi[o0 + out] = t1i - t3r;
          yr[o0 + 2 * out] = t0r - t2r;
          yi[o0 + 2 * out] = t0i - t2i;
          yr[o0 + 3 * out] = t1r - t3i;
          yi[o0 + 3 * out] = t1i + t3r;
          continue;
        }
        let u4r = xr[i0 + 4 * rp]!;
        let u4i = xi[i0 + 4 * rp]!;
        if (twiddle) {
          const t = u4r * w4r - u4i * w4i;
          u4i = u4r * w4i + u4i * w4r;
          u4r = t;
        }
        // p === 5
        const a1r = u1r + u4r;
        const a1i = u1i + u4i;
        const a2r = u2r + u3r;
        const a2i = u2i + u3i;
        const b1r = u1r - u4r;
        const b1i = u1i - u4i;
        const b2r = u2r - u3r;
        const b2i = u2i - u3i;
        const c1r = u0r + C51 * a1r + C52 * a2r;
        const c1i = u0i + C51 * a1i + C52 * a2i;
        const c2r = u0r + C52 * a1r + C51 * a2r;
        const c2i = u0i + C52 * a1i + C51 * a2i;
        // d1 = S51·b1 + S52·b2, d2 = S52·b1 − S51·b2; y1 = c1 − i·d1, y2 = c2 − i·d2.
        const d1r = S51 * b1r + S52 * b2r;
        const d1i = S51 * b1i + S52 * b2i;
        const d2r = S52 * b1r - S51 * b2r;
        const d2i = S52 * b1i - S51 * b2i;
        yr[o0] = u0r + a1r + a2r;
        yi[o0] = u0i + a1i + a2i;
        yr[o0 + out] = c1r + d1i;
        yi[o0 + out] = c1i - d1r;
        yr[o0 + 2 * out] = c2r + d2i;
        yi[o0 + 2 * out] = c2i - d2r;
        yr[o0 + 3 * out] = c2r - d2i;
        yi[o0 + 3 * out] = c2i + d2r;
        yr[o0 + 4 * out] = c1r - d1i;
        yi[o0 + 4 * out] = c1i + d1r;
      }
    }
  }
}

/**
 * Any other m: X_k = conj(b_k) · Σ_j (x_j conj(b_j)) b_{k−j}, b_j = e^{iπ j²/m}, the
 * convolution computed with power-of-two FFTs of size M >= 2m − 1. j² is reduced mod 2m
 * in integers before the angle is formed.
 */
class BluesteinKernel implements Kernel {
  private readonly M: number;
  private readonly fft: PowerOfTwoKernel;
  private readonly chirpR: Float64Array;
  private readonly chirpI: Float64Array;
  /** FFT of the chirp filter. */
  private readonly filtR: Float64Array;
  private readonly filtI: Float64Array;
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;

  constructor(private readonly m: number) {
    let M = 1;
    while (M < 2 * m - 1) M *= 2;
    this.M = M;
    this.fft = new PowerOfTwoKernel(M);
    this.chirpR = new Float64Array(m);
    this.chirpI = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      const q = (j * j) % (2 * m);
      const angle = (Math.PI * q) / m;
      this.chirpR[j] = cos(angle);
      this.chirpI[j] = sin(angle);
    }
    this.filtR = new Float64Array(M);
    this.filtI = new Float64Array(M);
    for (let j = 0; j < m; j++) {
      this.filtR[j] = this.chirpR[j]!;
      this.filtI[j] = this.chirpI[j]!;
      if (j > 0) {
        this.filtR[M - j] = this.chirpR[j]!;
        this.filtI[M - j] = this.chirpI[j]!;
      }
    }
    this.fft.run(this.filtR, this.filtI, false);
    this.wr = new Float64Array(M);
    this.wi = new Float64Array(M);
  }

  run(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const { m, M, chirpR, chirpI, filtR, filtI, wr, wi } = this;
    const sign = inverse ? -1 : 1; // inverse: conj(F(conj x))
    for (let j = 0; j < m; j++) {
      const xr = re[j]!;
      const xi = sign * im[j]!;
      const br = chirpR[j]!;
      const bi = chirpI[j]!;
      wr[j] = xr * br + xi * bi;
      wi[j] = xi * br - xr * bi;
    }
    wr.fill(0, m);
    wi.fill(0, m);
    this.fft.run(wr, wi, false);
    for (let k = 0; k < M; k++) {
      const ar = wr[k]!;
      const ai = wi[k]!;
      const br = filtR[k]!;
      const bi = filtI[k]!;
      wr[k] = ar * br - ai * bi;
      wi[k] = ar * bi + ai * br;
    }
    this.fft.run(wr, wi, true);
    const inv = 1 / M;
    for (let k = 0; k < m; k++) {
      const cr = wr[k]! * inv;
      const ci = wi[k]! * inv;
      const br = chirpR[k]!;
      const bi = chirpI[k]!;
      re[k] = cr * br + ci * bi;
      im[k] = sign * (ci * br - cr * bi);
    }
  }
}

export class ComplexFft {
  readonly m: number;
  private readonly kernel: Kernel;

  constructor(m: number) {
    if (!Number.isInteger(m) || m < 1 || m > 2 ** 26) throw new RangeError(`ComplexFft size must be an integer in [1, 2^26], got ${m}`);
    this.m = m;
    if (isPowerOfTwo(m)) {
      this.kernel = new PowerOfTwoKernel(m);
    } else {
      const plan = radices(m);
      this.kernel = plan === null ? new BluesteinKernel(m) : new MixedRadixKernel(m, plan);
    }
  }

  /** In place; forward e^{-2πi jk/m} or inverse e^{+2πi jk/m}, unnormalised. */
  transform(re: Float64Array, im: Float64Array, inverse: boolean): void {
    this.kernel.run(re, im, inverse);
  }
}

export class RealFft {
  readonly n: number;
  private readonly m: number;
  private readonly complex: ComplexFft;
  /** e^{-2πi k/n}, k in [0, m], for the even/odd split. */
  private readonly cosN: Float64Array;
  private readonly sinN: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new RangeError(`RealFft size must be an even integer >= 2, got ${n}`);
    this.n = n;
    const m = n / 2;
    this.m = m;
    this.complex = new ComplexFft(m);
    this.cosN = new Float64Array(m + 1);
    this.sinN = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.cosN[k] = cos((TWO_PI * k) / n);
      this.sinN[k] = -sin((TWO_PI * k) / n);
    }
    this.zr = new Float64Array(m);
    this.zi = new Float64Array(m);
  }

  /** X[k] = sum x[j] e^{-2 pi i jk / n} for k in [0, n/2]; re/im need n/2 + 1 entries. */
  forward(x: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const { m, zr, zi, cosN, sinN } = this;
    for (let j = 0; j < m; j++) {
      zr[j] = x[2 * j]!;
      zi[j] = x[2 * j + 1]!;
    }
    this.complex.transform(zr, zi, false);
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
  inverse(re: ArrayLike<number>, im: ArrayLike<number>, out: Float64Array): void {
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
    this.complex.transform(zr, zi, true);
    const scale = 1 / m;
    for (let j = 0; j < m; j++) {
      out[2 * j] = zr[j]! * scale;
      out[2 * j + 1] = zi[j]! * scale;
    }
  }
}

const cache = new Map<number, RealFft>();
const MAX_CACHED = 16;
/** Plans above this size are kept one at a time (a Bluestein plan of a long clip is hundreds of MB). */
const LARGE = 1 << 20;

/** A RealFft of size n, kept (a few sizes) because building the tables costs more than a transform. */
export function realFft(n: number): RealFft {
  let f = cache.get(n);
  if (f === undefined) {
    if (n > LARGE) for (const k of [...cache.keys()]) if (k > LARGE) cache.delete(k);
    f = new RealFft(n);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as number);
    cache.set(n, f);
  }
  return f;
}

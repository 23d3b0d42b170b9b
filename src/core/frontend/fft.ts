/**
 * KISS FFT 1.3.0, 16-bit fixed point, real input (frontend.md §6).
 *
 * The reference recurses (decimation in time); butterflies of one stage touch
 * disjoint segments, so running the stages innermost-first over a
 * pre-permuted buffer gives the identical result without recursion.
 * Every int16 store wraps (Int16Array does that); intermediates that the
 * reference keeps in int16 are wrapped with `<< 16 >> 16`.
 */

/** Radix plan: 4 as long as possible, then 2 (only powers of two occur). */
export function fftFactors(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  while (rest % 4 === 0) {
    factors.push(4);
    rest /= 4;
  }
  while (rest % 2 === 0) {
    factors.push(2);
    rest /= 2;
  }
  if (rest !== 1) throw new RangeError(`fft size ${n} is not a power of two`);
  return factors;
}

/** Fixed-point twiddle: (floor(0.5 + 32767 cos), floor(0.5 + 32767 sin)). */
function twiddle(phase: number): [number, number] {
  return [Math.floor(0.5 + 32767 * Math.cos(phase)), Math.floor(0.5 + 32767 * Math.sin(phase))];
}

interface Stage {
  radix: number;
  m: number;
  fstride: number;
}

export class FixedPointRealFft {
  readonly fftSize: number;
  /** Complex size n = fftSize / 2; the output has n + 1 bins. */
  readonly n: number;
  private readonly twr: Int32Array;
  private readonly twi: Int32Array;
  private readonly str: Int32Array;
  private readonly sti: Int32Array;
  /** perm[k]: which packed input pair the recursion's leaf copy puts at T[k]. */
  private readonly perm: Int32Array;
  /** Innermost stage first (the order the recursion butterflies them). */
  private readonly stages: Stage[];
  private readonly tr: Int16Array;
  private readonly ti: Int16Array;

  constructor(fftSize: number) {
    if (!(fftSize >= 4 && (fftSize & (fftSize - 1)) === 0)) {
      throw new RangeError(`fft size must be a power of two >= 4, got ${fftSize}`);
    }
    const n = fftSize / 2;
    this.fftSize = fftSize;
    this.n = n;
    this.twr = new Int32Array(n);
    this.twi = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const [r, i] = twiddle((-2 * Math.PI * j) / n);
      this.twr[j] = r;
      this.twi[j] = i;
    }
    const half = n >> 1;
    this.str = new Int32Array(half);
    this.sti = new Int32Array(half);
    for (let j = 0; j < half; j++) {
      const [r, i] = twiddle(-Math.PI * ((j + 1) / n + 0.5));
      this.str[j] = r;
      this.sti[j] = i;
    }

    const factors = fftFactors(n);
    const ms: number[] = [];
    let rest = n;
    for (const p of factors) {
      rest /= p;
      ms.push(rest);
    }
    this.perm = new Int32Array(n);
    const perm = this.perm;
    const leaf = (out: number, in0: number, fstride: number, s: number): void => {
      const p = factors[s]!;
      const m = ms[s]!;
      if (m === 1) {
        for (let j = 0; j < p; j++) perm[out + j] = in0 + j * fstride;
      } else {
        for (let q = 0; q < p; q++) leaf(out + q * m, in0 + q * fstride, fstride * p, s + 1);
      }
    };
    leaf(0, 0, 1, 0);

    this.stages = [];
    let fstride = 1;
    for (let s = 0; s < factors.length; s++) {
      this.stages.push({ radix: factors[s]!, m: ms[s]!, fstride });
      fstride *= factors[s]!;
    }
    this.stages.reverse();
    this.tr = new Int16Array(n);
    this.ti = new Int16Array(n);
  }

  /**
   * Real FFT of z[i] = wrap16(input[i] << shift) (input has fftSize entries,
   * zero beyond the window) into outRe/outIm[0 .. n].
   */
  forward(input: Int16Array, shift: number, outRe: Int16Array, outIm: Int16Array): void {
    const { tr, ti, perm, n } = this;
    for (let k = 0; k < n; k++) {
      const p = perm[k]! << 1;
      tr[k] = input[p]! << shift;
      ti[k] = input[p + 1]! << shift;
    }
    for (const st of this.stages) {
      if (st.radix === 4) {
        if (st.m === 1) this.radix4Unit();
        else this.radix4(st.m, st.fstride);
      }
      else this.radix2(st.m, st.fstride);
    }
    this.realSplit(outRe, outIm);
  }

  private radix2(m: number, fstride: number): void {
    const { tr, ti, twr, twi, n } = this;
    const seg = 2 * m;
    for (let base = 0; base < n; base += seg) {
      for (let k = 0; k < m; k++) {
        const i0 = base + k;
        const i1 = i0 + m;
        const ar = (tr[i0]! * 16383 + 16384) >> 15;
        const ai = (ti[i0]! * 16383 + 16384) >> 15;
        const br = (tr[i1]! * 16383 + 16384) >> 15;
        const bi = (ti[i1]! * 16383 + 16384) >> 15;
        const t = k * fstride;
        const wr = twr[t]!;
        const wi = twi[t]!;
        const xr = (((Math.imul(br, wr) - Math.imul(bi, wi) + 16384) >> 15) << 16) >> 16;
        const xi = (((Math.imul(br, wi) + Math.imul(bi, wr) + 16384) >> 15) << 16) >> 16;
        tr[i1] = ar - xr;
        ti[i1] = ai - xi;
        tr[i0] = ar + xr;
        ti[i0] = ai + xi;
      }
    }
  }

  /** Radix-4 with m = 1: every twiddle is tw[0] = (32767, 0), so cmul needs two products. */
  private radix4Unit(): void {
    const { tr, ti, n } = this;
    for (let i0 = 0; i0 < n; i0 += 4) {
      const i1 = i0 + 1;
      const i2 = i0 + 2;
      const i3 = i0 + 3;
      const a0r = (tr[i0]! * 8191 + 16384) >> 15;
      const a0i = (ti[i0]! * 8191 + 16384) >> 15;
      const a1r = (tr[i1]! * 8191 + 16384) >> 15;
      const a1i = (ti[i1]! * 8191 + 16384) >> 15;
      const a2r = (tr[i2]! * 8191 + 16384) >> 15;
      const a2i = (ti[i2]! * 8191 + 16384) >> 15;
      const a3r = (tr[i3]! * 8191 + 16384) >> 15;
      const a3i = (ti[i3]! * 8191 + 16384) >> 15;
      // |a| <= 8192 after the division, so sround(a * 32767) fits int16 without wrapping.
      const s0r = (a1r * 32767 + 16384) >> 15;
      const s0i = (a1i * 32767 + 16384) >> 15;
      const s1r = (a2r * 32767 + 16384) >> 15;
      const s1i = (a2i * 32767 + 16384) >> 15;
      const s2r = (a3r * 32767 + 16384) >> 15;
      const s2i = (a3i * 32767 + 16384) >> 15;
      const s5r = a0r - s1r;
      const s5i = a0i - s1i;
      const b0r = a0r + s1r;
      const b0i = a0i + s1i;
      const s3r = s0r + s2r;
      const s3i = s0i + s2i;
      const s4r = s0r - s2r;
      const s4i = s0i - s2i;
      tr[i2] = b0r - s3r;
      ti[i2] = b0i - s3i;
      tr[i0] = b0r + s3r;
      ti[i0] = b0i + s3i;
      tr[i1] = s5r + s4i;
      ti[i1] = s5i - s4r;
      tr[i3] = s5r - s4i;
      ti[i3] = s5i + s4r;
    }
  }

  private radix4(m: number, fstride: number): void {
    const { tr, ti, twr, twi, n } = this;
    const seg = 4 * m;
    for (let base = 0; base < n; base += seg) {
      for (let k = 0; k < m; k++) {
        const i0 = base + k;
        const i1 = i0 + m;
        const i2 = i1 + m;
        const i3 = i2 + m;
        const a0r = (tr[i0]! * 8191 + 16384) >> 15;
        const a0i = (ti[i0]! * 8191 + 16384) >> 15;
        const a1r = (tr[i1]! * 8191 + 16384) >> 15;
        const a1i = (ti[i1]! * 8191 + 16384) >> 15;
        const a2r = (tr[i2]! * 8191 + 16384) >> 15;
        const a2i = (ti[i2]! * 8191 + 16384) >> 15;
        const a3r = (tr[i3]! * 8191 + 16384) >> 15;
        const a3i = (ti[i3]! * 8191 + 16384) >> 15;
        const t1 = k * fstride;
        const t2 = t1 + t1;
        const t3 = t2 + t1;
        const w1r = twr[t1]!;
        const w1i = twi[t1]!;
        const w2r = twr[t2]!;
        const w2i = twi[t2]!;
        const w3r = twr[t3]!;
        const w3i = twi[t3]!;
        const s0r = (((Math.imul(a1r, w1r) - Math.imul(a1i, w1i) + 16384) >> 15) << 16) >> 16;
        const s0i = (((Math.imul(a1r, w1i) + Math.imul(a1i, w1r) + 16384) >> 15) << 16) >> 16;
        const s1r = (((Math.imul(a2r, w2r) - Math.imul(a2i, w2i) + 16384) >> 15) << 16) >> 16;
        const s1i = (((Math.imul(a2r, w2i) + Math.imul(a2i, w2r) + 16384) >> 15) << 16) >> 16;
        const s2r = (((Math.imul(a3r, w3r) - Math.imul(a3i, w3i) + 16384) >> 15) << 16) >> 16;
        const s2i = (((Math.imul(a3r, w3i) + Math.imul(a3i, w3r) + 16384) >> 15) << 16) >> 16;
        const s5r = ((a0r - s1r) << 16) >> 16;
        const s5i = ((a0i - s1i) << 16) >> 16;
        const b0r = ((a0r + s1r) << 16) >> 16;
        const b0i = ((a0i + s1i) << 16) >> 16;
        const s3r = ((s0r + s2r) << 16) >> 16;
        const s3i = ((s0i + s2i) << 16) >> 16;
        const s4r = ((s0r - s2r) << 16) >> 16;
        const s4i = ((s0i - s2i) << 16) >> 16;
        tr[i2] = b0r - s3r;
        ti[i2] = b0i - s3i;
        tr[i0] = b0r + s3r;
        ti[i0] = b0i + s3i;
        tr[i1] = s5r + s4i;
        ti[i1] = s5i - s4r;
        tr[i3] = s5r - s4i;
        ti[i3] = s5i + s4r;
      }
    }
  }

  private realSplit(outRe: Int16Array, outIm: Int16Array): void {
    const { tr, ti, str, sti, n } = this;
    const dcr = (tr[0]! * 16383 + 16384) >> 15;
    const dci = (ti[0]! * 16383 + 16384) >> 15;
    outRe[0] = dcr + dci;
    outIm[0] = 0;
    outRe[n] = dcr - dci;
    outIm[n] = 0;
    const half = n >> 1;
    for (let k = 1; k <= half; k++) {
      const nk = n - k;
      const pr = (tr[k]! * 16383 + 16384) >> 15;
      const pi = (ti[k]! * 16383 + 16384) >> 15;
      const qr = (tr[nk]! * 16383 + 16384) >> 15;
      // -(-32768) must wrap back to -32768 before the division, as the int16 store does.
      const qi = ((((-ti[nk]! << 16) >> 16) * 16383 + 16384) >> 15);
      const f1r = ((pr + qr) << 16) >> 16;
      const f1i = ((pi + qi) << 16) >> 16;
      const f2r = ((pr - qr) << 16) >> 16;
      const f2i = ((pi - qi) << 16) >> 16;
      const wr = str[k - 1]!;
      const wi = sti[k - 1]!;
      const xr = (((Math.imul(f2r, wr) - Math.imul(f2i, wi) + 16384) >> 15) << 16) >> 16;
      const xi = (((Math.imul(f2r, wi) + Math.imul(f2i, wr) + 16384) >> 15) << 16) >> 16;
      outRe[k] = (f1r + xr) >> 1;
      outIm[k] = (f1i + xi) >> 1;
      // At k = n/2 this overwrites bin k, as the reference's second store does.
      outRe[nk] = (f1r - xr) >> 1;
      outIm[nk] = (xi - f1i) >> 1;
    }
  }
}

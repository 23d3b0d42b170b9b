/**
 * Deterministic transcendental functions: sin, cos, exp, exp2, log, log10.
 *
 * Why: V8's Math.sin/cos/exp/log/pow (fdlibm ports) and glibc's libm agree to within an
 * ulp but not bit for bit, so a pipeline that must give the same bytes in TypeScript and
 * in the native addon (augmentation: FFT twiddles, windows, the pitch kernel, noise) cannot
 * call either. This file and native/detmath.cc are one algorithm written twice: the same
 * double-precision operations in the same order, no fused multiply-add (the addon is built
 * with -ffp-contract=off), exact operations only where the two languages agree by IEEE 754
 * (+ - * / sqrt, floor, abs, bit access). test/math/detmath.test.ts holds them equal bit
 * for bit on more than a million inputs and measures the accuracy against Math.*.
 *
 * Algorithms (written for this project; constants derived from exact integer arithmetic,
 * see the test that recomputes them):
 * - sin/cos: argument reduction x = n·π/2 + r (|r| ≲ π/4) to a double-double r = hi + lo,
 *   by Cody–Waite with π/2 in four parts (33+33+33+53 bits) for |x| < 2^20, and by an exact
 *   multi-precision product with the bits of 2/π (Payne–Hanek) above; then Taylor
 *   polynomials on |r| ≤ π/4 (sin to r^17, cos to r^18; truncation < 2^-60 relative) with
 *   the low part folded in. Error ≤ 1 ulp (measured: see the test).
 * - exp: x = k·ln2 + r, |r| ≤ ln2/2, ln2 in two parts (32 + 53 bits); Taylor to r^13;
 *   scaled by 2^k with exact power-of-two products (subnormal results rounded once).
 * - exp2: x = k + f, |f| ≤ 1/2, f·ln2 as an exact double-double product, then exp's kernel.
 * - log: x = 2^k·m, m in [√2/2, √2); log m = 2·atanh(s), s = f/(2+f), f = m − 1, written
 *   as f − (f²/2 − s·(f²/2 + R(s²))) with R the atanh series to s^20 (truncation < 2^-60).
 * - log10: the same reduction, k·log10(2) (two parts) + log(m)/ln10 with f/ln10 as an
 *   exact double-double product (1/ln10 in two parts).
 * Special values follow IEEE/Math.*: NaN in → NaN; sin/cos(±∞) = NaN; sin(±0) = ±0;
 * exp(+∞) = ∞, exp(−∞) = 0; log(0) = −∞, log(x < 0) = NaN, log(∞) = ∞.
 */

// ------------------------------------------------------------------ bit access

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = 1 - HI;

function highWord(x: number): number {
  F64[0] = x;
  return U32[HI]!;
}

function lowWord(x: number): number {
  F64[0] = x;
  return U32[LO]!;
}

function fromWords(hi: number, lo: number): number {
  U32[HI] = hi >>> 0;
  U32[LO] = lo >>> 0;
  return F64[0]!;
}

/** 2^k, exactly, for an integer k in [-1022, 1023]. */
function pow2i(k: number): number {
  return fromWords((k + 1023) * 1048576, 0);
}

// ------------------------------------------------------------------ exact products

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp split)
/** Low part of the last twoProduct (a·b = product + twoProductErr, exactly). */
let twoProductErr = 0;

/** a·b rounded; the rounding error goes to twoProductErr (Dekker's product, no fma). */
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  twoProductErr = ah * bh - p + ah * bl + al * bh + al * bl;
  return p;
}

// ------------------------------------------------------------------ constants

/** π/2 in four parts: 33, 33, 33 and 53 significant bits (n·P1..P3 exact for n < 2^20). */
const PIO2_1 = 1.5707963267341256;
const PIO2_2 = 6.077100506303966e-11;
const PIO2_3 = 2.0222662487111665e-21;
const PIO2_4 = 8.4784276603689e-32;
/** π/2 as a double-double. */
const PIO2_HI = 1.5707963267948966;
const PIO2_LO = 6.123233995736766e-17;
const INV_PIO2 = 0.6366197723675814;
const PIO4 = 0.7853981633974483;

/** ln 2 as 32 + 53 bits (k·LN2_HI exact for |k| < 2^21), and as a double-double. */
const LN2_HI = 0.6931471806019545;
const LN2_LO = -4.2009150726810846e-11;
const LN2 = 0.6931471805599453;
const LN2_TAIL = 2.3190468138462996e-17;
const INV_LN2 = 1.4426950408889634;
/** log10(2) as 32 + 53 bits, and 1/ln 10. */
const LOG10_2_HI = 0.3010299956658855;
const LOG10_2_LO = -1.9043128467164274e-12;
const INV_LN10 = 0.4342944819032518;
const INV_LN10_LO = 1.098319650216765e-17;

/** Taylor coefficients (-1)^k/(2k+1)! for sin, k = 1..8. */
const S3 = -0.16666666666666666;
const S5 = 0.008333333333333333;
const S7 = -0.0001984126984126984;
const S9 = 2.7557319223985893e-6;
const S11 = -2.505210838544172e-8;
const S13 = 1.6059043836821613e-10;
const S15 = -7.647163731819816e-13;
const S17 = 2.8114572543455206e-15;
/** (-1)^k/(2k)! for cos, k = 2..9. */
const C4 = 0.041666666666666664;
const C6 = -0.001388888888888889;
const C8 = 2.48015873015873e-5;
const C10 = -2.755731922398589e-7;
const C12 = 2.08767569878681e-9;
const C14 = -1.1470745597729725e-11;
const C16 = 4.779477332387385e-14;
const C18 = -1.5619206968586225e-16;
/** 1/k! for exp, k = 2..13. */
const E2 = 0.5;
const E3 = 0.16666666666666666;
const E4 = 0.041666666666666664;
const E5 = 0.008333333333333333;
const E6 = 0.001388888888888889;
const E7 = 0.0001984126984126984;
const E8 = 2.48015873015873e-5;
const E9 = 2.7557319223985893e-6;
const E10 = 2.755731922398589e-7;
const E11 = 2.505210838544172e-8;
const E12 = 2.08767569878681e-9;
const E13 = 1.6059043836821613e-10;
/** 2/(2k+1) for the atanh series of log, k = 1..10. */
const L1 = 0.6666666666666666;
const L2 = 0.4;
const L3 = 0.2857142857142857;
const L4 = 0.2222222222222222;
const L5 = 0.18181818181818182;
const L6 = 0.15384615384615385;
const L7 = 0.13333333333333333;
const L8 = 0.11764705882352941;
const L9 = 0.10526315789473684;
const L10 = 0.09523809523809523;

/**
 * 2/π in binary: word i holds bits 32i+1 … 32i+32 after the binary point (1280 bits,
 * enough for the largest double, whose reduction reads bits up to about 971 + 256).
 */
export const TWO_OVER_PI_WORDS: readonly number[] = [
  0xa2f9836e, 0x4e441529, 0xfc2757d1, 0xf534ddc0, 0xdb629599, 0x3c439041, 0xfe5163ab, 0xdebbc561, 0xb7246e3a, 0x424dd2e0,
  0x06492eea, 0x09d1921c, 0xfe1deb1c, 0xb129a73e, 0xe88235f5, 0x2ebb4484, 0xe99c7026, 0xb45f7e41, 0x3991d639, 0x835339f4,
  0x9c845f8b, 0xbdf9283b, 0x1ff897ff, 0xde05980f, 0xef2f118b, 0x5a0a6d1f, 0x6d367ecf, 0x27cb09b7, 0x4f463f66, 0x9e5fea2d,
  0x7527bac7, 0xebe5f17b, 0x3d0739f7, 0x8a5292ea, 0x6bfb5fb1, 0x1f8d5d08, 0x56033046, 0xfc7b6bab, 0xf0cfbc20, 0x9af4361d,
];

/** Constants for the test that re-derives them from π computed in integers. */
export const DETMATH_CONSTANTS = { PIO2_1, PIO2_2, PIO2_3, PIO2_4, PIO2_HI, PIO2_LO, LN2_HI, LN2_LO, LN2, LN2_TAIL, LOG10_2_HI, LOG10_2_LO };

// ------------------------------------------------------------------ sin, cos

/** The reduced argument of the last reduce(): r = redHi + redLo. */
let redHi = 0;
let redLo = 0;

/** Bits of 2/π used per reduction of a huge argument (covers cancellation to 2^-120). */
const WINDOW_BITS = 256;
let twoOverPiBig: bigint | undefined;

/**
 * |x| ≥ 2^20: the exact product of x's integer significand with a 256-bit window of 2/π
 * (bits whose contribution is a multiple of 4 are skipped), so quadrant and fraction are
 * exact; the fraction (106 bits) times π/2 as double-doubles. Returns the quadrant.
 */
function reduceHuge(ax: number): number {
  twoOverPiBig ??= TWO_OVER_PI_WORDS.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
  const hw = highWord(ax);
  const e = (hw >>> 20) - 1075; // ax = M · 2^e, M < 2^53
  const M = (BigInt((hw & 0xfffff) | 0x100000) << 32n) | BigInt(lowWord(ax));
  // Bit j of 2/π weighs 2^-j; M·2^e·2^-j is a multiple of 4 for j ≤ e − 2.
  const p0 = Math.max(1, e - 1);
  const last = p0 + WINDOW_BITS - 1;
  const window = (twoOverPiBig >> BigInt(32 * TWO_OVER_PI_WORDS.length - last)) & ((1n << BigInt(WINDOW_BITS)) - 1n);
  const P = M * window;
  const s = last - e; // P · 2^-s ≡ x·2/π (mod 4)
  let q = Number((P >> BigInt(s)) & 3n);
  let frac = P & ((1n << BigInt(s)) - 1n);
  let negative = false;
  if (frac >= 1n << BigInt(s - 1)) {
    frac = (1n << BigInt(s)) - frac;
    q = (q + 1) & 3;
    negative = true;
  }
  let hi = 0;
  let lo = 0;
  if (frac !== 0n) {
    const bits = frac.toString(2).length;
    if (bits <= 53) {
      hi = Number(frac) * pow2i(-s);
    } else {
      const sh = bits - 53;
      const top = frac >> BigInt(sh);
      const rest = frac - (top << BigInt(sh));
      hi = Number(top) * pow2i(sh - s);
      const lsh = Math.max(0, sh - 53);
      lo = Number(rest >> BigInt(lsh)) * pow2i(lsh - s);
    }
  }
  if (negative) {
    hi = -hi;
    lo = -lo;
  }
  // (hi + lo) · π/2 as a double-double.
  const p = twoProduct(hi, PIO2_HI);
  const t = twoProductErr + (hi * PIO2_LO + lo * PIO2_HI);
  redHi = p + t;
  redLo = t - (redHi - p);
  return q;
}

/** x = n·π/2 + (redHi + redLo) for finite |x| > π/4; returns n mod 4. */
function reduce(x: number): number {
  const ax = Math.abs(x);
  if (ax < 1048576) {
    const n = Math.floor(x * INV_PIO2 + 0.5);
    const a = x - n * PIO2_1; // exact (Sterbenz; n·PIO2_1 exact)
    const b = -(n * PIO2_2); // exact
    const s1 = a + b;
    let bb = s1 - a;
    const e1 = a - (s1 - bb) + (b - bb);
    const c = -(n * PIO2_3); // exact
    const s2 = s1 + c;
    bb = s2 - s1;
    const e2 = s1 - (s2 - bb) + (c - bb);
    const lo = e1 + e2 - n * PIO2_4;
    redHi = s2 + lo;
    redLo = lo - (redHi - s2);
    return (n | 0) & 3;
  }
  const q = reduceHuge(ax);
  if (x > 0) return q;
  redHi = -redHi;
  redLo = -redLo;
  return (4 - q) & 3;
}

/** sin(hi + lo) for |hi| ≤ ~π/4, |lo| ≤ ulp(hi). */
function sinKernel(hi: number, lo: number): number {
  const z = hi * hi;
  const v = z * hi;
  const p = S3 + z * (S5 + z * (S7 + z * (S9 + z * (S11 + z * (S13 + z * (S15 + z * S17))))));
  return hi + (v * p + lo * (1 - 0.5 * z));
}

/** cos(hi + lo) for |hi| ≤ ~π/4, |lo| ≤ ulp(hi). */
function cosKernel(hi: number, lo: number): number {
  const z = hi * hi;
  const hz = 0.5 * z;
  const w = 1 - hz;
  const q = C4 + z * (C6 + z * (C8 + z * (C10 + z * (C12 + z * (C14 + z * (C16 + z * C18))))));
  return w + (1 - w - hz + (z * (z * q) - hi * lo));
}

const TINY_ANGLE = 7.450580596923828e-9; // 2^-27: sin x = x and cos x = 1 after rounding

export function sin(x: number): number {
  const ax = Math.abs(x);
  if (ax <= PIO4) return ax < TINY_ANGLE ? x : sinKernel(x, 0);
  if (!(ax < Infinity)) return NaN;
  switch (reduce(x)) {
    case 0:
      return sinKernel(redHi, redLo);
    case 1:
      return cosKernel(redHi, redLo);
    case 2:
      return -sinKernel(redHi, redLo);
    default:
      return -cosKernel(redHi, redLo);
  }
}

export function cos(x: number): number {
  const ax = Math.abs(x);
  if (ax <= PIO4) return ax < TINY_ANGLE ? 1 : cosKernel(x, 0);
  if (!(ax < Infinity)) return NaN;
  switch (reduce(x)) {
    case 0:
      return cosKernel(redHi, redLo);
    case 1:
      return -sinKernel(redHi, redLo);
    case 2:
      return -cosKernel(redHi, redLo);
    default:
      return sinKernel(redHi, redLo);
  }
}

// ------------------------------------------------------------------ exp, exp2

/** e^(hi + lo) for |hi| ≤ ~ln2/2, |lo| ≤ ulp(hi), in [0.7, 1.42]. */
function expKernel(hi: number, lo: number): number {
  const r = hi + lo;
  const rerr = hi - r + lo;
  const p = E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * (E7 + r * (E8 + r * (E9 + r * (E10 + r * (E11 + r * (E12 + r * E13))))))))));
  return 1 + (r + (rerr + r * r * p));
}

/** y·2^k for k in [-1075, 1024], with one rounding for subnormal results. */
function scale2(y: number, k: number): number {
  if (k >= -1022 && k <= 1023) return y * pow2i(k);
  if (k > 1023) return y * pow2i(1023) * pow2i(k - 1023);
  return y * pow2i(k + 1000) * pow2i(-1000);
}

export function exp(x: number): number {
  if (!(x === x)) return x;
  if (x > 709.8) return Infinity;
  if (x < -745.2) return 0;
  if (Math.abs(x) < 5.551115123125783e-17) return 1 + x; // 2^-54
  const k = Math.floor(x * INV_LN2 + 0.5);
  return scale2(expKernel(x - k * LN2_HI, -(k * LN2_LO)), k);
}

export function exp2(x: number): number {
  if (!(x === x)) return x;
  if (x >= 1024) return Infinity;
  if (x < -1080) return 0;
  const k = Math.floor(x + 0.5);
  const f = x - k; // exact
  if (f === 0) return scale2(1, k);
  const hi = twoProduct(f, LN2);
  return scale2(expKernel(hi, twoProductErr + f * LN2_TAIL), k);
}

// ------------------------------------------------------------------ log, log10

/** Parts of the last logReduce: x = 2^logK·(1 + f), log(1 + f) = f − (logHfsq − logSR). */
let logK = 0;
let logF = 0;
let logHfsq = 0;
let logSR = 0;

/** Splits finite x > 0 as 2^k·(1 + f) with 1 + f in [√2/2, √2) and evaluates the atanh series. */
function logReduce(x: number): void {
  let hw = highWord(x);
  let k = 0;
  if (hw < 0x00100000) {
    // Subnormal: scale into the normal range first.
    x *= 18014398509481984; // 2^54
    k = -54;
    hw = highWord(x);
  }
  k += (hw >>> 20) - 1023;
  const mant = hw & 0xfffff;
  let m: number;
  if (mant >= 0x6a09e) {
    m = fromWords(mant | 0x3fe00000, lowWord(x)); // in [√2/2, 1)
    k += 1;
  } else {
    m = fromWords(mant | 0x3ff00000, lowWord(x)); // in [1, √2)
  }
  const f = m - 1; // exact
  const s = f / (2 + f);
  const z = s * s;
  const R = z * (L1 + z * (L2 + z * (L3 + z * (L4 + z * (L5 + z * (L6 + z * (L7 + z * (L8 + z * (L9 + z * L10)))))))));
  logK = k;
  logF = f;
  logHfsq = 0.5 * f * f;
  logSR = s * (logHfsq + R);
}

export function log(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  logReduce(x);
  // k·ln2's low part joins the small terms before the last two roundings.
  return logK * LN2_HI + (logF - (logHfsq - (logSR + logK * LN2_LO)));
}

export function log10(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  logReduce(x);
  // log(1 + f)/ln10 = f/ln10 − (f²/2 − s·(f²/2 + R))/ln10, the leading product exact.
  const p = twoProduct(logF, INV_LN10);
  const t = twoProductErr + (logF * INV_LN10_LO - (logHfsq - logSR) * INV_LN10);
  return logK * LOG10_2_HI + (logK * LOG10_2_LO + (p + t));
}

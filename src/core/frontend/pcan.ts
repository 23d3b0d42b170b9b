/**
 * Per-channel amplitude normalisation (frontend.md §10): a gain looked up from
 * the noise estimate through a piecewise-quadratic table built with float32
 * powf, then a compressive "shrink".
 */
import type { FrontendSettings } from './settings.ts';
import { correctionBits } from './settings.ts';

const f32 = Math.fround;
const WIDE_DYNAMIC_BITS = 32;
export const PCAN_LUT_SIZE = 2 + 3 * (WIDE_DYNAMIC_BITS - 1);

export interface PcanConstants {
  snrShift: number;
  /** [g(0), g(1), then y0, a1, a2 for intervals 2..32] (95 int16 values). */
  gainLut: Int16Array;
}

function gainFunction(x: number, inputBits: number, gainBits: number, offset: number, strength: number): number {
  const xf = f32(f32(x) / f32(2 ** inputBits));
  const gf = f32(f32(2 ** gainBits) * f32(Math.pow(f32(xf + offset), -strength)));
  if (gf > 32767) return 32767;
  return (Math.trunc(f32(gf + 0.5)) << 16) >> 16;
}

export function buildPcanGainLut(strength: number, offset: number, gainBits: number, inputBits: number): Int16Array {
  const st = f32(strength);
  const off = f32(offset);
  const lut = new Int16Array(PCAN_LUT_SIZE);
  const g = (x: number): number => gainFunction(x, inputBits, gainBits, off, st);
  lut[0] = g(0);
  lut[1] = g(1);
  for (let k = 2; k <= WIDE_DYNAMIC_BITS; k++) {
    const x0 = 2 ** (k - 1);
    const x1 = x0 + x0 / 2;
    const x2 = k === WIDE_DYNAMIC_BITS ? x0 + (x0 - 1) : 2 * x0;
    const y0 = g(x0);
    const d1 = g(x1) - y0;
    const d2 = g(x2) - y0;
    const a1 = 4 * d1 - d2;
    const a2 = d2 - a1;
    const at = 2 + 3 * (k - 2);
    lut[at] = y0;
    lut[at + 1] = a1;
    lut[at + 2] = a2;
  }
  return lut;
}

export function pcanConstants(s: FrontendSettings, fftSize: number): PcanConstants {
  const cb = correctionBits(fftSize);
  return {
    snrShift: s.pcan_gain_bits - cb - 12,
    gainLut: buildPcanGainLut(s.pcan_strength, s.pcan_offset, s.pcan_gain_bits, s.noise_reduction_smoothing_bits - cb),
  };
}

/** Interpolated gain for a u32 noise estimate (TFLM WideDynamicFunction). */
export function pcanGain(x: number, lut: Int16Array): number {
  if (x <= 2) return lut[x]!;
  const k = 32 - Math.clz32(x);
  const at = 2 + 3 * (k - 2);
  const frac = (k < 11 ? x << (11 - k) : x >>> (k - 11)) & 0x3ff;
  let r = (lut[at + 2]! * frac) >> 5;
  r += lut[at + 1]! * 32;
  r = Math.imul(r, frac);
  r = (r + 16384) >> 15;
  return ((r + lut[at]!) << 16) >> 16;
}

/** floor(a * b / 2^shift) mod 2^32 for a, b < 2^32, exact past 2^53 (only a negative gain gets there). */
function mulShiftU32(a: number, b: number, shift: number): number {
  const p = a * b;
  if (p <= Number.MAX_SAFE_INTEGER) return Math.floor(p / 2 ** shift) % 4294967296;
  const a1 = Math.floor(a / 65536);
  const a0 = a % 65536;
  const b1 = Math.floor(b / 65536);
  const b0 = b % 65536;
  const mid = a1 * b0 + a0 * b1;
  let lo = a0 * b0 + (mid % 65536) * 65536;
  const hi = (a1 * b1 + Math.floor(mid / 65536) + Math.floor(lo / 4294967296)) % 4294967296;
  lo %= 4294967296;
  if (shift === 0) return lo;
  if (shift < 32) return ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
  return hi >>> (shift - 32);
}

/** signal[i] = shrink((signal[i] * gain(estimate[i])) >> snr_shift). */
export function pcanApply(c: PcanConstants, estimate: Uint32Array, signal: Uint32Array, numChannels: number): void {
  const lut = c.gainLut;
  const scale = 2 ** c.snrShift;
  for (let i = 0; i < numChannels; i++) {
    const gain = pcanGain(estimate[i]!, lut);
    const x = signal[i]!;
    // The reference reads the int16 gain as uint32.
    const snr = gain >= 0 ? Math.floor((x * gain) / scale) >>> 0 : mulShiftU32(x, gain >>> 0, c.snrShift);
    signal[i] = snr < 8192 ? Math.floor((snr * snr) / 1048576) : (snr >>> 6) - 64;
  }
}

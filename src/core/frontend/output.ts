/**
 * Output conversions of the uint16 spectrogram (frontend.md §12).
 */
import { InvalidSettingsError } from '../errors.ts';
import type { FrontendSettings } from './settings.ts';
import type { FeatureDtype } from '../schemas.ts';

/** Maps 0..666 onto -128..127: floor((u * 256 + 333) / 666) - 128, clamped. */
export function staticInt8(u16: Uint16Array): Int8Array {
  const out = new Int8Array(u16.length);
  for (let i = 0; i < u16.length; i++) {
    const v = Math.floor((u16[i]! * 256 + 333) / 666) - 128;
    out[i] = v > 127 ? 127 : v;
  }
  return out;
}

/**
 * Dynamic range in uint16 units: trunc(f32(range_db) * 2^log_scale_shift * ln(10)/20).
 * A result <= 0 means dynamic quantization is not used.
 */
export function dynamicQuantizeRange(s: FrontendSettings): number {
  return Math.trunc(Math.fround(s.quantize_dynamic_scale_range_db) * 2 ** s.log_scale_shift * 0.11512925465);
}

/** Scales [max - range, max] of the whole clip onto -128..127. */
export function dynamicInt8(u16: Uint16Array, range: number): Int8Array {
  let mx = 0;
  for (let i = 0; i < u16.length; i++) if (u16[i]! > mx) mx = u16[i]!;
  const mn = Math.max(mx - range, 0);
  const vr = Math.max(mx - mn, 1);
  const out = new Int8Array(u16.length);
  for (let i = 0; i < u16.length; i++) {
    const v = Math.trunc(((u16[i]! - mn) * 255) / vr) - 128;
    out[i] = v < -128 ? -128 : v > 127 ? 127 : v;
  }
  return out;
}

/**
 * What MLTK returns for each dtype: uint16 as is (the same array), float32 as
 * a plain cast, int8 dynamic when enabled with a positive range, else static.
 */
export function convertSpectrogram(
  u16: Uint16Array,
  settings: FrontendSettings,
  dtype: FeatureDtype,
): Uint16Array | Int8Array | Float32Array {
  switch (dtype) {
    case 'uint16':
      return u16;
    case 'float32':
      return Float32Array.from(u16);
    case 'int8': {
      const range = settings.quantize_dynamic_scale_enable ? dynamicQuantizeRange(settings) : 0;
      return range > 0 ? dynamicInt8(u16, range) : staticInt8(u16);
    }
    default:
      throw new InvalidSettingsError(`unknown feature dtype ${JSON.stringify(dtype as unknown)}; use uint16, int8 or float32`);
  }
}

/**
 * Per-channel noise estimate and spectral subtraction (frontend.md §9).
 * Products reach 2^47 at most, exact in doubles.
 */
import type { FrontendSettings } from './settings.ts';

export interface NoiseReductionConstants {
  smoothingBits: number;
  /** Q14 smoothing for even channels (channel 0 is even). */
  evenSmoothing: number;
  oddSmoothing: number;
  minSignalRemaining: number;
}

const q14 = (v: number): number => Math.trunc(Math.fround(v) * 16384);

export function noiseReductionConstants(s: FrontendSettings): NoiseReductionConstants {
  return {
    smoothingBits: s.noise_reduction_smoothing_bits,
    evenSmoothing: q14(s.noise_reduction_even_smoothing),
    oddSmoothing: q14(s.noise_reduction_odd_smoothing),
    minSignalRemaining: q14(s.noise_reduction_min_signal_remaining),
  };
}

/** Updates estimate[] in place and replaces signal[i] by the noise-reduced value. */
export function noiseReductionApply(
  c: NoiseReductionConstants,
  estimate: Uint32Array,
  signal: Uint32Array,
  numChannels: number,
): void {
  const bits = c.smoothingBits;
  const scaleDown = 2 ** bits;
  const minRem = c.minSignalRemaining;
  for (let i = 0; i < numChannels; i++) {
    const sm = (i & 1) === 0 ? c.evenSmoothing : c.oddSmoothing;
    const x = signal[i]!;
    const up = (x << bits) >>> 0;
    const est = Math.floor((up * sm + estimate[i]! * (16384 - sm)) / 16384) >>> 0;
    estimate[i] = est;
    const e = est < up ? est : up;
    const floor = Math.floor((x * minRem) / 16384);
    const sub = Math.floor((up - e) / scaleDown);
    signal[i] = sub > floor ? sub : floor;
  }
}

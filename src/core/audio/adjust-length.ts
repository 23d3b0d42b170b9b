/**
 * Length adjustment after trimming (MLTK `adjust_length`, spec §14 step 4).
 */

/** T = floor(sample_length_ms * sample_rate_hz / 1000), in MLTK's (double) operation order. */
export function targetLength(sampleRateHz: number, sampleLengthMs: number): number {
  return Math.floor((sampleLengthMs * sampleRateHz) / 1000);
}

/**
 * Crop or zero-pad the trimmed signal `m = trimmed.length` to exactly `T` samples:
 * - m > T: the T samples starting at floor((m - T) * offset);
 * - m < T: floor((T - m) * offset) zeros, the signal, then zeros up to T;
 * - m = T: the first T samples of the *untrimmed* signal (MLTK quirk Q-18, copied for
 *   bit parity).
 * Always returns a new array of length T.
 */
export function adjustLength(untrimmed: Float32Array, trimmed: Float32Array, T: number, offset: number): Float32Array {
  const m = trimmed.length;
  if (m > T) {
    const start = Math.floor((m - T) * offset);
    return trimmed.slice(start, start + T);
  }
  if (m < T) {
    const out = new Float32Array(T);
    out.set(trimmed, Math.floor((T - m) * offset));
    return out;
  }
  return untrimmed.slice(0, T);
}

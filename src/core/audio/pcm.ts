/**
 * float32 -> int16 for the spectrogram frontend (spec §14 step 6).
 *
 * MLTK multiplies by 32768 and truncates toward zero, wrapping modulo 2^16 when out of
 * range (Q-19: 1.2 -> -26215). We copy the truncation (bit-identical for every value in
 * [-1, 1)) and clip out-of-range values to [-32768, 32767] instead of wrapping, the fix
 * the spec allows. NaN maps to 0 (float WAVs with NaN are rejected at decode time; this
 * only guards client-supplied arrays).
 */
export function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    // x * 32768 is exact in float32 and in double (power-of-two scaling), so truncating
    // the double product gives numpy's float32 result.
    const v = samples[i]! * 32768;
    out[i] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : v === v ? Math.trunc(v) : 0;
  }
  return out;
}

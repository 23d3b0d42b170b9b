/**
 * Q12 Hann window and the per-frame FFT input scaling (frontend.md §5).
 */

const f32 = Math.fround;

/** Hann window at half-integer positions, float32 rounding points as in MLTK. */
export function hannWindowQ12(windowSize: number): Int16Array {
  const coeffs = new Int16Array(windowSize);
  const arg = f32((2 * Math.PI) / windowSize);
  for (let i = 0; i < windowSize; i++) {
    const c = f32(Math.cos(f32(arg * (i + 0.5))));
    const v = f32(0.5 - 0.5 * c);
    coeffs[i] = Math.floor(v * 4096 + 0.5);
  }
  return coeffs;
}

/**
 * out[i] = wrap16((x[offset+i] * c[i]) >> 12) for i < c.length; returns the
 * frame's max |value|. A -32768 output negates to itself in int16 and is
 * therefore left out of the maximum, as in the reference.
 */
export function windowFrame(samples: Int16Array, offset: number, coeffs: Int16Array, out: Int16Array): number {
  const size = coeffs.length;
  let maxAbs = 0;
  for (let i = 0; i < size; i++) {
    const w = ((samples[offset + i]! * coeffs[i]!) >> 12) << 16 >> 16;
    out[i] = w;
    const a = w < 0 ? (-w << 16) >> 16 : w;
    if (a > maxAbs) maxAbs = a;
  }
  return maxAbs;
}

/** Left shift that brings the frame's peak to 15 bits (0..15; silence gives 15). */
export function fftInputShift(maxAbs: number): number {
  return 15 - (32 - Math.clz32(maxAbs));
}

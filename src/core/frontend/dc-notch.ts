/**
 * First-order DC notch filter in Q15 (frontend.md §4). State runs across frame
 * boundaries, so the whole consumed prefix of the clip is filtered once.
 */

/** Q15 coefficient: wrap16(trunc(f32(c) * 32768)). */
export function dcNotchCoefficient(coefficient: number): number {
  return (Math.trunc(Math.fround(coefficient) * 32768) << 16) >> 16;
}

/** Filters input[0 .. length) into out from a reset state (prev_in = prev_out = 0). */
export function dcNotchFilter(input: Int16Array, length: number, k: number, out: Int16Array): void {
  let prevIn = 0;
  let prevOut = 0;
  for (let i = 0; i < length; i++) {
    const x = input[i]!;
    const d = ((x - prevIn) << 16) >> 16;
    const y = ((d + ((((k * prevOut) >> 14) + 1) >> 1)) << 16) >> 16;
    out[i] = y;
    prevIn = x;
    prevOut = y;
  }
}

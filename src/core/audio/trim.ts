/**
 * Leading/trailing silence trimming with librosa >= 0.10 `effects.trim` semantics
 * (spec §14 step 4), as MLTK calls it: `trim(y, top_db=int(trim_threshold_db))` with the
 * defaults frame_length 2048, hop 512, ref = loudest frame, amin 1e-5.
 *
 * - Frame t covers samples [t*512 - 1024, t*512 + 1024) (centred, zero padding at the
 *   edges); there are 1 + floor(n / 512) frames.
 * - level(t) = 20*log10(max(rms(t), 1e-5)) - 20*log10(max(max_t rms(t), 1e-5)).
 * - A frame is loud when level > -top_db. Kept: [first_loud * 512,
 *   min(n, (last_loud + 1) * 512)); nothing when no frame is loud.
 * - An all-zero (or everywhere below 1e-5 RMS) signal has every frame at 0 dB, so it is
 *   kept whole.
 *
 * Numerics: librosa squares and averages in float32 (numpy's float32 reduction); we sum
 * squares in double and take logs in double. Results can differ from librosa only for a
 * frame whose level lies within float32 rounding (~1e-5 dB) of the threshold.
 */

export const TRIM_FRAME_LENGTH = 2048;
export const TRIM_HOP_LENGTH = 512;
/** librosa's `amin` for amplitude_to_db. */
const AMIN = 1e-5;

/**
 * Sample range [start, end) that `librosa.effects.trim(top_db=topDb)` keeps. `log10` is
 * Math.log10 on the plain path (unchanged since it was tested against MLTK); the
 * augmentation pipeline passes ../math/detmath.ts's, which its native twin shares.
 */
export function trimBounds(y: Float32Array, topDb: number, log10: (x: number) => number = Math.log10): { start: number; end: number } {
  const n = y.length;
  const half = TRIM_FRAME_LENGTH / 2;
  const nFrames = 1 + Math.floor(n / TRIM_HOP_LENGTH);
  const levels = new Float64Array(nFrames);
  let ref = AMIN;
  for (let t = 0; t < nFrames; t++) {
    const centre = t * TRIM_HOP_LENGTH;
    const a = Math.max(0, centre - half);
    const b = Math.min(n, centre + half);
    let sum = 0;
    for (let i = a; i < b; i++) {
      const v = y[i]!;
      sum += v * v;
    }
    // Zero padding counts in the mean: always divide by the full frame length.
    const rms = Math.max(Math.sqrt(sum / TRIM_FRAME_LENGTH), AMIN);
    levels[t] = rms;
    if (rms > ref) ref = rms;
  }
  const refDb = 20 * log10(ref);
  let first = -1;
  let last = -1;
  for (let t = 0; t < nFrames; t++) {
    if (20 * log10(levels[t]!) - refDb > -topDb) {
      if (first < 0) first = t;
      last = t;
    }
  }
  if (first < 0) return { start: 0, end: 0 };
  return { start: first * TRIM_HOP_LENGTH, end: Math.min(n, (last + 1) * TRIM_HOP_LENGTH) };
}

/** The kept part of `y` (a view into the same buffer, not a copy). */
export function trimSilence(y: Float32Array, topDb: number, log10: (x: number) => number = Math.log10): Float32Array {
  const { start, end } = trimBounds(y, topDb, log10);
  return y.subarray(start, end);
}

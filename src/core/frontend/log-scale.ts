/**
 * Fixed-point natural log (TFLM log_scale, frontend.md §11) and the clamp to
 * uint16 that produces one spectrogram row.
 */

// prettier-ignore
const LOG_LUT = new Int32Array([
  0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797,
  2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633,
  4714, 4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
  5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586,
  5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000,
  4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
  3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207,
  2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142,
  0, 0,
]);

/** ln(x) scaled by 2^shift, in the reference's fixed point (x >= 2, u32). */
export function fixedLog(x: number, shift: number): number {
  const ip = 31 - Math.clz32(x);
  let frac = x - 2 ** ip;
  frac = ip < 16 ? frac << (16 - ip) : frac >>> (ip - 16);
  const seg = frac >> 9;
  const c0 = LOG_LUT[seg]!;
  const c1 = LOG_LUT[seg + 1]!;
  const frac2 = frac + c0 + (((c1 - c0) * (frac - seg * 512)) >> 16);
  const log2q16 = ip * 65536 + frac2;
  const lnQ16 = Math.floor((45426 * log2q16 + 32768) / 65536);
  return ((lnQ16 << shift) + 32768) >>> 16;
}

/**
 * out[offset + i] = min(LOG(signal[i] shifted by correction_bits), 65535), or
 * min(signal[i], 65535) without the correction shift when the log is off.
 */
export function logScaleApply(
  signal: Uint32Array,
  numChannels: number,
  enable: boolean,
  shift: number,
  correctionBits: number,
  out: Uint16Array,
  offset: number,
): void {
  if (!enable) {
    for (let i = 0; i < numChannels; i++) {
      const v = signal[i]!;
      out[offset + i] = v < 65535 ? v : 65535;
    }
    return;
  }
  for (let i = 0; i < numChannels; i++) {
    let v = signal[i]!;
    v = correctionBits >= 0 ? (v << correctionBits) >>> 0 : v >>> -correctionBits;
    const y = v > 1 ? fixedLog(v, shift) : 0;
    out[offset + i] = y < 65535 ? y : 65535;
  }
}

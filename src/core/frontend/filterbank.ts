/**
 * Mel filterbank (frontend.md §7): table construction with MLTK's float32 /
 * double rounding points, and the per-frame energy, accumulation and rounded
 * integer square root. Accumulators stay far below 2^53, so doubles are exact.
 */

export interface FilterbankParams {
  sampleRateHz: number;
  spectrumSize: number;
  numChannels: number;
  lowerBandLimit: number;
  upperBandLimit: number;
}

export interface FilterbankTables {
  numChannels: number;
  /** First FFT bin used (bin 0, DC, is always excluded). */
  startIndex: number;
  /** One past the last FFT bin used. */
  endIndex: number;
  /** Band c (0..N) covers bins bandFirst[c] .. bandFirst[c] + bandLength[c] - 1. */
  bandFirst: Int32Array;
  bandLength: Int32Array;
  /** Q12 weights indexed by FFT bin (each bin belongs to exactly one band). */
  weights: Int16Array;
  unweights: Int16Array;
}

const f32 = Math.fround;

function mel(freq: number): number {
  return f32(1127.0 * Math.log1p(freq / 700.0));
}

/** Returns null when the bands run past the spectrum (end_index > spectrum_size). */
export function buildFilterbank(p: FilterbankParams): FilterbankTables | null {
  const n = p.numChannels;
  const lo = f32(p.lowerBandLimit);
  const hi = f32(p.upperBandLimit);
  const melLo = mel(lo);
  const melHi = mel(hi);
  const span = f32(melHi - melLo);
  const spacing = f32(span / (n + 1));
  const center = new Float64Array(n + 1);
  for (let c = 0; c <= n; c++) center[c] = f32(melLo + f32(spacing * (c + 1)));

  const hzPerBin = f32((0.5 * p.sampleRateHz) / (p.spectrumSize - 1));
  const startIndex = Math.trunc(1.5 + f32(lo / hzPerBin));
  if (startIndex > p.spectrumSize) return null;

  const bandFirst = new Int32Array(n + 1);
  const bandLength = new Int32Array(n + 1);
  const weights = new Int16Array(p.spectrumSize);
  const unweights = new Int16Array(p.spectrumSize);
  let bin = startIndex;
  for (let c = 0; c <= n; c++) {
    const first = bin;
    const prev = c === 0 ? melLo : center[c - 1]!;
    const top = center[c]!;
    const denom = f32(top - prev);
    for (;;) {
      const m = mel(f32(bin * hzPerBin));
      if (!(m <= top)) break;
      // Including this bin would make end_index exceed spectrum_size.
      if (bin >= p.spectrumSize) return null;
      const wt = f32(f32(top - m) / denom);
      weights[bin] = Math.floor(wt * 4096 + 0.5);
      unweights[bin] = Math.floor((1.0 - wt) * 4096 + 0.5);
      bin++;
    }
    bandFirst[c] = first;
    bandLength[c] = bin - first;
  }
  return { numChannels: n, startIndex, endIndex: bin, bandFirst, bandLength, weights, unweights };
}

/** e[b] = re^2 + im^2 for the bins the filterbank reads. */
export function filterbankEnergy(
  re: Int16Array,
  im: Int16Array,
  startIndex: number,
  endIndex: number,
  energy: Float64Array,
): void {
  for (let b = startIndex; b < endIndex; b++) {
    const r = re[b]!;
    const i = im[b]!;
    energy[b] = r * r + i * i;
  }
}

/**
 * acc[c] = sum over band c of weight*e + sum over band c-1 of unweight*e
 * (c = 0..N; channel i reads acc[i+1], acc[0] is unused), as in TFLM's work[].
 */
export function filterbankAccumulate(fb: FilterbankTables, energy: Float64Array, acc: Float64Array): void {
  const { bandFirst, bandLength, weights, unweights } = fb;
  let carried = 0;
  for (let c = 0; c <= fb.numChannels; c++) {
    const first = bandFirst[c]!;
    const end = first + bandLength[c]!;
    let w = 0;
    let u = 0;
    for (let b = first; b < end; b++) {
      const e = energy[b]!;
      w += weights[b]! * e;
      u += unweights[b]! * e;
    }
    acc[c] = w + carried;
    carried = u;
  }
}

/** Rounded integer sqrt of a u64 value; values below 2^32 are capped at 65535 (TFLM Sqrt32). */
export function roundedSqrt(v: number): number {
  let r = Math.floor(Math.sqrt(v));
  // Math.sqrt is correctly rounded but can round up across an integer boundary.
  if (r * r > v) r--;
  else if ((r + 1) * (r + 1) <= v) r++;
  if (r === 65535 && v < 4294967296) return 65535;
  return v - r * r > r ? r + 1 : r;
}

/** s[i] = roundedSqrt(acc[i+1]) >> shift. */
export function filterbankSqrt(acc: Float64Array, numChannels: number, shift: number, out: Uint32Array): void {
  for (let i = 0; i < numChannels; i++) out[i] = roundedSqrt(acc[i + 1]!) >>> shift;
}

/**
 * MLTK's sample standardization (spec dataset.md §14 step 8; MLTK
 * `core/preprocess/utils/normalize.normalize`, called by the generator on every spectrogram
 * when the frontend is enabled), in float32 with numpy's semantics, bit for bit:
 *
 *   x = x.astype(float32)
 *   if rescale:                      x *= rescale
 *   if samplewise_center:            x -= np.mean(x, keepdims=True)
 *   if samplewise_std_normalization: x /= (np.std(x, keepdims=True) + 1e-6)
 *   if samplewise_normalize_range:   x = (hi - lo) * (x - np.min(x)) / np.ptp(x) + lo
 *   x = x.astype(dtype)
 *
 * - Every operation is a float32 operation (numpy casts the Python float operands to
 *   float32 first); here each is a double operation rounded with Math.fround, which gives
 *   the float32 result for +, -, *, / and sqrt (double has more than 2 * 24 + 2 bits).
 * - np.mean / np.std reduce with numpy's pairwise summation in float32 (`pairwiseSumF32`),
 *   then divide by n; std = sqrt(mean(abs(x - mean)**2)) in float32.
 * - `samplewise_std_normalization` switches `samplewise_center` on (MLTK's generator does,
 *   with a warning); `rescale` 0 or null means no rescaling (MLTK tests `if rescale:`).
 *
 * Where MLTK would produce NaN, a constant sample under `samplewise_normalize_range`
 * (np.ptp is 0: 0 / 0), this maps every value to `lo`: the sample's minimum goes to `lo`
 * as it does for any other sample, and no NaN is ever streamed.
 *
 * The output dtype: standardized values are fractions, so only float32 can carry them;
 * MLTK would cast them to uint16/int8 (truncating [0, 1] to all zeros, and leaving values
 * out of range to the C cast). The service refuses that combination (422) instead.
 */
import { Type, type Static } from 'typebox';
import { InvalidSettingsError } from '../errors.ts';

/**
 * Bound on |rescale| and on the range's ends. MLTK models use 1/255-like factors and [0, 1]
 * or [-1, 1] ranges; the bound keeps every float32 step finite for any spectrogram
 * (uint16 values × 1e9, squared and summed over a million cells, stay below float32's max).
 */
export const MAX_STANDARDIZE_MAGNITUDE = 1e9;

const Bounded = (description: string) =>
  Type.Number({ minimum: -MAX_STANDARDIZE_MAGNITUDE, maximum: MAX_STANDARDIZE_MAGNITUDE, description });

// Each setting declared once: the effective form below (responses, the Standardization
// type), and StandardizationFields, the same schemas optional (requests).
const Rescale = Type.Union([Bounded('MLTK rescale: multiply every feature value by this factor (0 or null: off); the first step'), Type.Null()]);
const SamplewiseCenter = Type.Boolean({ description: "MLTK samplewise_center: subtract each sample's mean (numpy float32)" });
const SamplewiseStdNormalization = Type.Boolean({
  description: 'MLTK samplewise_std_normalization: divide each sample by (its std + 1e-6); switches samplewise_center on',
});
const SamplewiseNormalizeRange = Type.Union([
  Type.Tuple([Bounded('lo'), Bounded('hi')], {
    description: "MLTK samplewise_normalize_range [lo, hi], lo < hi: map each sample's [min, max] onto it, after the other steps (a constant sample maps to lo)",
  }),
  Type.Null(),
]);

/** The effective settings (defaults filled in, samplewise_center switched on by samplewise_std_normalization). */
export const StandardizationSchema = Type.Object(
  {
    rescale: Rescale,
    samplewise_center: SamplewiseCenter,
    samplewise_std_normalization: SamplewiseStdNormalization,
    samplewise_normalize_range: SamplewiseNormalizeRange,
  },
  { additionalProperties: false },
);
export type Standardization = Static<typeof StandardizationSchema>;

/** The four MLTK generator settings as a request gives them (spread into the registration and features schemas). */
export const StandardizationFields = {
  rescale: Type.Optional(Rescale),
  samplewise_center: Type.Optional(SamplewiseCenter),
  samplewise_std_normalization: Type.Optional(SamplewiseStdNormalization),
  samplewise_normalize_range: Type.Optional(SamplewiseNormalizeRange),
};
const StandardizationSettingsSchema = Type.Object(StandardizationFields, { additionalProperties: false });
export type StandardizationSettings = Static<typeof StandardizationSettingsSchema>;

export const NO_STANDARDIZATION: Standardization = Object.freeze({
  rescale: null,
  samplewise_center: false,
  samplewise_std_normalization: false,
  samplewise_normalize_range: null,
}) as Standardization;

/** Defaults, MLTK's coupling, and the checks a schema cannot express; throws InvalidSettingsError (422). */
export function resolveStandardization(s: StandardizationSettings): Standardization {
  const range = s.samplewise_normalize_range ?? null;
  if (range !== null) {
    const [lo, hi] = range;
    if (!(lo < hi)) {
      throw new InvalidSettingsError(`samplewise_normalize_range [lo, hi] needs lo < hi, got [${lo}, ${hi}]`, {
        field: 'samplewise_normalize_range',
      });
    }
  }
  const std = s.samplewise_std_normalization ?? false;
  return {
    rescale: s.rescale ?? null,
    samplewise_center: (s.samplewise_center ?? false) || std,
    samplewise_std_normalization: std,
    samplewise_normalize_range: range === null ? null : [range[0], range[1]],
  };
}

/** Whether any step is on (MLTK's test: `rescale or samplewise_center or ...`). */
export function isStandardizing(s: Standardization): boolean {
  return Boolean(s.rescale) || s.samplewise_center || s.samplewise_std_normalization || s.samplewise_normalize_range !== null;
}

/**
 * Throws InvalidSettingsError unless standardized features can be delivered as `dtype` with
 * the frontend `frontendEnabled`: only float32 spectrograms (see the module comment).
 */
export function checkStandardizationTarget(s: Standardization, frontendEnabled: boolean, dtype: string): void {
  if (!isStandardizing(s)) return;
  if (!frontendEnabled) {
    throw new InvalidSettingsError(
      'rescale and the samplewise_* settings standardize spectrograms: with frontend_enabled = false MLTK does not apply them, so drop them',
      { field: 'frontend_enabled' },
    );
  }
  if (dtype !== 'float32') {
    throw new InvalidSettingsError(
      `standardized features are float32 values (rescale / samplewise_*); dtype ${dtype} would truncate them: use dtype float32 or drop the standardization`,
      { field: 'dtype' },
    );
  }
}

/** numpy's block size of pairwise summation (PW_BLOCKSIZE) and its unrolling (8 accumulators). */
const PW_BLOCKSIZE = 128;

/** numpy's `pairwise_sum` for float32 (loops_utils.h), over x[from .. from + n). */
function pairwiseF32(x: Float32Array, from: number, n: number): number {
  const f = Math.fround;
  if (n < 8) {
    let res = -0; // numpy starts at -0.0 so that a sum of -0.0 stays -0.0
    for (let i = 0; i < n; i++) res = f(res + x[from + i]!);
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = x[from]!, r1 = x[from + 1]!, r2 = x[from + 2]!, r3 = x[from + 3]!;
    let r4 = x[from + 4]!, r5 = x[from + 5]!, r6 = x[from + 6]!, r7 = x[from + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const a = from + i;
      r0 = f(r0 + x[a]!);
      r1 = f(r1 + x[a + 1]!);
      r2 = f(r2 + x[a + 2]!);
      r3 = f(r3 + x[a + 3]!);
      r4 = f(r4 + x[a + 4]!);
      r5 = f(r5 + x[a + 5]!);
      r6 = f(r6 + x[a + 6]!);
      r7 = f(r7 + x[a + 7]!);
    }
    let res = f(f(f(r0 + r1) + f(r2 + r3)) + f(f(r4 + r5) + f(r6 + r7)));
    for (; i < n; i++) res = f(res + x[from + i]!);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(pairwiseF32(x, from, n2) + pairwiseF32(x, from + n2, n - n2));
}

/**
 * np.add.reduce of a contiguous float32 array (what np.sum / np.mean / np.std sum with), in
 * float32: one pairwise sum over the whole array (a contiguous reduction that needs no cast
 * is one inner loop: no buffer chunks).
 */
export function pairwiseSumF32(x: Float32Array): number {
  return pairwiseF32(x, 0, x.length);
}

/** np.mean(x) of a float32 array: float32 sum / n, in float32. */
function meanF32(x: Float32Array): number {
  return Math.fround(pairwiseSumF32(x) / x.length);
}

/**
 * Standardizes one sample (its float32 feature values, in row-major order) in place, as
 * MLTK's normalize does. `scratch` (at least x.length) holds the squared deviations.
 */
export function standardizeSample(x: Float32Array, s: Standardization, scratch: Float32Array = new Float32Array(x.length)): Float32Array {
  const f = Math.fround;
  const n = x.length;
  if (n === 0) return x;
  if (s.rescale) {
    const r = f(s.rescale);
    for (let i = 0; i < n; i++) x[i] = x[i]! * r; // the Float32Array store rounds: f32(x * r)
  }
  if (s.samplewise_center || s.samplewise_std_normalization) {
    const mean = meanF32(x);
    for (let i = 0; i < n; i++) x[i] = x[i]! - mean;
  }
  if (s.samplewise_std_normalization) {
    // np.std: mean of the squared deviations from the mean (computed again, as numpy does).
    const mean = meanF32(x);
    const sq = scratch.length === n ? scratch : scratch.subarray(0, n);
    for (let i = 0; i < n; i++) {
      const d = f(x[i]! - mean);
      sq[i] = d * d;
    }
    const std = f(Math.sqrt(meanF32(sq)));
    const div = f(std + f(1e-6));
    for (let i = 0; i < n; i++) x[i] = x[i]! / div;
  }
  if (s.samplewise_normalize_range) {
    const [lo, hi] = s.samplewise_normalize_range;
    let mn = x[0]!;
    let mx = x[0]!;
    for (let i = 1; i < n; i++) {
      const v = x[i]!;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const ptp = f(mx - mn);
    const lower = f(lo);
    if (ptp === 0) {
      x.fill(lower); // MLTK: 0 / 0 = NaN; see the module comment
    } else {
      const diff = f(hi - lo);
      for (let i = 0; i < n; i++) x[i] = f(f(diff * f(x[i]! - mn)) / ptp) + lower;
    }
  }
  return x;
}

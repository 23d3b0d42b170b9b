/**
 * Applies a drawn transform to one clip (`apply_transform`, spec §14 step 4): time
 * stretch and pitch shift (one phase-vocoder pass, ../pitch.ts stretchAndShift), VTLP
 * (all at the file's rate), adjust length (resample, trim, pad/crop at the offset:
 * exactly `prepareSample`), x loudness, + noise clipped to the sample's own [min, max]
 * x (factor x loudness) (Q-16 copy: silence stays exact zeros), + a random crop of a
 * background-noise file x (factor x loudness).
 *
 * The background noise is cropped at `sample_rate_hz` as loaded; MLTK passes the
 * sample file's rate to its adjust-length, which resamples the (already resampled)
 * noise again whenever that rate differs.
 */
import { adjustLength } from '../adjust-length.ts';
import { prepareSample } from '../load.ts';
import { colouredNoise } from '../noise.ts';
import { stretchAndShift, vtlp } from '../pitch.ts';
import { trimBounds } from '../trim.ts';
import type { DecodedWav } from '../wav.ts';
import type { AugmentRng, TransformParams } from './draws.ts';

export interface TransformContext {
  sampleRateHz: number;
  sampleLengthMs: number;
  trimThresholdDb: number;
  /** Background noises at `sampleRateHz`, channel-averaged (loadBackgroundNoises). */
  bgNoises: Float32Array[];
  /** The sample's stream, positioned after drawTransformParams: noise and bg offset. */
  rng: AugmentRng;
  /**
   * Trim bounds of a background noise at a top_db (../trim.ts trimBounds by default); a
   * BackgroundNoiseCache remembers them (a 1-minute noise costs ~4 ms to trim).
   */
  bgTrimBounds?: (noise: Float32Array, topDb: number) => { start: number; end: number };
}

function bgCrop(noise: Float32Array, topDb: number | null, T: number, offset: number, bounds = trimBounds): Float32Array {
  let trimmed = noise;
  if (topDb !== null) {
    const b = bounds(noise, topDb);
    trimmed = noise.subarray(b.start, b.end);
  }
  return adjustLength(noise, trimmed, T, offset);
}

/**
 * Apply `params` to a decoded clip; returns exactly T = floor(ms * rate / 1000) samples.
 * With `defaultTransformParams()` the result is bit-identical to `prepareSample`.
 */
export function applyTransform(
  decoded: { samples: Float32Array; sampleRate: number },
  params: TransformParams,
  ctx: TransformContext,
): Float32Array {
  const rate = decoded.sampleRate;
  let x = decoded.samples;
  // Speed and pitch share one phase-vocoder pass (./pitch.ts stretchAndShift).
  const speed = params.speed === 0 ? 1 : params.speed;
  if (speed !== 1 || params.pitch !== 0) x = stretchAndShift(x, speed, params.pitch);
  if (params.vtlp !== 1 && params.vtlp !== 0) x = vtlp(x, rate, params.vtlp);

  const asWav: DecodedWav = { sampleRate: rate, channels: 1, bitsPerSample: 32, format: 'float', frames: x.length, samples: x };
  const y = prepareSample(asWav, {
    sampleRateHz: ctx.sampleRateHz,
    sampleLengthMs: ctx.sampleLengthMs,
    trimThresholdDb: ctx.trimThresholdDb,
    offset: params.offset,
  });
  const T = y.length;

  // numpy: float32 array * Python float -> the scalar is cast to float32 first.
  const loud = Math.fround(params.loudness);
  if (params.loudness !== 1) {
    for (let i = 0; i < T; i++) y[i] = y[i]! * loud;
  }

  if (params.noiseColor !== null && params.noiseFactor > 0) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < T; i++) {
      const v = y[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const noise = colouredNoise(params.noiseColor, T, ctx.rng);
    const g = Math.fround(params.noiseFactor * params.loudness);
    for (let i = 0; i < T; i++) {
      // Clipping to the sample's own range (Q-16 copy): silence gets no noise at all.
      const n = noise[i]! < lo ? lo : noise[i]! > hi ? hi : noise[i]!;
      y[i] = y[i]! + Math.fround(n * g);
    }
  }

  if (params.bgNoise !== null && params.bgFactor > 0) {
    const noise = ctx.bgNoises[params.bgNoise];
    if (noise === undefined) {
      throw new RangeError(`background noise index ${params.bgNoise} is out of range (${ctx.bgNoises.length} loaded)`);
    }
    const offset = ctx.rng.uniform(0, 1);
    const topDb = ctx.trimThresholdDb === 0 ? null : Math.trunc(ctx.trimThresholdDb);
    const crop = bgCrop(noise, topDb, T, offset, ctx.bgTrimBounds);
    const g = Math.fround(params.bgFactor * params.loudness);
    for (let i = 0; i < T; i++) y[i] = y[i]! + Math.fround(crop[i]! * g);
  }
  return y;
}


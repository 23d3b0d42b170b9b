/**
 * Applies a drawn transform to one clip (`apply_transform`, spec §14 step 4): time
 * stretch and pitch shift (one phase-vocoder pass, ../pitch.ts stretchAndShift), VTLP
 * (all at the file's rate), adjust length (resample, trim, pad/crop at the offset:
 * load.ts's prepareResolved, with detmath's log10 in the trim), x loudness, + colour noise
 * x (factor x loudness) (MLTK's levels by default, clipped to the sample's own [min, max]:
 * silence stays exact zeros, Q-16 copy), + a crop of a background-noise file x
 * (factor x loudness).
 *
 * This is the reference the native pipeline (native/augment.cc) reproduces bit for bit:
 * every transcendental comes from ../../math/detmath.ts, every random number is drawn up
 * front (./draws.ts), and float32 roundings happen where numpy's would.
 *
 * The background noise is cropped at `sample_rate_hz` as loaded; MLTK passes the
 * sample file's rate to its adjust-length, which resamples the (already resampled)
 * noise again whenever that rate differs.
 */
import { log10 } from '../../math/detmath.ts';
import { adjustLength } from '../adjust-length.ts';
import { prepareResolved, resolveLoadOptions } from '../load.ts';
import { mltkColourNoise, peakColourNoise, type NoiseColorLevel } from '../noise.ts';
import { stretchAndShift, vtlp } from '../pitch.ts';
import { trimBounds } from '../trim.ts';
import { addsColourNoise, mixesBackgroundNoise, type TransformParams } from './draws.ts';

export interface TransformContext {
  sampleRateHz: number;
  sampleLengthMs: number;
  trimThresholdDb: number;
  /** `noise_color_level`: MLTK's levels (default) or every colour at peak 1. */
  noiseLevel?: NoiseColorLevel;
  /** Background noises at `sampleRateHz`, channel-averaged (loadBackgroundNoises). */
  bgNoises: Float32Array[];
  /**
   * Trim bounds of a background noise at a top_db (../trim.ts trimBounds by default); a
   * BackgroundNoiseCache remembers them (a 1-minute noise costs ~4 ms to trim).
   */
  bgTrimBounds?: (noise: Float32Array, topDb: number) => { start: number; end: number };
}

/**
 * The T samples of background noise `params` mixes in (a crop of the chosen file at
 * params.bgOffset, trimmed as MLTK's adjust-length does), or null when none is mixed.
 * It depends on the clip only through T, so the native pipeline gets it precomputed.
 */
export function backgroundNoiseCrop(params: TransformParams, ctx: TransformContext, T: number): Float32Array | null {
  if (!mixesBackgroundNoise(params)) return null;
  const noise = ctx.bgNoises[params.bgNoise!];
  if (noise === undefined) {
    throw new RangeError(`background noise index ${params.bgNoise} is out of range (${ctx.bgNoises.length} loaded)`);
  }
  if (params.bgOffset === null) throw new RangeError('background noise drawn without its crop offset (bgOffset)');
  let trimmed = noise;
  if (ctx.trimThresholdDb !== 0) {
    const b = (ctx.bgTrimBounds ?? trimBounds)(noise, Math.trunc(ctx.trimThresholdDb));
    trimmed = noise.subarray(b.start, b.end);
  }
  return adjustLength(noise, trimmed, T, params.bgOffset);
}

/**
 * Apply `params` to a decoded clip; returns exactly T = floor(ms * rate / 1000) samples.
 * `bgCrop` is backgroundNoiseCrop's result (computed here when not given).
 */
export function applyTransform(
  decoded: { samples: Float32Array; sampleRate: number },
  params: TransformParams,
  ctx: TransformContext,
  bgCrop?: Float32Array | null,
): Float32Array {
  const rate = decoded.sampleRate;
  const r = resolveLoadOptions({
    sampleRateHz: ctx.sampleRateHz,
    sampleLengthMs: ctx.sampleLengthMs,
    trimThresholdDb: ctx.trimThresholdDb,
    offset: params.offset,
  });
  let x = decoded.samples;
  // Speed and pitch share one phase-vocoder pass (../pitch.ts stretchAndShift).
  const speed = params.speed === 0 ? 1 : params.speed;
  if (speed !== 1 || params.pitch !== 0) x = stretchAndShift(x, speed, params.pitch);
  if (params.vtlp !== 1 && params.vtlp !== 0) x = vtlp(x, rate, params.vtlp);
  const y = prepareResolved(x, rate, r, log10); // always a new array
  const T = y.length;

  // numpy: float32 array * Python float -> the scalar is cast to float32 first.
  const loud = Math.fround(params.loudness);
  if (params.loudness !== 1) {
    for (let i = 0; i < T; i++) y[i] = y[i]! * loud;
  }

  if (addsColourNoise(params)) {
    if (params.noiseSeed === null) throw new RangeError('colour noise drawn without its seed (noiseSeed)');
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < T; i++) {
      const v = y[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const g = Math.fround(params.noiseFactor * params.loudness);
    if ((ctx.noiseLevel ?? 'mltk') === 'mltk') {
      // Clipped (and scaled per colour) inside, as MLTK's _get_color_noise does.
      const noise = mltkColourNoise(params.noiseColor!, T, lo, hi, params.noiseSeed);
      for (let i = 0; i < T; i++) y[i] = y[i]! + Math.fround(noise[i]! * g);
    } else {
      const noise = peakColourNoise(params.noiseColor!, T, params.noiseSeed);
      for (let i = 0; i < T; i++) {
        // Clipping to the sample's own range (Q-16 copy): silence gets no noise at all.
        const n = noise[i]! < lo ? lo : noise[i]! > hi ? hi : noise[i]!;
        y[i] = y[i]! + Math.fround(n * g);
      }
    }
  }

  const crop = bgCrop === undefined ? backgroundNoiseCrop(params, ctx, T) : bgCrop;
  if (crop !== null && mixesBackgroundNoise(params)) {
    const g = Math.fround(params.bgFactor * params.loudness);
    for (let i = 0; i < T; i++) y[i] = y[i]! + Math.fround(crop[i]! * g);
  }
  return y;
}

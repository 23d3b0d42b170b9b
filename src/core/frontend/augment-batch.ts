/**
 * Augmented features of a batch in one call (spec §14 steps 4–6): each clip decoded,
 * transformed with its drawn parameters (../audio/augment: stretch, pitch, VTLP, resample,
 * trim, crop/pad at the offset, loudness, coloured and background noise), converted to
 * int16 and run through the frontend, one row per clip (float32 audio rows when the
 * frontend is off).
 *
 * Two implementations with the same signature and the same bytes
 * (test/audio/augment-native-parity.test.ts):
 * - `augmentBatchTs`: the TypeScript pipeline (applyTransform, toInt16, the TypeScript
 *   Frontend), clip by clip, yielding to the event loop between clips. The reference.
 * - `augmentBatchNative`: one addon call (augmentBatch, native/augment.cc) for the whole
 *   batch on the thread pool. The TypeScript side draws nothing and transforms nothing:
 *   the parameters (every random number included) and the background-noise crops are
 *   computed before the call and passed in. 16-bit PCM WAVs are decoded natively; other
 *   encodings are decoded here and passed as samples. A clip the addon leaves (a layout it
 *   does not take, a resampling its bounds refuse) runs through the TypeScript pipeline,
 *   which computes the same bytes or throws the error every backend reports for it.
 *
 * Like wav-batch.ts it lives in src/core/frontend because both frontend backends
 * implement it; the dependency stays one-way (frontend -> audio).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  addsColourNoise,
  applyTransform,
  backgroundNoiseCrop,
  mixesBackgroundNoise,
  NOISE_COLORS,
  type NoiseColorLevel,
  type TransformContext,
  type TransformParams,
} from '../audio/augment/index.ts';
import { resolveLoadOptions } from '../audio/load.ts';
import { toInt16 } from '../audio/pcm.ts';
import { decodeWav, inspectWav } from '../audio/wav.ts';
import { Frontend } from './frontend.ts';
import { AUGMENT_CLIP_NATIVE, type NativeFrontend } from './native.ts';
import { frontendSizes, resolveFrontendSettings, type FrontendSettings } from './settings.ts';
import type { WavBatchFailure, WavBatchResult } from './wav-batch.ts';

/** MLTK's silence entry: 16000 zeros declared as 16 kHz, before any transform. */
const SILENCE_SAMPLES = 16000;
const SILENCE_RATE = 16000;

export interface AugmentClip {
  /**
   * WAV file bytes; decoded samples (first channel, any rate); null for a silence entry;
   * undefined for a clip the caller could not read (its row stays zeros and no failure is
   * reported: the caller has its own reason).
   */
  audio: Uint8Array | { samples: Float32Array; sampleRate: number } | null | undefined;
  /** The clip's drawn transform (../audio/augment/draws.ts drawTransformParams). */
  params: TransformParams;
  /** The file, named in decode errors. */
  file?: string;
}

export interface AugmentBatchJob {
  settings: FrontendSettings;
  /** false: rows are the float32 audio (sample_length values), not features. */
  frontendEnabled: boolean;
  trimThresholdDb: number;
  noiseLevel: NoiseColorLevel;
  /** Background noises at settings.sample_rate_hz (BackgroundNoiseCache.load). */
  bgNoises: Float32Array[];
  bgTrimBounds?: TransformContext['bgTrimBounds'];
}

export interface AugmentBatchOptions {
  /** Most pool threads the native path uses (default: one per core, at most UV_THREADPOOL_SIZE). */
  threads?: number;
}

/** The numbers of one clip's params, in native/augment.h ClipParams order. */
export const AUGMENT_PARAM_COUNT = 12;

/** Clips run between yields on the TypeScript path. */
const TS_CLIPS_PER_TURN = 4;

function contextOf(job: AugmentBatchJob): TransformContext {
  return {
    sampleRateHz: job.settings.sample_rate_hz,
    sampleLengthMs: job.settings.sample_length_ms,
    trimThresholdDb: job.trimThresholdDb,
    noiseLevel: job.noiseLevel,
    bgNoises: job.bgNoises,
    ...(job.bgTrimBounds ? { bgTrimBounds: job.bgTrimBounds } : {}),
  };
}

/** Values per row: height*width features, or the T audio samples. */
function rowLength(job: AugmentBatchJob): number {
  const z = frontendSizes(job.settings);
  return job.frontendEnabled ? z.height * z.width : z.sampleLength;
}

function checkOut(job: AugmentBatchJob, clips: number, out: Uint16Array | Float32Array): number {
  const row = rowLength(job);
  if (job.frontendEnabled ? !(out instanceof Uint16Array) : !(out instanceof Float32Array)) {
    throw new TypeError(`out must be a ${job.frontendEnabled ? 'Uint16Array (features)' : 'Float32Array (audio)'}`);
  }
  if (out.length !== clips * row) throw new RangeError(`out has ${out.length} values; ${clips} clips need ${clips * row}`);
  return row;
}

function decoded(clip: AugmentClip): { samples: Float32Array; sampleRate: number } {
  const a = clip.audio;
  if (a === null) return { samples: new Float32Array(SILENCE_SAMPLES), sampleRate: SILENCE_RATE };
  if (a instanceof Uint8Array) return decodeWav(a, clip.file);
  return a!;
}

/** One clip through the TypeScript pipeline: its audio row (T samples). */
function transformClip(clip: AugmentClip, ctx: TransformContext): Float32Array {
  return applyTransform(decoded(clip), clip.params, ctx);
}

/** The TypeScript pipeline; `frontend` may supply a prebuilt Frontend for these settings. */
export async function augmentBatchTs(
  job: AugmentBatchJob,
  clips: readonly AugmentClip[],
  out: Uint16Array | Float32Array,
  options?: { frontend?: Frontend },
): Promise<WavBatchResult> {
  const settings = resolveFrontendSettings(job.settings);
  const row = checkOut(job, clips.length, out);
  const fe = job.frontendEnabled ? (options?.frontend ?? new Frontend(settings)) : null;
  const ctx = contextOf({ ...job, settings });
  const failures: WavBatchFailure[] = [];
  const viaTypeScript: number[] = [];
  for (let i = 0; i < clips.length; i++) {
    if (i > 0 && i % TS_CLIPS_PER_TURN === 0) await yieldToEventLoop();
    out.fill(0, i * row, (i + 1) * row);
    if (clips[i]!.audio === undefined) continue;
    viaTypeScript.push(i);
    try {
      const audio = transformClip(clips[i]!, ctx);
      out.set(fe ? fe.process(toInt16(audio)).uint16 : audio, i * row);
    } catch (error) {
      failures.push({ index: i, error });
    }
  }
  return { failures, viaTypeScript };
}

/** The params as native/augment.h reads them. */
function packParams(p: TransformParams, into: Float64Array, at: number): void {
  const colour = addsColourNoise(p) ? NOISE_COLORS.indexOf(p.noiseColor!) : -1;
  const seed = colour >= 0 ? p.noiseSeed! : [0, 0, 0, 0];
  into.set([p.offset, p.loudness, colour, p.noiseFactor, p.bgFactor, p.speed, p.pitch, p.vtlp, seed[0]!, seed[1]!, seed[2]!, seed[3]!], at);
}

const NO_BYTES = new Uint8Array(0);

/**
 * Whether the addon takes these params (native/augment.cc ReadClipParams checks the same
 * domains): drawTransformParams always gives such params; anything else goes to the
 * TypeScript pipeline, which computes it or names the problem.
 */
function nativeTakes(p: TransformParams): boolean {
  const nums = [p.offset, p.loudness, p.noiseFactor, p.bgFactor, p.speed, p.pitch, p.vtlp];
  if (!nums.every(Number.isFinite)) return false;
  if (!(p.offset >= 0 && p.offset <= 1) || !(p.speed >= 0) || !(p.vtlp >= 0) || !Number.isInteger(p.pitch) || Math.abs(p.pitch) > 96) return false;
  if (addsColourNoise(p)) {
    const s = p.noiseSeed;
    if (s === null || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) return false;
  }
  return true;
}

/** The native pipeline, with the TypeScript one for the clips the addon leaves. */
export async function augmentBatchNative(
  native: NativeFrontend,
  job: AugmentBatchJob,
  clips: readonly AugmentClip[],
  out: Uint16Array | Float32Array,
  options?: AugmentBatchOptions,
): Promise<WavBatchResult> {
  const settings = resolveFrontendSettings(job.settings);
  const row = checkOut(job, clips.length, out);
  let topDb: number | null;
  try {
    ({ topDb } = resolveLoadOptions({ sampleRateHz: settings.sample_rate_hz, sampleLengthMs: settings.sample_length_ms, trimThresholdDb: job.trimThresholdDb }));
  } catch {
    // Invalid load options fail every clip, with the TypeScript pipeline's error.
    return augmentBatchTs({ ...job, settings }, clips, out);
  }
  const ctx = contextOf({ ...job, settings });
  const T = frontendSizes(settings).sampleLength;
  const n = clips.length;
  const failures: WavBatchFailure[] = [];
  const failed = new Set<number>();
  const inputs: (Uint8Array | Float32Array | null)[] = new Array(n);
  const rates = new Float64Array(n);
  const params = new Float64Array(n * AUGMENT_PARAM_COUNT);
  const crops: (Float32Array | null)[] = new Array(n).fill(null);
  for (let i = 0; i < n; i++) {
    const clip = clips[i]!;
    inputs[i] = NO_BYTES; // left to the TypeScript side (or skipped) unless set below
    if (clip.audio === undefined || !nativeTakes(clip.params)) continue;
    packParams(clip.params, params, i * AUGMENT_PARAM_COUNT);
    try {
      const a = clip.audio;
      if (a === null) {
        inputs[i] = null;
      } else if (a instanceof Uint8Array) {
        const info = inspectWav(a, clip.file);
        if (info.format === 'pcm' && info.bitsPerSample === 16) {
          inputs[i] = a; // decoded natively
        } else {
          const d = decodeWav(a, clip.file);
          inputs[i] = d.samples;
          rates[i] = d.sampleRate;
        }
      } else {
        inputs[i] = a.samples;
        rates[i] = a.sampleRate;
      }
      if (mixesBackgroundNoise(clip.params)) crops[i] = backgroundNoiseCrop(clip.params, ctx, T);
    } catch (error) {
      inputs[i] = NO_BYTES;
      failures.push({ index: i, error });
      failed.add(i);
    }
  }
  const status = await native.addon.augmentBatch(
    job.frontendEnabled ? settings : null,
    { sampleRateHz: settings.sample_rate_hz, sampleLength: T, topDb, noiseLevel: job.noiseLevel },
    inputs,
    rates,
    params,
    crops,
    out,
    options?.threads === undefined ? {} : { threads: options.threads },
  );

  const viaTypeScript: number[] = [];
  const pending: Int16Array[] = [];
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (status[i] === AUGMENT_CLIP_NATIVE || clips[i]!.audio === undefined || failed.has(i)) continue;
    if (viaTypeScript.length > 0) await yieldToEventLoop(); // a long clip takes milliseconds
    viaTypeScript.push(i);
    try {
      const audio = transformClip(clips[i]!, ctx);
      if (job.frontendEnabled) {
        pending.push(toInt16(audio));
        rows.push(i);
      } else {
        out.set(audio, i * row);
      }
    } catch (error) {
      failures.push({ index: i, error }); // its row is already zeros
    }
  }
  if (pending.length > 0) {
    const r = await native.processBatch(settings, pending, options?.threads === undefined ? {} : { threads: options.threads });
    r.uint16.forEach((u, k) => out.set(u, rows[k]! * row));
  }
  failures.sort((a, b) => a.index - b.index);
  return { failures, viaTypeScript };
}

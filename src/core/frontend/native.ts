/**
 * Typed wrapper for the frontend exports of the native (C++ N-API) addon built by
 * `npm run build:native` (loaded by src/core/native/addon.ts). The addon is
 * optional: when it is absent or cannot be loaded, `loadNativeFrontend()`
 * returns null and callers fall back to the TypeScript twin.
 */
import { loadNativeAddon, nativeAddonUnavailableReason } from '../native/addon.ts';
import { resolveFrontendSettings, type FrontendSettings } from './settings.ts';

export interface RawBatchResult {
  /** All clips' spectrograms concatenated, height*width values each. */
  uint16: Uint16Array;
  /** One activity flag (0/1) per clip. */
  activity: Uint8Array;
  height: number;
  width: number;
}

export interface RawSyncResult {
  uint16: Uint16Array;
  activity: boolean;
  height: number;
  width: number;
}

export interface RawBatchOptions {
  /**
   * Most pool threads that work on this call at once (default: one per core, at
   * most the libuv pool size, UV_THREADPOOL_SIZE). Work items claim clips one at
   * a time, so a thread that gets less CPU does fewer clips.
   */
  threads?: number;
}

/**
 * Per-clip outcome of the addon's featurizeWav (its ClipStatus): computed natively,
 * or left to the TypeScript pipeline (row all zeros) because the file is not 16-bit
 * PCM at the target rate (or is malformed), or because a trim frame lies within
 * 1e-9 dB of the threshold, where C's log10 and V8's Math.log10 could disagree.
 */
export const WAV_CLIP_NATIVE = 0;
export const WAV_CLIP_FALLBACK_FORMAT = 1;
export const WAV_CLIP_FALLBACK_TRIM = 2;

/** Per-clip outcome of the addon's augmentBatch: computed natively, or left to the TypeScript twin. */
export const AUGMENT_CLIP_NATIVE = 0;
export const AUGMENT_CLIP_FALLBACK = 1;

/**
 * The addon's own exports. Settings are MLTK-named fields; missing fields take
 * the MLTK defaults. The addon validates for memory safety and names the
 * offending setting in its errors; batch errors arrive as rejections.
 */
export interface RawFrontendAddon {
  processSync(settings: Partial<FrontendSettings>, clip: Int16Array): RawSyncResult;
  processBatch(settings: Partial<FrontendSettings>, clips: Int16Array[], options?: RawBatchOptions): Promise<RawBatchResult>;
  processBatch(
    settings: Partial<FrontendSettings>,
    clips: Int16Array[],
    callback: (err: Error | null, result?: RawBatchResult) => void,
  ): undefined;
  processBatch(
    settings: Partial<FrontendSettings>,
    clips: Int16Array[],
    options: RawBatchOptions,
    callback: (err: Error | null, result?: RawBatchResult) => void,
  ): undefined;
  /**
   * WAV file bytes -> first channel -> trim (librosa top_db, or none when null) ->
   * pad/crop to sample_length (offset 0) -> int16 -> frontend, for every clip that
   * is 16-bit PCM at sample_rate_hz, on the thread pool. Writes one height*width
   * row per clip into `out` (length wavs.length * height * width) at completion;
   * rows of clips it did not compute are zeros. Resolves with one status per clip
   * (WAV_CLIP_*).
   */
  featurizeWav(
    settings: Partial<FrontendSettings>,
    topDb: number | null,
    wavs: Uint8Array[],
    out: Uint16Array,
    options?: RawBatchOptions,
  ): Promise<Uint8Array>;
  shape(settings: Partial<FrontendSettings>): { height: number; width: number; sampleLength: number; fftSize: number };
  /**
   * The augmentation pipeline (native/augment.cc, the twin of src/core/audio/augment/
   * transforms.ts) for a batch, on the thread pool: clips[i] is WAV bytes (16-bit PCM is
   * decoded natively), float samples at rates[i] Hz, or null (MLTK's silence entry);
   * params holds AUGMENT_PARAM_COUNT numbers per clip (augment-batch.ts); crops[i] the
   * background noise to add (sampleLength values) or null. Writes one row per clip into
   * `out` (uint16 features with settings, float32 audio with settings null) and resolves
   * with a status per clip (AUGMENT_CLIP_*); rows of clips not computed are zeros.
   */
  augmentBatch(
    settings: Partial<FrontendSettings> | null,
    job: { sampleRateHz: number; sampleLength: number; topDb: number | null; noiseLevel: 'mltk' | 'peak' },
    clips: (Uint8Array | Float32Array | null)[],
    rates: Float64Array,
    params: Float64Array,
    crops: (Float32Array | null)[],
    out: Uint16Array | Float32Array,
    options?: RawBatchOptions,
  ): Promise<Uint8Array>;
  /**
   * One stage of the native augmentation pipeline, synchronously (for the parity tests):
   * rfft, irfft, timeStretch, stretchAndShift, resampleRatio, vtlp, mltkNoise, peakNoise, trim.
   */
  augmentStage(name: string, input: Float32Array, args: number[]): Float32Array | Float64Array;
  /** native/detmath.cc's function `name` over `xs` (the twin of src/core/math/detmath.ts; for its parity test). */
  detmath(name: 'sin' | 'cos' | 'exp' | 'exp2' | 'log' | 'log10', xs: Float64Array): Float64Array;
}

export interface NativeBatchResult {
  /** One height*width spectrogram per clip (subarrays of one buffer). */
  uint16: Uint16Array[];
  activity: boolean[];
  height: number;
  width: number;
}

export class NativeFrontend {
  readonly addon: RawFrontendAddon;

  constructor(addon: RawFrontendAddon) {
    this.addon = addon;
  }

  /**
   * Spectrograms of many clips, computed on the libuv thread pool (split over
   * several work items). Settings are resolved and validated with the same
   * rules as the TypeScript frontend first, so both backends reject alike
   * (FrontendSettingsError).
   */
  async processBatch(settings: FrontendSettings, clips: Int16Array[], options: RawBatchOptions = {}): Promise<NativeBatchResult> {
    const resolved = resolveFrontendSettings(settings);
    const raw = await this.addon.processBatch(resolved, clips, options);
    const size = raw.height * raw.width;
    const uint16: Uint16Array[] = [];
    const activity: boolean[] = [];
    for (let i = 0; i < raw.activity.length; i++) {
      uint16.push(raw.uint16.subarray(i * size, (i + 1) * size));
      activity.push(raw.activity[i] === 1);
    }
    return { uint16, activity, height: raw.height, width: raw.width };
  }

  /**
   * The native part of the whole-clip pipeline (see RawFrontendAddon.featurizeWav);
   * src/frontend/wav-batch.ts adds the TypeScript fallback. Settings are resolved
   * and validated with the TypeScript rules first.
   */
  featurizeWav(
    settings: FrontendSettings,
    topDb: number | null,
    wavs: Uint8Array[],
    out: Uint16Array,
    options: RawBatchOptions = {},
  ): Promise<Uint8Array> {
    return this.addon.featurizeWav(resolveFrontendSettings(settings), topDb, wavs, out, options);
  }

  /** One clip, synchronously on the calling thread. */
  processSync(settings: FrontendSettings, clip: Int16Array): RawSyncResult {
    return this.addon.processSync(resolveFrontendSettings(settings), clip);
  }
}

let cached: NativeFrontend | null | undefined;

/** The native frontend, or null when the addon is not built or does not load. Loaded once. */
export function loadNativeFrontend(): NativeFrontend | null {
  if (cached === undefined) {
    const addon = loadNativeAddon();
    cached = addon === null ? null : new NativeFrontend(addon as RawFrontendAddon);
  }
  return cached;
}

/** Why `loadNativeFrontend()` returned null ('' when it loaded). */
export function nativeFrontendUnavailableReason(): string {
  return nativeAddonUnavailableReason();
}

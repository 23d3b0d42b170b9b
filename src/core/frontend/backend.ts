/**
 * Chooses between the native addon and the TypeScript twin. Both are bit-exact
 * (test/frontend/parity.test.ts), so the choice only affects speed.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Frontend } from './frontend.ts';
import { loadNativeFrontend, nativeFrontendUnavailableReason, type NativeFrontend } from './native.ts';
import { resolveFrontendSettings, settingsHash, type FrontendSettings } from './settings.ts';
import { augmentBatchNative, augmentBatchTs, type AugmentBatchJob, type AugmentBatchOptions, type AugmentClip } from './augment-batch.ts';
import {
  featurizeWavBatchNative,
  featurizeWavBatchTs,
  type WavBatchInput,
  type WavBatchOptions,
  type WavBatchResult,
} from './wav-batch.ts';

export interface FrontendBackend {
  readonly name: 'native' | 'typescript';
  /** One row-major height*width uint16 spectrogram per clip, in order. */
  process(settings: FrontendSettings, clips: Int16Array[]): Promise<Uint16Array[]>;
  /**
   * The whole per-clip pipeline (WAV bytes -> uint16 rows into `out`, clip i at row i)
   * with loadSample's decode/resample/trim/pad semantics (offset 0); see wav-batch.ts.
   */
  featurizeWavs(
    settings: FrontendSettings,
    trimThresholdDb: number,
    wavs: readonly WavBatchInput[],
    out: Uint16Array,
    options?: WavBatchOptions,
  ): Promise<WavBatchResult>;
  /**
   * Augmented rows of a batch (see augment-batch.ts): clip i transformed with its drawn
   * params, then features (uint16, job.frontendEnabled) or audio (float32) into row i of
   * `out`. Both backends give the same bytes and the same failures.
   */
  augmentBatch(job: AugmentBatchJob, clips: readonly AugmentClip[], out: Uint16Array | Float32Array, options?: AugmentBatchOptions): Promise<WavBatchResult>;
  /** One clip, with the activity detector's verdict (activity_detection_enable). */
  processClip(settings: FrontendSettings, clip: Int16Array): Promise<ClipSpectrogram>;
}

export interface ClipSpectrogram {
  uint16: Uint16Array;
  /** Whether the activity detector tripped (false when it is not enabled). */
  activity: boolean;
}

export type FrontendBackendPreference = 'auto' | 'native' | 'typescript';

class NativeBackend implements FrontendBackend {
  readonly name = 'native';
  private readonly native: NativeFrontend;

  constructor(native: NativeFrontend) {
    this.native = native;
  }

  async process(settings: FrontendSettings, clips: Int16Array[]): Promise<Uint16Array[]> {
    return (await this.native.processBatch(settings, clips)).uint16;
  }

  async processClip(settings: FrontendSettings, clip: Int16Array): Promise<ClipSpectrogram> {
    const r = this.native.processSync(settings, clip);
    return { uint16: r.uint16, activity: r.activity };
  }

  featurizeWavs(
    settings: FrontendSettings,
    trimThresholdDb: number,
    wavs: readonly WavBatchInput[],
    out: Uint16Array,
    options?: WavBatchOptions,
  ): Promise<WavBatchResult> {
    return featurizeWavBatchNative(this.native, settings, trimThresholdDb, wavs, out, options);
  }

  augmentBatch(job: AugmentBatchJob, clips: readonly AugmentClip[], out: Uint16Array | Float32Array, options?: AugmentBatchOptions): Promise<WavBatchResult> {
    return augmentBatchNative(this.native, job, clips, out, options);
  }
}

/** Table construction is the costly part of a Frontend, so instances are kept per settings hash. */
const TS_CACHE_CAPACITY = 16;
/** Clips processed between yields, so a large batch does not starve the event loop. */
const TS_CLIPS_PER_TURN = 8;

export class TypeScriptBackend implements FrontendBackend {
  readonly name = 'typescript';
  private readonly frontends = new Map<string, Frontend>();

  frontendFor(settings: FrontendSettings): Frontend {
    const key = settingsHash(settings);
    let fe = this.frontends.get(key);
    if (fe === undefined) {
      fe = new Frontend(resolveFrontendSettings(settings));
      if (this.frontends.size >= TS_CACHE_CAPACITY) {
        this.frontends.delete(this.frontends.keys().next().value as string);
      }
    } else {
      this.frontends.delete(key); // re-inserted below: most recently used last
    }
    this.frontends.set(key, fe);
    return fe;
  }

  async process(settings: FrontendSettings, clips: Int16Array[]): Promise<Uint16Array[]> {
    const fe = this.frontendFor(settings);
    const out: Uint16Array[] = [];
    for (let i = 0; i < clips.length; i++) {
      if (i > 0 && i % TS_CLIPS_PER_TURN === 0) await yieldToEventLoop();
      out.push(fe.process(clips[i]!).uint16);
    }
    return out;
  }

  async processClip(settings: FrontendSettings, clip: Int16Array): Promise<ClipSpectrogram> {
    const r = this.frontendFor(settings).process(clip);
    return { uint16: r.uint16, activity: r.activityDetected };
  }

  async featurizeWavs(
    settings: FrontendSettings,
    trimThresholdDb: number,
    wavs: readonly WavBatchInput[],
    out: Uint16Array,
    options?: WavBatchOptions,
  ): Promise<WavBatchResult> {
    return featurizeWavBatchTs(settings, trimThresholdDb, wavs, out, { ...options, frontend: this.frontendFor(settings) });
  }

  async augmentBatch(job: AugmentBatchJob, clips: readonly AugmentClip[], out: Uint16Array | Float32Array): Promise<WavBatchResult> {
    return augmentBatchTs(job, clips, out, job.frontendEnabled ? { frontend: this.frontendFor(job.settings) } : {});
  }
}

/**
 * 'auto' uses the native addon when it loads, else the TypeScript frontend
 * (logging one line that says how to build the addon); 'native' throws when
 * the addon is unavailable; 'typescript' never touches the addon.
 */
export function selectFrontendBackend(
  preference: FrontendBackendPreference,
  log: (msg: string) => void = (msg) => console.warn(msg),
): FrontendBackend {
  if (preference === 'typescript') return new TypeScriptBackend();
  const native = loadNativeFrontend();
  if (native !== null) return new NativeBackend(native);
  const reason = nativeFrontendUnavailableReason();
  if (preference === 'native') {
    throw new Error(
      `native frontend requested but the addon is not available (${reason}): build it with \`npm run build:native\` ` +
        'or choose the typescript frontend',
    );
  }
  log(
    `audiofeed: native frontend addon missing (${reason}); using the slower TypeScript frontend. ` +
      'Build the addon with `npm run build:native`.',
  );
  return new TypeScriptBackend();
}

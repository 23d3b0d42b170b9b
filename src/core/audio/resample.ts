/**
 * Sample-rate conversion: what MLTK gets from `librosa.resample(y, orig_sr, target_sr)`,
 * whose default in librosa >= 0.10 is `res_type='soxr_hq'`, i.e. python-soxr's
 * `soxr.resample(y, orig_sr, target_sr, quality='soxr_hq')` (libsoxr 0.1.3, HQ recipe,
 * float32), then `fix_length` to ceil(n * target / orig) samples.
 *
 * The numbers come from libsoxr itself, linked into the native addon
 * (native/resample_soxr.cc: Debian's libsoxr fed exactly as python-soxr feeds it, which
 * makes the output bit-identical to python's). There is deliberately no TypeScript
 * resampler: soxr's multi-stage FFT design would have to be ported line by line to give
 * the same bits, and an approximation would serve different features than MLTK without
 * saying so. When the addon is missing or was built without libsoxr, `resample` throws
 * ResamplerUnavailableError (naming the library) for any clip whose rate differs from the
 * target; clips at the target rate never need it.
 *
 * Bounds, checked before any work (the same constants as native/resample_soxr.h; the
 * addon exports its own and test/audio/resample-soxr.test.ts holds them equal): rates
 * below MIN_RESAMPLE_RATE_HZ are refused (`sample-rate-too-low`: a header claiming 1 Hz
 * would make 16,000 output samples of every input sample), and so are resamplings of more
 * than MAX_RESAMPLE_INPUT_SAMPLES in or MAX_RESAMPLE_OUTPUT_SAMPLES out
 * (`resample-too-large`): soxr's cost is about linear in both.
 */
import { ResamplerUnavailableError, WavDecodeError } from '../errors.ts';
import { loadNativeAddon, nativeAddonUnavailableReason } from '../native/addon.ts';

/** Lowest rate (Hz) resampled from or to: telephony's 8 kHz is the lowest real recording rate. */
export const MIN_RESAMPLE_RATE_HZ = 1000;
/** Most input samples one resampling takes (~23 min at 48 kHz). */
export const MAX_RESAMPLE_INPUT_SAMPLES = 64 * 1024 * 1024;
/** Most output samples one resampling makes (~70 min at 16 kHz, 256 MiB of float32). */
export const MAX_RESAMPLE_OUTPUT_SAMPLES = 64 * 1024 * 1024;

/** The addon's resampler exports (native/addon.cc). */
export interface RawResamplerAddon {
  /** ResampleSoxrHQ; throws an Error with code ERR_RESAMPLE and a `reason`. */
  resample(samples: Float32Array, fromHz: number, toHz: number): Float32Array;
  /** The linked libsoxr's version, or null when the addon was built without it. */
  soxrVersion: string | null;
  resampleLimits: { minRateHz: number; maxInputSamples: number; maxOutputSamples: number };
}

export interface ResamplerStatus {
  /** 'soxr' when clips at other rates can be resampled, else null. */
  engine: 'soxr' | null;
  /** libsoxr's version ('0.1.3'), or null. */
  version: string | null;
  /** Why there is no resampler ('' when there is one). */
  reason: string;
}

/** A resampler over the addon's exports: libsoxr's when the addon has it, else none. */
export class Resampler {
  readonly status: ResamplerStatus;
  private readonly addon: RawResamplerAddon | null;

  /** `addon`: the addon's exports, or null with `unavailableReason` (why it did not load). */
  constructor(addon: object | null, unavailableReason = '') {
    const a = addon as Partial<RawResamplerAddon> | null;
    if (a === null) {
      this.addon = null;
      this.status = { engine: null, version: null, reason: `the native addon is not available (${unavailableReason})` };
    } else if (typeof a.resample !== 'function' || typeof a.soxrVersion !== 'string') {
      this.addon = null;
      this.status = { engine: null, version: null, reason: 'the native addon was built without libsoxr (pkg-config soxr found nothing)' };
    } else {
      this.addon = a as RawResamplerAddon;
      this.status = { engine: 'soxr', version: a.soxrVersion, reason: '' };
    }
  }

  /** See `resample`. */
  resample(x: Float32Array, fromHz: number, toHz: number): Float32Array {
    if (!Number.isInteger(fromHz) || !Number.isInteger(toHz) || fromHz < 1 || toHz < 1) {
      throw new RangeError(`sample rates must be positive integers (Hz), got ${fromHz} and ${toHz}`);
    }
    if (fromHz === toHz) return x;
    checkResampleBounds(x.length, fromHz, toHz);
    if (this.addon === null) {
      throw new ResamplerUnavailableError(
        `this clip is at ${fromHz} Hz and needs resampling to ${toHz} Hz with MLTK's soxr_hq resampler (libsoxr), ` +
          `which this server does not have: ${this.status.reason}. Install libsoxr-dev (Debian/Ubuntu: ` +
          'apt-get install libsoxr-dev) and rebuild the addon with `npm run build:native`, or send clips at ' +
          `${toHz} Hz`,
        { library: 'libsoxr', from_hz: fromHz, to_hz: toHz },
      );
    }
    try {
      return this.addon.resample(x, fromHz, toHz);
    } catch (err) {
      const e = err as Error & { code?: string; reason?: string };
      if (e.code === 'ERR_RESAMPLE' && e.reason !== undefined) throw new WavDecodeError(e.reason, e.message);
      throw err;
    }
  }
}

let shared: Resampler | undefined;

/** The process's resampler, over the addon as loaded once by src/core/native/addon.ts. */
function resampler(): Resampler {
  shared ??= new Resampler(loadNativeAddon(), nativeAddonUnavailableReason());
  return shared;
}

/** Whether this process can resample, with what, or why not. */
export function resamplerStatus(): ResamplerStatus {
  return resampler().status;
}

/** One start-up log line: which resampler runs, or what a missing one means. */
export function resamplerLogLine(status: ResamplerStatus = resamplerStatus()): string {
  return status.engine === 'soxr'
    ? `resampler: soxr_hq (libsoxr ${status.version})`
    : `resampler: none (${status.reason}): clips at other rates than sample_rate_hz are refused with ` +
        '501 resampler-unavailable; install libsoxr-dev and rebuild the addon (npm run build:native)';
}

/** Length of the resampled signal: ceil(n * (to / from)), librosa's rule. */
export function resampledLength(n: number, fromHz: number, toHz: number): number {
  return Math.ceil(n * (toHz / fromHz));
}

/**
 * Throws WavDecodeError (422 invalid-wav) when resampling n samples from `fromHz` to
 * `toHz` is out of bounds: `sample-rate-too-low` or `resample-too-large`. Equal rates
 * resample nothing and always pass.
 */
export function checkResampleBounds(n: number, fromHz: number, toHz: number): void {
  if (fromHz === toHz && fromHz > 0) return;
  if (!(fromHz >= MIN_RESAMPLE_RATE_HZ && toHz >= MIN_RESAMPLE_RATE_HZ) || !Number.isFinite(fromHz) || !Number.isFinite(toHz)) {
    throw new WavDecodeError(
      'sample-rate-too-low',
      `resampling from ${fromHz} Hz to ${toHz} Hz is refused: rates below ${MIN_RESAMPLE_RATE_HZ} Hz are not resampled`,
    );
  }
  if (n > MAX_RESAMPLE_INPUT_SAMPLES) {
    throw new WavDecodeError(
      'resample-too-large',
      `${n} samples at ${fromHz} Hz are more than the ${MAX_RESAMPLE_INPUT_SAMPLES} input samples one resampling may take`,
    );
  }
  const produced = resampledLength(n, fromHz, toHz);
  if (produced > MAX_RESAMPLE_OUTPUT_SAMPLES) {
    throw new WavDecodeError(
      'resample-too-large',
      `${n} samples at ${fromHz} Hz would become ${produced} samples at ${toHz} Hz, more than the ` +
        `${MAX_RESAMPLE_OUTPUT_SAMPLES} output samples one resampling may make`,
    );
  }
}

/**
 * `x` resampled from `fromHz` to `toHz` as librosa's soxr_hq does it (float32,
 * ceil(n * to / from) samples). Equal rates return `x` itself (MLTK does not resample
 * then). Throws WavDecodeError for out-of-bounds work and ResamplerUnavailableError when
 * libsoxr is not available.
 */
export function resample(x: Float32Array, fromHz: number, toHz: number): Float32Array {
  return resampler().resample(x, fromHz, toHz);
}

/**
 * The whole per-clip feature pipeline of a shard in one call: WAV file bytes ->
 * decode -> resample -> trim -> pad/crop (offset 0) -> int16 -> frontend, written as
 * uint16 rows (height*width values per clip, clip i at row i) into one output array,
 * such as a shard's data region.
 *
 * Two implementations with the same signature and the same bytes
 * (test/frontend/wav-batch-parity.test.ts):
 * - `featurizeWavBatchTs`: the TypeScript pipeline (decodeWav, prepareSample, toInt16,
 *   the TypeScript Frontend), clip by clip, yielding to the event loop between clips.
 * - `featurizeWavBatchNative`: one addon call (featurizeWav) that runs the whole
 *   pipeline on the thread pool for every 16-bit PCM clip at the target rate (the
 *   common case); every other clip (other encodings or rates, malformed files, and
 *   the rare clip with a trim frame within 1e-9 dB of the threshold) takes the
 *   TypeScript audio steps and then the native frontend. Failure reasons therefore
 *   always come from the TypeScript decoder.
 *
 * It lives in src/frontend (not src/audio) because it is a frontend-backend
 * operation: both backends implement it (backend.ts) and it needs the native loader;
 * the dependency stays one-way (frontend -> audio), src/audio knows no frontend.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { prepareSample, resolveLoadOptions, type LoadOptions } from '../audio/load.ts';
import { toInt16 } from '../audio/pcm.ts';
import { decodeWav } from '../audio/wav.ts';
import { WavDecodeError } from '../errors.ts';
import { Frontend } from './frontend.ts';
import { loadNativeFrontend, WAV_CLIP_NATIVE, type NativeFrontend } from './native.ts';
import { frontendSizes, resolveFrontendSettings, settingsHash, type FrontendSettings } from './settings.ts';

/**
 * One clip of a batch: its WAV file bytes; `null` for a silence entry (sample_length
 * zeros, as loadSample(null)); `undefined` for a clip the caller could not read (its
 * row is left all zeros and no failure is reported: the caller has its own reason).
 */
export type WavBatchInput = Uint8Array | null | undefined;

export interface WavBatchOptions {
  /** Each clip's file path, named in its error message (as loadSample does). */
  files?: readonly (string | null | undefined)[];
  /** Most pool threads the native path uses (default: one per core, at most UV_THREADPOOL_SIZE). */
  threads?: number;
}

export interface WavBatchFailure {
  index: number;
  /** What the TypeScript pipeline threw for this clip (a WavDecodeError for a bad file). */
  error: unknown;
}

export interface WavBatchResult {
  /** Clips whose row is all zeros because their file was rejected, in index order. */
  failures: WavBatchFailure[];
  /** Clips that went through the TypeScript audio steps (all of them on the TypeScript backend), in index order. */
  viaTypeScript: number[];
}

export type FeaturizeWavBatch = (
  settings: FrontendSettings,
  trimThresholdDb: number,
  wavs: readonly WavBatchInput[],
  out: Uint16Array,
  options?: WavBatchOptions,
) => Promise<WavBatchResult>;

/** Clips run between yields on the TypeScript path. */
const TS_CLIPS_PER_TURN = 4;

interface Plan {
  settings: FrontendSettings;
  load: LoadOptions;
  /** librosa top_db as load.ts derives it, or null for no trimming. */
  topDb: number | null;
  T: number;
  row: number;
}

/**
 * Validates with resolveFrontendSettings and load.ts's own resolveLoadOptions (same
 * error classes and messages) and checks the output size. Throws (rejects) for the
 * whole call; computeShard checks the load options first and keeps recording a bad
 * trim threshold as a failure of every clip.
 */
function plan(settings: FrontendSettings, trimThresholdDb: number, clips: number, out: Uint16Array): Plan {
  const s = resolveFrontendSettings(settings);
  const load: LoadOptions = { sampleRateHz: s.sample_rate_hz, sampleLengthMs: s.sample_length_ms, trimThresholdDb };
  const { topDb } = resolveLoadOptions(load);
  const { sampleLength, height, width } = frontendSizes(s);
  const row = height * width;
  if (!(out instanceof Uint16Array)) throw new TypeError('out must be a Uint16Array');
  if (out.length !== clips * row) {
    throw new RangeError(`out has ${out.length} values; ${clips} clips of ${height}x${width} need ${clips * row}`);
  }
  return { settings: s, load, topDb, T: sampleLength, row };
}

/** The TypeScript audio steps of one clip, with loadSample's error naming. */
function prepareClip(bytes: Uint8Array | null, file: string | undefined, p: Plan): Int16Array {
  if (bytes === null) return new Int16Array(p.T);
  const decoded = decodeWav(bytes, file);
  try {
    return toInt16(prepareSample(decoded, p.load));
  } catch (err) {
    if (file !== undefined && err instanceof WavDecodeError && err.extra.file === undefined) {
      throw new WavDecodeError(err.reason, err.message, file);
    }
    throw err;
  }
}

const fileOf = (options: WavBatchOptions | undefined, i: number): string | undefined => options?.files?.[i] ?? undefined;

let cachedTs: { key: string; frontend: Frontend } | undefined;

/** A TypeScript Frontend for these settings (the last one is kept: table construction is the costly part). */
function tsFrontend(s: FrontendSettings): Frontend {
  const key = settingsHash(s);
  if (cachedTs?.key !== key) cachedTs = { key, frontend: new Frontend(s) };
  return cachedTs.frontend;
}

/** The TypeScript pipeline; `frontend` may supply a prebuilt Frontend for these settings. */
export async function featurizeWavBatchTs(
  settings: FrontendSettings,
  trimThresholdDb: number,
  wavs: readonly WavBatchInput[],
  out: Uint16Array,
  options?: WavBatchOptions & { frontend?: Frontend },
): Promise<WavBatchResult> {
  const p = plan(settings, trimThresholdDb, wavs.length, out);
  const fe = options?.frontend ?? tsFrontend(p.settings);
  const failures: WavBatchFailure[] = [];
  const viaTypeScript: number[] = [];
  for (let i = 0; i < wavs.length; i++) {
    if (i > 0 && i % TS_CLIPS_PER_TURN === 0) await yieldToEventLoop();
    const rowStart = i * p.row;
    const bytes = wavs[i];
    if (bytes === undefined) {
      out.fill(0, rowStart, rowStart + p.row);
      continue;
    }
    viaTypeScript.push(i);
    try {
      out.set(fe.process(prepareClip(bytes, fileOf(options, i), p)).uint16, rowStart);
    } catch (error) {
      out.fill(0, rowStart, rowStart + p.row);
      failures.push({ index: i, error });
    }
  }
  return { failures, viaTypeScript };
}

/** A canonical 16-bit mono WAV of `T` zeros at `rate` Hz: what a silence entry decodes to. */
function silenceWav(rate: number, T: number): Uint8Array {
  const bytes = new Uint8Array(44 + 2 * T);
  const v = new DataView(bytes.buffer);
  const ascii = (at: number, s: string) => {
    for (let k = 0; k < 4; k++) bytes[at + k] = s.charCodeAt(k);
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + 2 * T, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, 2 * T, true);
  return bytes;
}

const NO_BYTES = new Uint8Array(0);

/** The native pipeline with the TypeScript audio steps as per-clip fallback. */
export async function featurizeWavBatchNative(
  native: NativeFrontend,
  settings: FrontendSettings,
  trimThresholdDb: number,
  wavs: readonly WavBatchInput[],
  out: Uint16Array,
  options?: WavBatchOptions,
): Promise<WavBatchResult> {
  const p = plan(settings, trimThresholdDb, wavs.length, out);
  let silence: Uint8Array | undefined;
  const inputs = wavs.map((w) => (w === null ? (silence ??= silenceWav(p.settings.sample_rate_hz, p.T)) : (w ?? NO_BYTES)));
  const threads = options?.threads;
  const status = await native.featurizeWav(p.settings, p.topDb, inputs, out, threads === undefined ? {} : { threads });

  const failures: WavBatchFailure[] = [];
  const viaTypeScript: number[] = [];
  const pending: Int16Array[] = [];
  const rows: number[] = [];
  for (let i = 0; i < wavs.length; i++) {
    if (status[i] === WAV_CLIP_NATIVE || wavs[i] === undefined) continue;
    if (viaTypeScript.length > 0) await yieldToEventLoop(); // resampling a long clip takes milliseconds
    viaTypeScript.push(i);
    try {
      pending.push(prepareClip(wavs[i]!, fileOf(options, i), p));
      rows.push(i);
    } catch (error) {
      failures.push({ index: i, error }); // its row is already zeros
    }
  }
  if (pending.length > 0) {
    const r = await native.processBatch(p.settings, pending, threads === undefined ? {} : { threads });
    r.uint16.forEach((u, k) => out.set(u, rows[k]! * p.row));
  }
  return { failures, viaTypeScript };
}

/**
 * The native pipeline when the addon loads, else the TypeScript one. Services should
 * call their FrontendBackend's featurizeWavs instead, which honours the configured
 * backend preference.
 */
export const featurizeWavBatch: FeaturizeWavBatch = (settings, trimThresholdDb, wavs, out, options) => {
  const native = loadNativeFrontend();
  return native === null
    ? featurizeWavBatchTs(settings, trimThresholdDb, wavs, out, options)
    : featurizeWavBatchNative(native, settings, trimThresholdDb, wavs, out, options);
};

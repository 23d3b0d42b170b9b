/**
 * The clip DSP the API runs for a request (POST /v1/features, a sample's computed
 * spectrogram, the spectrogram PNG, an augmentation preview), as tasks: plain data in, plain data out, so they run
 * wherever the DspPort (src/services/ports.ts) puts them. In the API that is a small pool
 * of worker threads (jobs/dsp-pool.ts) with a deadline and a bound on the jobs in flight,
 * never the event loop; `InlineDsp` (./inline-dsp.ts) runs them on the calling thread
 * (DSP_THREADS=0).
 *
 * Errors cross the thread boundary as data (`serializeDspError` / `reviveDspError`): an
 * AudiofeedError comes back with its class, problem type, status, detail and extra
 * members, so the route answers exactly what it would have answered in-process.
 */
import {
  AudiofeedError,
  ConflictError,
  DatasetError,
  FrontendSettingsError,
  InvalidSettingsError,
  ResamplerUnavailableError,
  WavDecodeError,
} from '../../core/errors.ts';
import { BackgroundNoiseCache } from '../../core/audio/augment/index.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import { renderSpectrogramPng, type SpectrogramPngOptions } from '../../core/render/spectrogram-png.ts';
import type { FeatureDtype } from '../../core/schemas.ts';
import {
  computeClipFeatures,
  encodeClipFeatures,
  type ClipFeatureFormat,
  type ClipFeatureSettingsT,
} from './clip-features.ts';
import { computeAugmentedPreview, type AugmentedPreview, type AugmentedPreviewInput } from './augmented-preview.ts';
import { computeShard, type ShardInput } from './compute-shard.ts';
import type { ShardFailure } from './shard-file.ts';

/** POST /v1/features: one uploaded clip, computed and encoded in the requested format. */
export interface ClipFeaturesTask {
  kind: 'clip-features';
  wav: Uint8Array;
  request: ClipFeatureSettingsT;
  format: ClipFeatureFormat;
  /** The upload's file name (error messages). */
  file?: string;
}

export interface ClipFeaturesResult {
  body: Uint8Array;
  shape: number[];
  dtype: FeatureDtype;
  frontendBackend: 'native' | 'typescript' | null;
  activityDetected?: boolean;
}

/** A dataset sample's features computed now (its shard does not exist yet): the shard computation of one entry. */
export interface SampleFeaturesTask {
  kind: 'sample-features';
  input: ShardInput;
}

export interface SampleFeaturesResult {
  /** The clip's failure (skipped with this reason), or null. */
  failure: ShardFailure | null;
  rowShape: number[];
  data: Uint8Array;
}

/** A uint16 spectrogram drawn as a PNG (the dashboard's previews). */
export interface SpectrogramPngTask {
  kind: 'spectrogram-png';
  values: Uint16Array;
  height: number;
  width: number;
  options: SpectrogramPngOptions;
}

/**
 * One sample augmented by a validated recipe (the dashboard's augmentation preview).
 * `cacheNoises`: its background-noise directory is a registered dataset's, kept loaded by
 * the thread between previews; another is loaded for this task only.
 */
export interface AugmentedPreviewTask {
  kind: 'augmented-preview';
  input: AugmentedPreviewInput;
  cacheNoises: boolean;
}

export type DspTask = ClipFeaturesTask | SampleFeaturesTask | SpectrogramPngTask | AugmentedPreviewTask;

/** What each kind of task resolves to. */
export interface DspResults {
  'clip-features': ClipFeaturesResult;
  'sample-features': SampleFeaturesResult;
  'spectrogram-png': Uint8Array;
  'augmented-preview': AugmentedPreview;
}

export type DspResultOf<T extends DspTask> = DspResults[T['kind']];

/**
 * Runs one task on the calling thread. `transfer` lists the result's buffers a worker
 * thread can hand over without copying.
 */
export async function runDspTask(task: DspTask, frontend: FrontendBackend): Promise<{ value: DspResults[DspTask['kind']]; transfer: ArrayBuffer[] }> {
  switch (task.kind) {
    case 'clip-features': {
      const f = await computeClipFeatures(task.wav, task.request, frontend, task.file);
      const body = encodeClipFeatures(f, task.format);
      const value: ClipFeaturesResult = {
        body,
        shape: f.shape,
        dtype: f.dtype,
        frontendBackend: f.frontendBackend,
        ...(f.activityDetected === undefined ? {} : { activityDetected: f.activityDetected }),
      };
      return { value, transfer: ownBuffer(body) };
    }
    case 'sample-features': {
      const { header, data } = await computeShard(task.input, frontend);
      const value: SampleFeaturesResult = { failure: header.failures[0] ?? null, rowShape: header.row_shape, data };
      return { value, transfer: ownBuffer(data) };
    }
    case 'spectrogram-png': {
      const png = renderSpectrogramPng(task.values, task.height, task.width, task.options);
      return { value: png, transfer: ownBuffer(png) };
    }
    case 'augmented-preview': {
      const preview = await computeAugmentedPreview(task.input, frontend, task.cacheNoises ? registeredNoises : new BackgroundNoiseCache());
      return { value: preview, transfer: [] };
    }
  }
}

/** Background noises of registered recipes, loaded once per thread (as a worker keeps them). */
const registeredNoises = new BackgroundNoiseCache();

/** A buffer may be transferred only when the view covers all of it (not a slice of Node's pool). */
function ownBuffer(view: Uint8Array): ArrayBuffer[] {
  const buf = view.buffer;
  return buf instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buf.byteLength ? [buf] : [];
}

// --- errors --------------------------------------------------------------------------------

/** A DSP job ran past DSP_DEADLINE_MS: its thread was stopped. */
export class DspDeadlineError extends AudiofeedError {
  constructor(deadlineMs: number, what: string) {
    super(
      'dsp-deadline-exceeded',
      503,
      'Service unavailable',
      `computing ${what} took longer than the DSP deadline of ${deadlineMs} ms (DSP_DEADLINE_MS) and was stopped: ` +
        'send a shorter clip (or one at the target sample rate), or raise DSP_DEADLINE_MS',
      { setting: 'DSP_DEADLINE_MS', deadline_ms: deadlineMs },
    );
  }
}

/** Every DSP thread is busy and the queue is full (503 with Retry-After). */
export class DspBusyError extends AudiofeedError {
  constructor(
    inFlight: number,
    queued: number,
    readonly retryAfterS: number,
  ) {
    super(
      'dsp-busy',
      503,
      'Service unavailable',
      `all ${inFlight} DSP threads are busy and ${queued} jobs are waiting (DSP_THREADS, DSP_MAX_QUEUE): retry after ${retryAfterS} s`,
      { in_flight: inFlight, queued, setting: 'DSP_MAX_QUEUE' },
    );
  }
}

/** The DSP pool is closed (the process is shutting down) or a thread died under a job. */
export class DspUnavailableError extends AudiofeedError {
  constructor(detail: string) {
    super('dsp-unavailable', 503, 'Service unavailable', detail);
  }
}

/** An error as data, for postMessage (structured clone keeps only an Error's message). */
export interface SerializedDspError {
  name: string;
  message: string;
  code?: string;
  status?: number;
  title?: string;
  extra?: Record<string, unknown>;
  reason?: string;
}

export function serializeDspError(err: unknown): SerializedDspError {
  if (err instanceof AudiofeedError) {
    return {
      name: err.name,
      message: err.message,
      code: err.code,
      status: err.status,
      title: err.title,
      extra: err.extra,
      ...(err instanceof WavDecodeError ? { reason: err.reason } : {}),
    };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

/** The classes a task may throw, by name, so `instanceof` holds on the other side. */
const REVIVED: Record<string, { prototype: AudiofeedError }> = {
  WavDecodeError,
  InvalidSettingsError,
  FrontendSettingsError,
  ResamplerUnavailableError,
  ConflictError,
  DatasetError,
};

export function reviveDspError(s: SerializedDspError): Error {
  if (s.code === undefined || s.status === undefined) {
    const e = new Error(s.message);
    e.name = s.name;
    return e;
  }
  const e = new AudiofeedError(s.code, s.status, s.title ?? 'Error', s.message, s.extra ?? {});
  const cls = Object.hasOwn(REVIVED, s.name) ? REVIVED[s.name] : undefined;
  if (cls) Object.setPrototypeOf(e, cls.prototype);
  e.name = s.name;
  if (s.reason !== undefined) Object.defineProperty(e, 'reason', { value: s.reason, enumerable: true });
  return e;
}

/**
 * The features of one clip, exactly as the dataset pipeline computes them (decode ->
 * resample/trim/pad -> int16 -> microfrontend -> dtype [-> MLTK standardization]), or with `raw` the decoded
 * samples straight into the frontend (device-parity checks); the settings object's
 * parser; the encoders (npy, JSON, PNG) and the Accept negotiation. One service for
 * POST /v1/features (routes/features/), the CLI (cli/main.ts) and anyone else.
 */
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { decodeWav, prepareSample, toInt16, DEFAULT_TRIM_THRESHOLD_DB } from '../../core/audio/index.ts';
import { InvalidSettingsError, WavDecodeError } from '../../core/errors.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import { convertSpectrogram } from '../../core/frontend/output.ts';
import { FrontendSettingsSchema } from '../../core/frontend/settings-schema.ts';
import { frontendSizes, resolveFrontendSettings, type FrontendSettings } from '../../core/frontend/settings.ts';
import { renderSpectrogramPng } from '../../core/render/spectrogram-png.ts';
import { FeatureDtype } from '../../core/schemas.ts';
import { encodeNpy } from '../../core/tensors/npy.ts';
import {
  checkStandardizationTarget,
  isStandardizing,
  resolveStandardization,
  standardizeSample,
  StandardizationFields,
} from '../../core/tensors/standardize.ts';

export const ClipFeatureSettings = Type.Object(
  {
    frontend_settings: Type.Optional(FrontendSettingsSchema),
    /** Output dtype (MLTK frontend_dtype); default float32. */
    dtype: Type.Optional(FeatureDtype),
    raw: Type.Optional(
      Type.Boolean({
        description:
          'Feed the decoded samples to the frontend as they are (no resample, trim, pad or crop); ' +
          'the clip must then have exactly sample_length samples at sample_rate_hz',
      }),
    ),
    trim_threshold_db: Type.Optional(
      Type.Number({ minimum: 0, description: 'librosa top_db for silence trimming (0 = off); default 20' }),
    ),
    frontend_enabled: Type.Optional(
      Type.Boolean({ description: 'false returns the prepared float32 audio [sample_length] instead of a spectrogram' }),
    ),
    // MLTK's standardization of the spectrogram (dtype float32), as a dataset's batches get it.
    ...StandardizationFields,
  },
  { additionalProperties: false, description: 'How to compute the features of one clip' },
);
export type ClipFeatureSettingsT = Static<typeof ClipFeatureSettings>;

const settingsCheck = Compile(ClipFeatureSettings);
const SETTINGS_FIELDS = Object.keys(ClipFeatureSettings.properties);

/**
 * Validates a parsed settings object, throwing InvalidSettingsError (422) that lists
 * what is wrong; `where` prefixes the locations (the multipart field or a file name).
 */
export function parseClipFeatureSettings(value: unknown, where = 'settings'): ClipFeatureSettingsT {
  if (settingsCheck.Check(value)) return value;
  const problems: { location: string; message: string }[] = [];
  for (const e of settingsCheck.Errors(value)) {
    // additionalProperties: false also yields one "schema is false" per extra field;
    // the additionalProperties error names them all.
    if (e.keyword === 'boolean') continue;
    const location = `${where}${e.instancePath}`;
    const params = e.params as { additionalProperties?: string[]; allowedValues?: unknown[] };
    let message = e.message;
    if (e.keyword === 'additionalProperties' && params.additionalProperties) {
      const names = params.additionalProperties.map((n) => JSON.stringify(n)).join(', ');
      message =
        e.instancePath === ''
          ? `unknown field ${names}; the fields are ${SETTINGS_FIELDS.join(', ')}`
          : `unknown field ${names}` + (e.instancePath === '/frontend_settings' ? ' (use MLTK AudioFeatureGeneratorSettings names)' : '');
    } else if (e.keyword === 'enum' && params.allowedValues) {
      message = `must be one of ${params.allowedValues.join(', ')}`;
    }
    problems.push({ location, message });
    if (problems.length >= 10) break;
  }
  throw new InvalidSettingsError(problems.map((p) => `${p.location}: ${p.message}`).join('; '), { errors: problems });
}

export interface ClipFeatures {
  /** [frames, channels] for a spectrogram, [samples] for audio (frontend disabled). */
  shape: number[];
  dtype: FeatureDtype;
  data: Uint16Array | Int8Array | Float32Array;
  /** Only when activity_detection_enable is set. */
  activityDetected?: boolean;
  /** Which frontend computed the spectrogram; null when the frontend is disabled. */
  frontendBackend: 'native' | 'typescript' | null;
  settings: FrontendSettings;
}

/**
 * The features of one WAV file. Errors: WavDecodeError (bad file), InvalidSettingsError
 * (inconsistent request, raw clip of the wrong length/rate), FrontendSettingsError.
 */
export async function computeClipFeatures(
  wav: Uint8Array,
  request: ClipFeatureSettingsT,
  backend: FrontendBackend,
  file?: string,
): Promise<ClipFeatures> {
  const settings = resolveFrontendSettings(request.frontend_settings);
  const dtype = request.dtype ?? 'float32';
  const frontendEnabled = request.frontend_enabled ?? true;
  if (!frontendEnabled && dtype !== 'float32') {
    throw new InvalidSettingsError('with frontend_enabled = false the features are audio: only dtype float32 is available', {
      field: 'dtype',
    });
  }
  const standardization = resolveStandardization(request);
  checkStandardizationTarget(standardization, frontendEnabled, dtype);
  if (request.raw && request.trim_threshold_db !== undefined) {
    throw new InvalidSettingsError('raw skips trimming: drop trim_threshold_db or raw', { field: 'trim_threshold_db' });
  }
  const decoded = decodeWav(wav, file);
  const sampleLength = frontendSizes(settings).sampleLength;
  let samples: Float32Array;
  if (request.raw) {
    samples = decoded.samples;
    if (frontendEnabled && (decoded.sampleRate !== settings.sample_rate_hz || samples.length !== sampleLength)) {
      throw new InvalidSettingsError(
        `raw: the clip has ${samples.length} samples at ${decoded.sampleRate} Hz, but sample_rate_hz ${settings.sample_rate_hz} ` +
          `and sample_length_ms ${settings.sample_length_ms} need exactly ${sampleLength} samples at ${settings.sample_rate_hz} Hz: ` +
          'send such a clip, change frontend_settings, or drop raw to resample, trim and pad',
        {
          field: 'raw',
          required_samples: sampleLength,
          required_sample_rate_hz: settings.sample_rate_hz,
          clip_samples: samples.length,
          clip_sample_rate_hz: decoded.sampleRate,
        },
      );
    }
  } else {
    try {
      samples = prepareSample(decoded, {
        sampleRateHz: settings.sample_rate_hz,
        sampleLengthMs: settings.sample_length_ms,
        trimThresholdDb: request.trim_threshold_db ?? DEFAULT_TRIM_THRESHOLD_DB,
      });
    } catch (err) {
      if (file !== undefined && err instanceof WavDecodeError && err.extra.file === undefined) {
        throw new WavDecodeError(err.reason, err.message, file);
      }
      throw err;
    }
  }
  if (!frontendEnabled) {
    return { shape: [samples.length], dtype: 'float32', data: samples, frontendBackend: null, settings };
  }
  const pcm = toInt16(samples);
  const { height, width } = frontendSizes(settings);
  // The activity flag needs the one-clip call; without it the batch call is the fast path.
  const run = settings.activity_detection_enable
    ? await backend.processClip(settings, pcm)
    : { uint16: (await backend.process(settings, [pcm]))[0]!, activity: undefined };
  return {
    shape: [height, width],
    dtype,
    data: isStandardizing(standardization)
      ? standardizeSample(convertSpectrogram(run.uint16, settings, 'float32') as Float32Array, standardization)
      : convertSpectrogram(run.uint16, settings, dtype),
    ...(run.activity === undefined ? {} : { activityDetected: run.activity }),
    frontendBackend: backend.name,
    settings,
  };
}

export type ClipFeatureFormat = 'npy' | 'json' | 'png';

export const FORMAT_CONTENT_TYPES: Readonly<Record<ClipFeatureFormat, string>> = {
  npy: 'application/x-npy',
  json: 'application/json',
  png: 'image/png',
};

/** The JSON body: nested rows for a spectrogram, a flat list for audio. */
export function clipFeaturesJson(f: ClipFeatures): Record<string, unknown> {
  let data: number[] | number[][];
  if (f.shape.length === 2) {
    const [h, w] = f.shape as [number, number];
    data = Array.from({ length: h }, (_, r) => Array.from(f.data.subarray(r * w, (r + 1) * w)));
  } else {
    data = Array.from(f.data);
  }
  return {
    shape: f.shape,
    dtype: f.dtype,
    data,
    ...(f.activityDetected === undefined ? {} : { activity_detected: f.activityDetected }),
    frontend_backend: f.frontendBackend,
  };
}

/** Largest PNG side we aim for when picking the cell size; fewer frames get 4 px cells. */
const PNG_TARGET_SIDE = 16384;

export function clipFeaturesPng(f: ClipFeatures, title?: string): Buffer {
  if (f.shape.length !== 2) {
    throw new InvalidSettingsError('with frontend_enabled = false the features are audio, not a spectrogram: ask for npy or json', {
      field: 'frontend_enabled',
    });
  }
  const [h, w] = f.shape as [number, number];
  const scale = Math.max(1, Math.min(4, Math.floor(PNG_TARGET_SIDE / Math.max(h, w))));
  try {
    return renderSpectrogramPng(f.data, h, w, {
      scale,
      title: title ?? `${h}x${w} ${f.dtype}`,
      stepMs: f.settings.window_step_ms,
    });
  } catch (err) {
    if (err instanceof RangeError) {
      throw new InvalidSettingsError(`the ${h}x${w} spectrogram is too large to render (${err.message}): ask for npy or json`);
    }
    throw err;
  }
}

export function encodeClipFeatures(f: ClipFeatures, format: ClipFeatureFormat): Buffer {
  switch (format) {
    case 'npy':
      return Buffer.concat(encodeNpy(f.data, f.shape));
    case 'json':
      return Buffer.from(JSON.stringify(clipFeaturesJson(f)));
    case 'png':
      return clipFeaturesPng(f);
  }
}

/** Media ranges we answer, most specific first; anything else gets a 406. */
const MEDIA_FORMATS: [string, ClipFeatureFormat][] = [
  ['application/x-npy', 'npy'],
  ['application/json', 'json'],
  ['image/png', 'png'],
  ['application/octet-stream', 'npy'],
  ['application/*', 'npy'],
  ['image/*', 'png'],
  ['*/*', 'npy'],
];

/** The format for an Accept header (missing or empty: npy), or null when none is acceptable. */
export function negotiateFormat(accept: string | undefined): ClipFeatureFormat | null {
  if (accept === undefined || accept.trim() === '') return 'npy';
  const ranges = accept
    .split(',')
    .map((part, order) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      const qv = q === undefined ? 1 : Number(q.slice(2));
      return { type, q: Number.isFinite(qv) ? qv : 0, order };
    })
    .filter((r) => r.type !== '' && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const r of ranges) {
    const hit = MEDIA_FORMATS.find(([m]) => m === r.type);
    if (hit) return hit[1];
  }
  return null;
}

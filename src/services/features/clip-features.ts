/**
 * POST /v1/features: the features of one uploaded clip, exactly as the dataset pipeline
 * computes them (decode -> resample/trim/pad -> int16 -> microfrontend -> dtype), or with
 * `raw` the decoded samples straight into the frontend (device-parity checks). The
 * pipeline and the encoders are exported for the CLI (cli/main.ts), which runs them
 * without the service.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { AppContext } from '../../../routes/app.ts';
import { decodeWav, prepareSample, toInt16 } from '../../core/audio/index.ts';
import { AudiofeedError, BadRequestError, InvalidSettingsError, WavDecodeError } from '../../core/errors.ts';
import { DEFAULT_TRIM_THRESHOLD_DB } from './plan.ts';
import { TypeScriptBackend, type FrontendBackend } from '../../core/frontend/backend.ts';
import { Frontend } from '../../core/frontend/frontend.ts';
import { loadNativeFrontend } from '../../core/frontend/native.ts';
import { convertSpectrogram } from '../../core/frontend/output.ts';
import type { FeatureDtype } from '../../core/schemas.ts';
import { frontendSizes, resolveFrontendSettings, type FrontendSettings } from '../../core/frontend/settings.ts';
import { renderSpectrogramPng } from '../../core/render/spectrogram-png.ts';
import { FrontendSettingsSchema } from '../../core/frontend/settings-schema.ts';
import { encodeNpy } from '../../core/tensors/npy.ts';

/** Largest accepted WAV upload (one clip; a minute of 48 kHz stereo 32-bit is 23 MiB). */
export const FEATURES_MAX_WAV_BYTES = 64 * 1024 * 1024;

export const FEATURE_DTYPES = ['uint16', 'int8', 'float32'] as const;

export const ClipFeatureSettings = Type.Object(
  {
    frontend_settings: Type.Optional(FrontendSettingsSchema),
    dtype: Type.Optional(
      Type.Enum([...FEATURE_DTYPES], { description: 'Output dtype (MLTK frontend_dtype); default float32' }),
    ),
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

interface FrontendRun {
  uint16: Uint16Array;
  activity: boolean | undefined;
  backend: 'native' | 'typescript';
}

/**
 * One clip through the frontend. The backend interface returns spectrograms only, so
 * with activity detection on the clip runs on the same implementation directly to
 * also read the flag.
 */
async function runFrontend(backend: FrontendBackend, settings: FrontendSettings, pcm: Int16Array): Promise<FrontendRun> {
  if (!settings.activity_detection_enable) {
    const [uint16] = await backend.process(settings, [pcm]);
    return { uint16: uint16!, activity: undefined, backend: backend.name };
  }
  if (backend.name === 'native') {
    const native = loadNativeFrontend();
    if (native !== null) {
      const r = native.processSync(settings, pcm);
      return { uint16: r.uint16, activity: r.activity, backend: 'native' };
    }
  }
  const fe = backend instanceof TypeScriptBackend ? backend.frontendFor(settings) : new Frontend(settings);
  const r = fe.process(pcm);
  return { uint16: r.uint16, activity: r.activityDetected, backend: 'typescript' };
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
  const run = await runFrontend(backend, settings, toInt16(samples));
  const { height, width } = frontendSizes(settings);
  return {
    shape: [height, width],
    dtype,
    data: convertSpectrogram(run.uint16, settings, dtype),
    ...(run.activity === undefined ? {} : { activityDetected: run.activity }),
    frontendBackend: run.backend,
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

const features: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post(
    '/',
    {
      schema: {
        tags: ['features'],
        summary: 'Features of one WAV clip (multipart: optional `settings` JSON field + one file)',
        description:
          'Runs the MLTK per-sample pipeline (decode, resample, trim, pad/crop, int16, bit-exact microfrontend) on one ' +
          'clip. The `settings` field is JSON: `{ frontend_settings?, dtype?, raw?, trim_threshold_db?, frontend_enabled? }`. ' +
          `The response format follows Accept: ${FORMAT_CONTENT_TYPES.npy} (default, shape [frames, channels]), ` +
          `${FORMAT_CONTENT_TYPES.json} ({ shape, dtype, data, activity_detected?, frontend_backend }) or ` +
          `${FORMAT_CONTENT_TYPES.png} (rendered spectrogram). Headers x-audiofeed-shape / -dtype / -frontend-backend ` +
          'describe the array in every format.',
        consumes: ['multipart/form-data'],
      },
    },
    async (req, reply) => {
      // Negotiate before reading the upload, so an unanswerable request costs nothing.
      const format = negotiateFormat(req.headers.accept);
      if (format === null) {
        throw new AudiofeedError(
          'not-acceptable',
          406,
          'Not acceptable',
          `cannot answer with ${JSON.stringify(req.headers.accept)}: accept ${Object.values(FORMAT_CONTENT_TYPES).join(', ')}`,
        );
      }
      if (!req.isMultipart()) {
        throw new AudiofeedError(
          'unsupported-media-type',
          415,
          'Unsupported media type',
          'send multipart/form-data with an optional `settings` field (JSON) and one WAV file part',
        );
      }
      let settingsText: string | undefined;
      let wav: Buffer | undefined;
      let filename: string | undefined;
      for await (const part of req.parts({ limits: { fileSize: FEATURES_MAX_WAV_BYTES } })) {
        if (part.type === 'file') {
          const file = part as MultipartFile;
          if (wav !== undefined) {
            throw new BadRequestError('too-many-files', 'send exactly one WAV file part per request');
          }
          // toBuffer throws (413) when the file is cut at the size limit.
          wav = await file.toBuffer();
          filename = file.filename || undefined;
        } else if ((part as MultipartValue).fieldname === 'settings') {
          if (settingsText !== undefined) throw new BadRequestError('duplicate-field', 'the `settings` field was sent twice');
          settingsText = String((part as MultipartValue).value);
        } else {
          throw new BadRequestError(
            'unexpected-field',
            `unexpected field ${JSON.stringify(part.fieldname)}: only \`settings\` and one file are accepted`,
          );
        }
      }
      if (wav === undefined) {
        throw new BadRequestError('wav-file-required', 'the request holds no file part: attach the WAV clip (e.g. curl -F file=@clip.wav)');
      }
      let request: ClipFeatureSettingsT = {};
      if (settingsText !== undefined && settingsText.trim() !== '') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(settingsText);
        } catch (err) {
          throw new BadRequestError('malformed-json', `the settings field is not valid JSON: ${(err as Error).message}`);
        }
        request = parseClipFeatureSettings(parsed);
      }
      const f = await computeClipFeatures(wav, request, ctx.frontend, filename);
      const body = encodeClipFeatures(f, format);
      reply
        .header('x-audiofeed-shape', f.shape.join(','))
        .header('x-audiofeed-dtype', f.dtype)
        .header('x-audiofeed-frontend-backend', f.frontendBackend ?? 'none');
      if (f.activityDetected !== undefined) reply.header('x-audiofeed-activity-detected', String(f.activityDetected));
      return reply.type(format === 'json' ? 'application/json; charset=utf-8' : FORMAT_CONTENT_TYPES[format]).send(body);
    },
  );
};

export default features;

/**
 * POST /v1/features: the features of one uploaded clip. The route reads the multipart
 * upload and negotiates the format; the pipeline, the settings parser and the encoders
 * are the clip-features service (src/services/features/clip-features.ts), which the CLI
 * runs too. The computation and the encoding run on the DSP pool (ctx.dsp), never on the
 * event loop.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { MultipartFile } from '@fastify/multipart';
import { AudiofeedError, BadRequestError } from '../../src/core/errors.ts';
import {
  FORMAT_CONTENT_TYPES,
  negotiateFormat,
  parseClipFeatureSettings,
  type ClipFeatureSettingsT,
} from '../../src/services/features/clip-features.ts';
import type { AppContext } from '../context.ts';
import { isSettingsPart, readSettingsPart } from '../settings-part.ts';

/** Largest accepted WAV upload (one clip; a minute of 48 kHz stereo 32-bit is 23 MiB). */
export const FEATURES_MAX_WAV_BYTES = 64 * 1024 * 1024;

const features: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post(
    '/',
    {
      config: { scope: 'read', accepts: ['multipart/form-data'], bodyRequired: true },
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
      let wav: Buffer | undefined;
      let filename: string | undefined;
      let settingsSeen = false;
      let parsed: unknown;
      for await (const part of req.parts({ limits: { fileSize: FEATURES_MAX_WAV_BYTES } })) {
        if (isSettingsPart(part)) {
          if (settingsSeen) throw new BadRequestError('duplicate-field', 'the `settings` field was sent twice');
          settingsSeen = true;
          parsed = await readSettingsPart(part);
        } else if (part.type === 'file') {
          const file = part as MultipartFile;
          if (wav !== undefined) {
            throw new BadRequestError('too-many-files', 'send exactly one WAV file part per request');
          }
          // toBuffer throws (413) when the file is cut at the size limit.
          wav = await file.toBuffer();
          filename = file.filename || undefined;
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
      const request: ClipFeatureSettingsT = parsed === undefined ? {} : parseClipFeatureSettings(parsed);
      const f = await ctx.dsp.run({ kind: 'clip-features', wav, request, format, ...(filename === undefined ? {} : { file: filename }) });
      const body = Buffer.from(f.body.buffer, f.body.byteOffset, f.body.byteLength);
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

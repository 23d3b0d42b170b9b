/**
 * The samples of a loaded dataset, for the dashboard (and anyone with curl):
 *
 * - GET /v1/datasets/{id}/samples: a page of a stored list (entry, label, class).
 * - GET /v1/datasets/{id}/samples/{n}/spectrogram.png: the uint16 spectrogram the model is
 *   fed for sample n of a subset (from its feature shard, or computed by the same shard
 *   computation when the shard does not exist yet), drawn by renderSpectrogramPng
 *   (viridis, time and channel axes, colour bar); computing and drawing run on the DSP
 *   pool (ctx.dsp), off the event loop.
 * - GET /v1/datasets/{id}/samples/{n}/audio.wav: the clip's file as it is on disk (index
 *   entries are resolved with clipPath's containment checks); a `_silence_` sample is a
 *   generated WAV of sample_length_ms zeros, which is what the model hears.
 * - POST /v1/datasets/{id}/samples/{n}/augmented/audio.wav and …/augmented/spectrogram.png:
 *   the sample augmented by a recipe (the body's `augmentation`, validated by the
 *   registration's schema, or the dataset's own) with a seed, computed by the augmented
 *   epochs' code (FeatureService.augmentedPreview); the drawn transform is in the
 *   X-Audiofeed-Transform header.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { readBounded } from '../../src/core/audio/load.ts';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import { SubsetName } from '../../src/core/schemas.ts';
import type { TransformParams } from '../../src/core/audio/augment/index.ts';
import { AugmentationSchema } from '../../src/services/registry/schemas.ts';
import { clipPath } from '../../src/services/features/compute-shard.ts';
import { silenceWav } from '../../src/services/features/preview.ts';
import { loadedText, sampleAt, storedList, subsetDir } from '../../src/services/registry/subsets.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';
import type { AppContext } from '../context.ts';
import { IdParams, SampleParams, StoredSubsetQuery } from './schemas.ts';

/** The body of the augmentation preview: which list, the draws' seed, the recipe. */
const AugmentedPreviewBody = Type.Object(
  {
    subset: Type.Optional(SubsetName),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, description: 'Seeds the draws (default 0): the same seed and recipe give the same clip' })),
    augmentation: Type.Optional(AugmentationSchema),
  },
  { additionalProperties: false },
);
type AugmentedPreviewBodyT = Static<typeof AugmentedPreviewBody>;

/** The drawn transform, for the X-Audiofeed-Transform header (JSON, MLTK's terms). */
function transformHeader(p: TransformParams): string {
  return JSON.stringify({
    offset: p.offset,
    loudness: p.loudness,
    noise_color: p.noiseColor,
    noise_factor: p.noiseFactor,
    bg_noise: p.bgNoise,
    bg_noise_factor: p.bgFactor,
    speed: p.speed,
    pitch: p.pitch,
    vtlp: p.vtlp,
  });
}

const samples: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['datasets'];
  const config = { scope: 'read' } as const;

  app.get(
    '/:id/samples',
    {
      config,
      schema: {
        tags,
        params: IdParams,
        querystring: Type.Object(
          {
            subset: Type.Optional(SubsetName),
            offset: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const rec = await ctx.registry.get(req.params.id);
      const subsetName = req.query.subset ?? 'training';
      const subsets = await ctx.registry.subsets(req.params.id);
      const subset = storedList(rec, subsets, subsetName);
      if (!subset) {
        throw new NotFoundError('subset', `dataset ${rec.id} has no ${subsetName} subset loaded (loaded: ${loadedText(rec)})`);
      }
      const offset = req.query.offset ?? 0;
      const limit = req.query.limit ?? 100;
      const items = subset.entries.slice(offset, offset + limit).map((entry, i) => ({
        index: offset + i,
        entry,
        label: subset.labels[offset + i]!,
        class: rec.settings.classes[subset.labels[offset + i]!]!,
      }));
      return { subset: subsetName, total: subset.entries.length, offset, items };
    },
  );

  app.get(
    '/:id/samples/:n/spectrogram.png',
    {
      config,
      schema: {
        tags,
        summary: 'The spectrogram the model sees for sample n (from the feature shard, or computed the same way)',
        params: SampleParams,
        querystring: Type.Object(
          {
            subset: Type.Optional(SubsetName),
            scale: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, description: 'Pixels per cell side (default 3)' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subset = req.query.subset ?? 'training';
      const sample = sampleAt(rec, await ctx.registry.subsets(rec.id), subset, req.params.n);
      const s = await ctx.features.sampleSpectrogram(rec, sample);
      const png = await spectrogramPng(rec, s, req.query.scale ?? 3, `${sample.className} ${subset} ${sample.position}`);
      return reply
        .type('image/png')
        .header('cache-control', 'private, no-cache')
        .header('x-audiofeed-shape', `${s.height},${s.width}`)
        .header('x-audiofeed-dtype', 'uint16')
        .header('x-audiofeed-features-source', s.source)
        .send(png);
    },
  );

  app.get(
    '/:id/samples/:n/audio.wav',
    {
      config,
      schema: {
        tags,
        summary: "The clip's WAV file (a `_silence_` sample: generated silence of the sample length)",
        params: SampleParams,
        querystring: StoredSubsetQuery,
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const sample = sampleAt(rec, await ctx.registry.subsets(rec.id), req.query.subset ?? 'training', req.params.n);
      reply.type('audio/wav').header('cache-control', 'private, no-cache');
      if (sample.entry === null) return reply.header('x-audiofeed-generated', 'silence').send(silenceWav(rec));
      // Containment (no absolute paths, no `..`, links must stay in the data root), then a
      // bounded read of a regular file.
      const { datasetDir, root } = subsetDir(rec, sample.list);
      const file = await clipPath(datasetDir, root, sample.entry);
      return reply.send(Buffer.from(await readBounded(file)));
    },
  );

  const previewSchema = (summary: string) => ({
    tags,
    summary,
    params: SampleParams,
    body: AugmentedPreviewBody,
  });

  /** A uint16 spectrogram drawn as a PNG on the DSP pool (a Buffer: it crosses the thread as a Uint8Array). */
  async function spectrogramPng(rec: DatasetRecord, s: { values: Uint16Array; height: number; width: number }, scale: number, title: string): Promise<Buffer> {
    const png = await ctx.dsp.run({
      kind: 'spectrogram-png',
      values: s.values,
      height: s.height,
      width: s.width,
      options: { scale, title, stepMs: rec.settings.frontend_settings.window_step_ms },
    });
    return Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  }

  /** Finds the sample and computes its augmented preview (the recipe validated by the service, as at registration). */
  async function augmented(params: { id: string; n: number }, body: AugmentedPreviewBodyT | undefined) {
    const rec = await ctx.registry.get(params.id);
    const sample = sampleAt(rec, await ctx.registry.subsets(rec.id), body?.subset ?? 'training', params.n);
    const seed = body?.seed ?? 0;
    const preview = await ctx.features.augmentedPreview(rec, sample, body?.augmentation, seed);
    return { rec, sample, seed, preview };
  }

  app.post(
    '/:id/samples/:n/augmented/audio.wav',
    {
      config: { ...config, bodyOptional: true },
      schema: previewSchema('Sample n augmented by a recipe (default: the dataset\'s augmentation) and a seed: the 16-bit WAV the frontend is fed'),
    },
    async (req, reply) => {
      const { seed, preview } = await augmented(req.params, req.body);
      return reply
        .type('audio/wav')
        .header('cache-control', 'private, no-store')
        .header('x-audiofeed-seed', String(seed))
        .header('x-audiofeed-transform', transformHeader(preview.params))
        .send(preview.wav);
    },
  );

  app.post(
    '/:id/samples/:n/augmented/spectrogram.png',
    {
      config: { ...config, bodyOptional: true },
      schema: previewSchema('Sample n augmented by a recipe (default: the dataset\'s augmentation) and a seed: its spectrogram'),
    },
    async (req, reply) => {
      const { rec, sample, seed, preview } = await augmented(req.params, req.body);
      if (!preview.spectrogram) {
        throw new ConflictError(
          'frontend-disabled',
          `dataset ${rec.id} is registered with frontend_enabled = false: its samples are audio, not spectrograms (ask for …/augmented/audio.wav instead)`,
        );
      }
      const s = preview.spectrogram;
      const png = await spectrogramPng(rec, s, 3, `${sample.className} ${sample.subset} ${sample.position} augmented (seed ${seed})`);
      return reply
        .type('image/png')
        .header('cache-control', 'private, no-store')
        .header('x-audiofeed-shape', `${s.height},${s.width}`)
        .header('x-audiofeed-dtype', 'uint16')
        .header('x-audiofeed-seed', String(seed))
        .header('x-audiofeed-transform', transformHeader(preview.params))
        .send(png);
    },
  );
};

export default samples;

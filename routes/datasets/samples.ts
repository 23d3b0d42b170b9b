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
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { readBounded } from '../../src/core/audio/load.ts';
import { NotFoundError } from '../../src/core/errors.ts';
import { SubsetName } from '../../src/core/schemas.ts';
import { clipPath } from '../../src/services/features/compute-shard.ts';
import { silenceWav } from '../../src/services/features/preview.ts';
import { loadedText, sampleAt, storedList, subsetDir } from '../../src/services/registry/subsets.ts';
import type { AppContext } from '../context.ts';
import { IdParams, SampleParams, StoredSubsetQuery } from './schemas.ts';

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
      const png = await ctx.dsp.run({
        kind: 'spectrogram-png',
        values: s.values,
        height: s.height,
        width: s.width,
        options: {
          scale: req.query.scale ?? 3,
          title: `${sample.className} ${subset} ${sample.position}`,
          stepMs: rec.settings.frontend_settings.window_step_ms,
        },
      });
      return reply
        .type('image/png')
        .header('cache-control', 'private, no-cache')
        .header('x-audiofeed-shape', `${s.height},${s.width}`)
        .header('x-audiofeed-dtype', 'uint16')
        .header('x-audiofeed-features-source', s.source)
        .send(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
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
};

export default samples;

/**
 * Previews of single dataset samples for the dashboard (and anyone with curl):
 *
 * - GET /v1/datasets/{id}/samples/{n}/spectrogram.png: the uint16 spectrogram the model is
 *   fed for sample n of a subset (from its feature shard, or computed by the same shard
 *   computation when the shard does not exist yet), drawn by renderSpectrogramPng
 *   (viridis, time and channel axes, colour bar).
 * - GET /v1/datasets/{id}/samples/{n}/audio.wav: the clip's file as it is on disk (index
 *   entries are resolved with clipPath's containment checks); a `_silence_` sample is a
 *   generated WAV of sample_length_ms zeros, which is what the model hears.
 * - GET /v1/datasets/{id}/jobs: the featurization jobs of the dataset's loaded subsets
 *   (job ids derive from content, so they are found without a listing), for dashboards
 *   that show progress of jobs they did not start.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../app.ts';
import { readBounded } from '../../src/core/audio/load.ts';
import { clipPath } from '../../src/services/features/compute-shard.ts';
import { planSubset } from '../../src/services/features/plan.ts';
import { sampleAt, sampleSpectrogram, silenceWav, type PreviewSubset } from '../../src/services/features/preview.ts';
import { jobProgress } from '../../jobs/progress.ts';
import { cancelKey, parentJobId } from '../../jobs/queues.ts';
import { renderSpectrogramPng } from '../../src/core/render/spectrogram-png.ts';
import { DatasetId } from '../../src/services/registry/schemas.ts';
import { featureSpecOf } from '../../src/services/epochs/epoch-plan.ts';

const SampleParams = Type.Object(
  { id: DatasetId, n: Type.Integer({ minimum: 0, description: 'Position of the sample in the subset (as in GET …/samples)' }) },
  { additionalProperties: false },
);
const SubsetQuery = Type.Union([Type.Literal('training'), Type.Literal('validation')], { description: 'default training' });

const samples: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['datasets'];

  app.get(
    '/:id/samples/:n/spectrogram.png',
    {
      schema: {
        tags,
        summary: 'The spectrogram the model sees for sample n (from the feature shard, or computed the same way)',
        params: SampleParams,
        querystring: Type.Object(
          {
            subset: Type.Optional(SubsetQuery),
            scale: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, description: 'Pixels per cell side (default 3)' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subset: PreviewSubset = req.query.subset ?? 'training';
      const sample = sampleAt(rec, await ctx.registry.subsets(rec.id), subset, req.params.n);
      const s = await sampleSpectrogram(rec, sample, ctx.featuresDir, ctx.frontend);
      const png = renderSpectrogramPng(s.values, s.height, s.width, {
        scale: req.query.scale ?? 3,
        title: `${sample.className} ${subset} ${sample.position}`,
        stepMs: rec.settings.frontend_settings.window_step_ms,
      });
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
      schema: {
        tags,
        summary: "The clip's WAV file (a `_silence_` sample: generated silence of the sample length)",
        params: SampleParams,
        querystring: Type.Object({ subset: Type.Optional(SubsetQuery) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const sample = sampleAt(rec, await ctx.registry.subsets(rec.id), req.query.subset ?? 'training', req.params.n);
      reply.type('audio/wav').header('cache-control', 'private, no-cache');
      if (sample.entry === null) return reply.header('x-audiofeed-generated', 'silence').send(silenceWav(rec));
      // Containment (no absolute paths, no `..`, links must stay in the data root), then a
      // bounded read of a regular file.
      const file = await clipPath(rec.dataset_dir, rec.data_root, sample.entry);
      return reply.send(Buffer.from(await readBounded(file)));
    },
  );

  app.get(
    '/:id/jobs',
    {
      schema: {
        tags,
        summary: 'Featurization jobs of the loaded subsets (progress as GET /v1/jobs/{id}), for dashboards',
        params: Type.Object({ id: DatasetId }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const rec = await ctx.registry.get(req.params.id);
      const subsets = await ctx.registry.subsets(rec.id);
      const spec = featureSpecOf(rec);
      const jobs = [];
      for (const name of ['training', 'validation'] as const) {
        const subset = subsets[name];
        if (!subset) continue;
        const id = parentJobId(planSubset(rec.dataset_dir, subset.entries, spec, ctx.featuresDir));
        const cancelled = (await ctx.redis.exists(cancelKey(ctx.config.keyPrefix, id))) === 1;
        if (!(await ctx.queues.featurize.getJob(id))) {
          if (cancelled) jobs.push({ subset: name, id, state: 'cancelled', cancelled: true, status_url: `/v1/jobs/${id}`, events_url: `/v1/jobs/${id}/events` });
          continue;
        }
        const progress = await jobProgress(ctx.queues, id, cancelled);
        jobs.push({ ...progress, subset: name, status_url: `/v1/jobs/${id}`, events_url: `/v1/jobs/${id}/events` });
      }
      return { jobs };
    },
  );
};

export default samples;

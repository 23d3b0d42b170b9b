/**
 * Dataset-scoped training helpers: start a featurization (202 + job), upload per-sample
 * weights, and the validation schedule (Keras validation_freq).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../app.ts';
import { IdParams } from '../../src/services/registry/schemas.ts';
import { saveSampleWeights } from '../../src/services/registry/sample-weights.ts';
import { planEpoch, subsetFor } from '../../src/services/epochs/epoch-plan.ts';
import { validationSchedule } from '../../src/services/epochs/validation-schedule.ts';

const SubsetName = Type.Union([Type.Literal('training'), Type.Literal('validation'), Type.Literal('evaluation')]);

const featurize: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post(
    '/:id/featurize',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Featurize a subset on the workers (cached; a repeated request reuses the job)',
        params: IdParams,
        body: Type.Optional(Type.Object({ subset: Type.Optional(SubsetName) }, { additionalProperties: false })),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subset = req.body?.subset ?? 'training';
      const ep = planEpoch(rec, await ctx.registry.subsets(rec.id), { subset, epoch: 0, shuffle: false }, ctx.featuresDir);
      const { jobId, created } = await ctx.queues.ensureFeaturized({
        datasetId: rec.id,
        subset: subset === 'evaluation' ? 'validation' : subset,
        datasetDir: rec.dataset_dir,
        root: rec.data_root,
        entries: ep.subset.entries,
        spec: ep.spec,
        plan: ep.plan,
        requestId: req.id,
      });
      req.log.info({ jobId, created, dataset: rec.id }, 'featurization requested');
      return reply
        .code(202)
        .header('location', `/v1/jobs/${jobId}`)
        .send({ job_id: jobId, created, status_url: `/v1/jobs/${jobId}`, events_url: `/v1/jobs/${jobId}/events` });
    },
  );

  app.post(
    '/:id/sample-weights',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Upload one weight per sample of a subset (Keras sample_weight); returns the id for ?sample_weight_id=',
        params: IdParams,
        body: Type.Object(
          { subset: Type.Optional(SubsetName), weights: Type.Array(Type.Number(), { maxItems: 10_000_000 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subset = subsetFor(rec, await ctx.registry.subsets(rec.id), req.body.subset ?? 'training');
      const saved = await saveSampleWeights(rec, req.body.weights, subset.entries.length);
      return reply.code(201).send({ sample_weight_id: saved.id, length: saved.length });
    },
  );

  app.get(
    '/:id/validation-schedule',
    {
      schema: {
        tags: ['datasets'],
        summary: 'For each epoch, whether Keras runs validation after it (validation_freq)',
        params: IdParams,
        querystring: Type.Object(
          {
            epochs: Type.Integer({ minimum: 1, maximum: 100_000, description: 'How many epochs to answer for' }),
            validation_freq: Type.Optional(Type.Integer({ minimum: 1, description: 'Validate after every N-th epoch (default 1)' })),
            validation_epochs: Type.Optional(
              Type.String({ pattern: '^[1-9][0-9]*(,[1-9][0-9]*)*$', description: 'Or: comma list of 1-based epochs (Keras list form)' }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      await ctx.registry.get(req.params.id);
      const freq = req.query.validation_epochs ? req.query.validation_epochs.split(',').map(Number) : (req.query.validation_freq ?? 1);
      return { epochs: validationSchedule(req.query.epochs, freq) };
    },
  );
};

export default featurize;

/**
 * POST /v1/datasets/{id}/sample-weights: one weight per sample of a subset (Keras
 * sample_weight, which MLTK's generator cannot take); the answer's id is the
 * `sample_weight_id` of GET …/batches. Read scope, like starting a featurization.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { saveSampleWeights } from '../../src/services/registry/sample-weights.ts';
import { subsetFor } from '../../src/services/registry/subsets.ts';
import type { AppContext } from '../context.ts';
import { IdParams, SubsetBody } from './schemas.ts';

const sampleWeights: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post(
    '/:id/sample-weights',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['datasets'],
        summary: 'Upload one weight per sample of a subset (Keras sample_weight); returns the id for ?sample_weight_id=',
        params: IdParams,
        body: Type.Object({ ...SubsetBody, weights: Type.Array(Type.Number(), { maxItems: 10_000_000 }) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subset = subsetFor(rec, await ctx.registry.subsets(rec.id), req.body.subset ?? 'training');
      const saved = await saveSampleWeights(rec, req.body.weights, subset.entries.length);
      return reply.code(201).send({ sample_weight_id: saved.id, length: saved.length });
    },
  );
};

export default sampleWeights;

/**
 * POST /v1/datasets/{id}/featurize: featurize a subset on the workers (202 and a job;
 * a repeated request reuses the job). Read scope: a training client needs it, and
 * streaming batches starts the same featurization anyway.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { jobLinks } from '../../src/services/features/service.ts';
import type { AppContext } from '../context.ts';
import { IdParams, SubsetBody } from './schemas.ts';

const featurize: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post(
    '/:id/featurize',
    {
      config: { scope: 'read', bodyOptional: true },
      schema: {
        tags: ['datasets'],
        summary: 'Featurize a subset on the workers (cached; a repeated request reuses the job)',
        params: IdParams,
        body: Type.Object(SubsetBody, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subsets = await ctx.registry.subsets(rec.id);
      const { jobId, created } = await ctx.features.featurize(rec, subsets, req.body.subset ?? 'training', req.id);
      req.log.info({ jobId, created, dataset: rec.id }, 'featurization requested');
      return reply
        .code(202)
        .header('location', `/v1/jobs/${jobId}`)
        .send({ job_id: jobId, created, ...jobLinks(jobId) });
    },
  );
};

export default featurize;

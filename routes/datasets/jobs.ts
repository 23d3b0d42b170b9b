/**
 * GET /v1/datasets/{id}/jobs: the featurization jobs of the dataset's loaded subsets
 * (job ids derive from content, so they are found without a listing), for dashboards
 * that show progress of jobs they did not start.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../context.ts';
import { IdParams } from './schemas.ts';

const datasetJobs: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/:id/jobs',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['datasets'],
        summary: 'Featurization jobs of the loaded subsets (progress as GET /v1/jobs/{id}), for dashboards',
        params: IdParams,
      },
    },
    async (req) => {
      const rec = await ctx.registry.get(req.params.id);
      return { jobs: await ctx.features.jobs(rec, await ctx.registry.subsets(rec.id)) };
    },
  );
};

export default datasetJobs;

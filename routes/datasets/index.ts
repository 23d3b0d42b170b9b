/**
 * The /v1/datasets resource: every route under /v1/datasets, one file per sub-resource
 * beside its schemas (./schemas.ts). Each file is its own encapsulated plugin, so a
 * content-type parser or hook of one (the index tar of ./registry.ts) stays in it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.ts';
import registry from './registry.ts';
import samples from './samples.ts';
import batches from './batches.ts';
import featurize from './featurize.ts';
import sampleWeights from './sample-weights.ts';
import validationSchedule from './validation-schedule.ts';
import jobs from './jobs.ts';
import datagen from './datagen.ts';

const datasets: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  for (const routes of [registry, samples, batches, featurize, sampleWeights, validationSchedule, jobs, datagen]) {
    await app.register(routes, { ctx });
  }
};

export default datasets;

/** GET /v1/datasets/{id}/validation-schedule: for each epoch, whether Keras runs validation after it (validation_freq). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { validationSchedule } from '../../src/services/epochs/validation-schedule.ts';
import type { AppContext } from '../context.ts';
import { IdParams } from './schemas.ts';

const validationScheduleRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/:id/validation-schedule',
    {
      config: { scope: 'read' },
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

export default validationScheduleRoutes;

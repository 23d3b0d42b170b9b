/**
 * GET /v1/datasets/{id}/datagen: MLTK's datagen_context / get_datagen_creator — what the
 * generator of one subset would use (batch size, shuffle, seed, augmentation, class
 * mode, dtype, standardization, sample and batch counts, whether validation runs after an epoch), for the
 * same Keras query parameters the batches route takes. Errors are problem+json (409 when
 * the subset is not loaded, 422 for bad settings).
 */
import { MAX_BATCH_SIZE } from '../../src/core/datasets/batch-order.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ClassMode, FeatureDtype, SubsetName } from '../../src/core/schemas.ts';
import { StandardizationSchema } from '../../src/core/tensors/standardize.ts';
import { datagenContext } from '../../src/services/epochs/datagen.ts';
import type { AppContext } from '../context.ts';
import { IdParams } from './schemas.ts';

export const DatagenQuery = Type.Object(
  {
    subset: Type.Optional(SubsetName),
    epoch: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: '0-based epoch: answers whether validation runs after it' })),
    batch_size: Type.Optional(Type.Integer({ minimum: -1, maximum: MAX_BATCH_SIZE })),
    validation_batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BATCH_SIZE })),
    shuffle: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('batch')])),
    steps_per_epoch: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    validation_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    class_mode: Type.Optional(
      Type.Union([Type.Literal('categorical'), Type.Literal('binary'), Type.Literal('sparse'), Type.Literal('input'), Type.Literal('none')]),
    ),
    dtype: Type.Optional(FeatureDtype),
    augment: Type.Optional(Type.Boolean()),
    validation_freq: Type.Optional(Type.Integer({ minimum: 1, description: 'Validate after every N-th epoch (default 1)' })),
    validation_epochs: Type.Optional(
      Type.String({ pattern: '^[1-9][0-9]*(,[1-9][0-9]*)*$', description: 'Or: comma list of 1-based epochs (Keras list form)' }),
    ),
  },
  { additionalProperties: false },
);
export type DatagenQuery = Static<typeof DatagenQuery>;

export const DatagenView = Type.Object(
  {
    subset: SubsetName,
    batch_size: Type.Integer(),
    shuffle: Type.Boolean(),
    seed: Type.Union([Type.Integer(), Type.Null()]),
    effective_seed: Type.Integer({ description: 'The seed the epoch order is drawn with (43 when seed is null, as MLTK)' }),
    augmentation: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: 'The augmentation settings this subset is generated with, or null',
    }),
    class_mode: ClassMode,
    dtype: FeatureDtype,
    // MLTK's standardization x gets (then dtype is float32).
    ...StandardizationSchema.properties,
    samples: Type.Integer(),
    batches_per_epoch: Type.Integer({ description: 'ceil(samples / batch_size)' }),
    steps_per_epoch: Type.Union([Type.Integer(), Type.Null()], { description: 'steps_per_epoch (validation: validation_steps) when given' }),
    batches: Type.Integer({ description: 'Batches a stream of this subset sends per epoch' }),
    x_shape: Type.Array(Type.Integer()),
    classes: Type.Array(Type.String()),
    validation_freq: Type.Union([Type.Integer(), Type.Array(Type.Integer())]),
    epoch: Type.Union([Type.Integer(), Type.Null()]),
    validation_after_epoch: Type.Union([Type.Boolean(), Type.Null()], { description: 'With epoch: whether Keras runs validation after it' }),
  },
  { additionalProperties: false },
);

const datagen: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/:id/datagen',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['datasets'],
        summary: "What a subset's generator would use (MLTK datagen_context): batch size, shuffle, seed, augmentation, counts",
        params: IdParams,
        querystring: DatagenQuery,
        response: { 200: DatagenView },
      },
    },
    async (req) => {
      const q = req.query;
      const rec = await ctx.registry.get(req.params.id);
      const subsets = await ctx.registry.subsets(rec.id);
      const out = datagenContext(rec, subsets, {
        subset: q.subset ?? 'training',
        epoch: q.epoch,
        batchSize: q.batch_size,
        validationBatchSize: q.validation_batch_size,
        shuffle: q.shuffle === undefined ? undefined : q.shuffle !== 'false',
        stepsPerEpoch: q.steps_per_epoch,
        validationSteps: q.validation_steps,
        classMode: q.class_mode === undefined ? undefined : q.class_mode === 'none' ? null : q.class_mode,
        dtype: q.dtype,
        augment: q.augment,
        validationFreq: q.validation_epochs ? q.validation_epochs.split(',').map(Number) : q.validation_freq,
      });
      return { ...out, augmentation: out.augmentation as unknown as Record<string, unknown> | null };
    },
  );
};

export default datagen;

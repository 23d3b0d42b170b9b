/**
 * GET /v1/datasets/{id}/batches: streams one epoch (or a slice of one) as Arrow IPC or
 * an .npy stream, starting as soon as the first shard it needs exists. Missing shards
 * are queued in the order this epoch needs them. The body is a pull stream: a slow
 * client slows the producer down, so memory stays bounded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../app.ts';
import { IdParams } from '../../src/services/registry/schemas.ts';
import { SHARD_SIZE } from '../../src/services/features/plan.ts';
import { noWorkers } from '../../src/services/features/wait.ts';
import { augmentedProducer, cachedProducer } from '../../src/services/epochs/producers.ts';
import { isAugmentationActive, type ResolvedAugmentation } from '../../src/core/audio/augment/index.ts';
import { createBatchEncoder } from '../../src/core/tensors/batch-encoder.ts';
import { planEpoch, shardPriorities, type EpochPlan, type SubsetName } from '../../src/services/epochs/epoch-plan.ts';
import { loadSampleWeights } from '../../src/services/registry/sample-weights.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';
import type { ClassMode } from '../../src/core/datasets/index.ts';

export const BatchQuery = Type.Object(
  {
    subset: Type.Optional(Type.Union([Type.Literal('training'), Type.Literal('validation'), Type.Literal('evaluation')])),
    epoch: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    batch_size: Type.Optional(Type.Integer({ minimum: -1, maximum: 65536 })),
    validation_batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    shuffle: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('batch')])),
    steps_per_epoch: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    validation_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    class_mode: Type.Optional(
      Type.Union([Type.Literal('categorical'), Type.Literal('binary'), Type.Literal('sparse'), Type.Literal('input'), Type.Literal('none')]),
    ),
    dtype: Type.Optional(Type.Union([Type.Literal('float32'), Type.Literal('int8'), Type.Literal('uint16')])),
    class_weight: Type.Optional(Type.Boolean()),
    sample_weight_id: Type.Optional(Type.String({ pattern: '^[a-f0-9]{16,64}$' })),
    from_batch: Type.Optional(Type.Integer({ minimum: 0 })),
    format: Type.Optional(Type.Union([Type.Literal('arrow'), Type.Literal('npy')])),
    augment: Type.Optional(Type.Boolean({ description: 'Apply the dataset augmentation (default true; training, and validation when validation_augmentation_enabled)' })),
  },
  { additionalProperties: false },
);

export type BatchQueryT = {
  subset?: SubsetName;
  epoch?: number;
  batch_size?: number;
  validation_batch_size?: number;
  shuffle?: 'true' | 'false' | 'batch';
  steps_per_epoch?: number;
  validation_steps?: number;
  class_mode?: 'categorical' | 'binary' | 'sparse' | 'input' | 'none';
  dtype?: 'float32' | 'int8' | 'uint16';
  class_weight?: boolean;
  sample_weight_id?: string;
  from_batch?: number;
  format?: 'arrow' | 'npy';
  augment?: boolean;
};

/**
 * MLTK augments training batches, and validation batches when
 * validation_augmentation_enabled; evaluation never (eval_augment is off).
 */
export function augmentationFor(rec: DatasetRecord, subset: SubsetName, wanted: boolean): ResolvedAugmentation | null {
  const a = rec.settings.augmentation;
  if (!wanted || !a || !isAugmentationActive(a)) return null;
  if (subset === 'training') return a;
  if (subset === 'validation' && a.validation_augmentation_enabled) return a;
  return null;
}

export async function planFromQuery(ctx: AppContext, rec: DatasetRecord, q: BatchQueryT): Promise<EpochPlan> {
  const subsets = await ctx.registry.subsets(rec.id);
  const subset = q.subset ?? 'training';
  const classMode: ClassMode | undefined = q.class_mode === undefined ? undefined : q.class_mode === 'none' ? null : q.class_mode;
  return planEpoch(
    rec,
    subsets,
    {
      subset,
      epoch: q.epoch ?? 0,
      batchSize: subset === 'training' ? q.batch_size : (q.validation_batch_size ?? q.batch_size),
      shuffle: q.shuffle === undefined ? undefined : q.shuffle === 'false' ? false : q.shuffle === 'batch' ? 'batch' : true,
      stepsPerEpoch: q.steps_per_epoch,
      validationSteps: q.validation_steps,
      classMode,
      dtype: q.dtype,
      classWeight: q.class_weight,
      sampleWeights: q.sample_weight_id ? await loadSampleWeights(rec, q.sample_weight_id) : null,
      fromBatch: q.from_batch,
    },
    ctx.featuresDir,
  );
}

const batches: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/:id/batches',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Stream an epoch of batches (Arrow IPC stream, or .npy stream with format=npy)',
        params: IdParams,
        querystring: BatchQuery,
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const q = req.query as BatchQueryT;
      const ep = await planFromQuery(ctx, rec, q);
      const prio = shardPriorities(ep.plan, ep.batches.slice(ep.fromBatch), SHARD_SIZE);
      const subsetName = q.subset ?? 'training';
      const ensure = async () => {
        await ctx.queues.ensureFeaturized({
          datasetId: rec.id,
          subset: subsetName === 'evaluation' ? 'validation' : subsetName,
          datasetDir: rec.dataset_dir,
          root: rec.data_root,
          entries: ep.subset.entries,
          spec: ep.spec,
          plan: ep.plan,
          priorityOf: (i) => prio.get(i) ?? i + 1,
          requestId: req.id,
        });
      };
      const augmentation = augmentationFor(rec, subsetName, q.augment ?? true);
      if (augmentation) {
        if ((await ctx.queues.augment.getWorkersCount()) === 0) throw noWorkers();
      } else {
        await ensure();
        const missing = ep.plan.shards.some((sh) => !fs.existsSync(sh.file));
        if (missing && (await ctx.queues.shards.getWorkersCount()) === 0) throw noWorkers();
      }

      const format = q.format ?? (/application\/x-npy-stream/.test(req.headers.accept ?? '') ? 'npy' : 'arrow');
      const columns = ['x'];
      if (ep.classMode !== null) columns.push('y');
      if (ep.source.sampleWeights) columns.push('sample_weight');
      const encoder = createBatchEncoder(format, {
        xShape: ep.xShape,
        xDtype: ep.dtype,
        yKind: ep.classMode === null ? 'none' : ep.classMode === 'input' ? 'input' : ep.classMode === 'categorical' ? 'categorical' : 'scalar',
        numClasses: rec.settings.classes.length,
        yDtype: ep.dtype,
        sampleWeight: ep.source.sampleWeights !== null,
        metadata: {
          'audiofeed.dataset': rec.id,
          'audiofeed.subset': subsetName,
          'audiofeed.epoch': String(q.epoch ?? 0),
          'audiofeed.from_batch': String(ep.fromBatch),
          'audiofeed.batches': String(ep.batches.length - ep.fromBatch),
          'audiofeed.class_mode': String(ep.classMode),
          'audiofeed.classes': JSON.stringify(rec.settings.classes),
        },
      });

      const abort = new AbortController();
      req.raw.on('close', () => abort.abort(new Error('client went away')));
      const todo = ep.batches.slice(ep.fromBatch);
      const producer = augmentation
        ? augmentedProducer(
            {
              rec,
              ep,
              todo,
              firstBatch: ep.fromBatch,
              epoch: q.epoch ?? 0,
              augmentation,
              tmpDir: path.join(ctx.config.dataDir, 'tmp', 'augment'),
              requestId: req.id,
            },
            ctx.queues,
            abort.signal,
          )
        : cachedProducer(ep, todo, ctx.queues, abort.signal, ensure);
      async function* body(): AsyncGenerator<Uint8Array> {
        try {
          for (const chunk of encoder.begin()) yield chunk;
          for (let k = 0; k < todo.length; k++) {
            for (const chunk of encoder.batch(await producer.batch(k))) yield chunk;
          }
          for (const chunk of encoder.end()) yield chunk;
        } finally {
          await producer.close();
        }
      }
      const stream = Readable.from(body(), { objectMode: false, highWaterMark: 1 << 20 });
      stream.on('error', (err) => {
        req.log.warn({ err: err.message }, 'batch stream aborted');
        // The status line is gone: end the connection so the client sees a broken stream, not a short one.
        reply.raw.destroy(err);
      });
      return reply
        .header('content-type', encoder.contentType)
        .header('x-audiofeed-batches', String(todo.length))
        .header('x-audiofeed-from-batch', String(ep.fromBatch))
        .header('x-audiofeed-columns', columns.join(','))
        .header('x-audiofeed-x-shape', JSON.stringify(ep.xShape))
        .header('x-audiofeed-dtype', ep.dtype)
        .header('cache-control', 'no-store')
        .send(stream);
    },
  );
};

export default batches;

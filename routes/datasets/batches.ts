/**
 * GET /v1/datasets/{id}/batches: streams one epoch (or a slice of one) as Arrow IPC or
 * an .npy stream, starting as soon as the first shard it needs exists. The route maps
 * the Keras-named query onto the epoch service (src/services/epochs/stream.ts), which
 * plans, queues and encodes; the body is a pull stream, so a slow client slows the
 * producer down and memory stays bounded.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { EpochStreamRequest } from '../../src/services/epochs/stream.ts';
import type { AppContext } from '../context.ts';
import { BatchQuery, IdParams } from './schemas.ts';

/** The query (Keras `fit` names) as the epoch service's request. */
export function epochRequestOf(q: BatchQuery, accept: string | undefined): Omit<EpochStreamRequest, 'requestId' | 'signal'> {
  const subset = q.subset ?? 'training';
  return {
    subset,
    epoch: q.epoch ?? 0,
    batchSize: subset === 'training' ? q.batch_size : (q.validation_batch_size ?? q.batch_size),
    shuffle: q.shuffle === undefined ? undefined : q.shuffle === 'false' ? false : q.shuffle === 'batch' ? 'batch' : true,
    stepsPerEpoch: q.steps_per_epoch,
    validationSteps: q.validation_steps,
    classMode: q.class_mode === undefined ? undefined : q.class_mode === 'none' ? null : q.class_mode,
    dtype: q.dtype,
    classWeight: q.class_weight,
    sampleWeightId: q.sample_weight_id,
    fromBatch: q.from_batch,
    augment: q.augment,
    format: q.format ?? (/application\/x-npy-stream/.test(accept ?? '') ? 'npy' : 'arrow'),
  };
}

const batches: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/:id/batches',
    {
      config: { scope: 'read', stream: 'batches' },
      schema: {
        tags: ['datasets'],
        summary: 'Stream an epoch of batches (Arrow IPC stream, or .npy stream with format=npy)',
        params: IdParams,
        querystring: BatchQuery,
      },
    },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subsets = await ctx.registry.subsets(rec.id);
      const abort = new AbortController();
      const epoch = await ctx.epochs.open(rec, subsets, {
        ...epochRequestOf(req.query, req.headers.accept),
        requestId: req.id,
        signal: abort.signal,
      });
      req.raw.on('close', () => abort.abort(new Error('client went away')));
      const stream = Readable.from(epoch.chunks(), { objectMode: false, highWaterMark: 1 << 20 });
      stream.on('error', (err) => {
        req.log.warn({ err: err.message }, 'batch stream aborted');
        // The status line is gone: end the connection so the client sees a broken stream, not a short one.
        reply.raw.destroy(err);
      });
      return reply
        .header('content-type', epoch.encoder.contentType)
        .header('x-audiofeed-batches', String(epoch.batches))
        .header('x-audiofeed-from-batch', String(epoch.plan.fromBatch))
        .header('x-audiofeed-columns', epoch.columns.join(','))
        .header('x-audiofeed-x-shape', JSON.stringify(epoch.plan.xShape))
        .header('x-audiofeed-dtype', epoch.plan.dtype)
        .header('cache-control', 'no-store')
        .send(stream);
    },
  );
};

export default batches;

/**
 * GET /v1/datasets/{id}/batches: streams one epoch (or a slice of one) as Arrow IPC or
 * an .npy stream, starting as soon as the first shard it needs exists. The route maps
 * the Keras-named query onto the epoch service (src/services/epochs/stream.ts), which
 * plans, queues and encodes; the body is a pull stream, so a slow client slows the
 * producer down and memory stays bounded.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { epochEncoder, type EpochStreamRequest } from '../../src/services/epochs/stream.ts';
import { epochBatchRows, planEpoch } from '../../src/services/epochs/epoch-plan.ts';
import { deliveredDtype } from '../../src/services/features/plan.ts';
import { loadSampleWeights } from '../../src/services/registry/sample-weights.ts';
import type { DatasetRecord, StoredSubsets } from '../../src/services/registry/types.ts';
import { assertBatchFits, batchBytes, streamReservationBytes } from '../../src/services/stream-budget.ts';
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

/**
 * Bytes of the largest batch the request emits, its rows from the epoch plan (a batch_size
 * above the subset's size is filled with repeats, not capped): MAX_BATCH_BYTES is checked
 * against it, and a stream reserves its budget from it. Nothing is planned or allocated before.
 */
function requestedBatchBytes(rec: DatasetRecord, subsets: StoredSubsets, req: ReturnType<typeof epochRequestOf>, maxBatchBytes: number): number {
  const rows = Math.max(1, epochBatchRows(rec, subsets, req));
  const bytes = batchBytes(rows, rec.audio_input_shape, deliveredDtype(rec, req.dtype), rec.settings.classes.length);
  assertBatchFits(bytes, maxBatchBytes, rows);
  return bytes;
}

const batches: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/:id/batches',
    {
      // HEAD answers the headers without streaming (below), not fastify's GET-without-body.
      exposeHeadRoute: false,
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
      const request = epochRequestOf(req.query, req.headers.accept);
      const bytes = requestedBatchBytes(rec, subsets, request, ctx.config.maxBatchBytes);
      const abort = new AbortController();
      // The response's close: the client went away (or the stream ended); waits for shards end with it.
      reply.raw.on('close', () => abort.abort(new Error('client went away')));
      // Memory for this stream's batches in flight, for its whole life (STREAM_MEMORY_BUDGET).
      const reservation = await ctx.streamBudget.reserve(streamReservationBytes(bytes), abort.signal);
      reply.raw.once('close', () => reservation.release());
      let epoch;
      try {
        epoch = await ctx.epochs.open(rec, subsets, { ...request, requestId: req.id, signal: abort.signal });
      } catch (err) {
        reservation.release();
        throw err;
      }
      // The body goes to the raw response, one chunk per batch, so a batch's buffer is reused
      // only after its write callback (a pipe would not say when). The headers fastify's hooks
      // set (CORS, rate limit) go with ours; the request id is on the raw response already.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        ...(reply.getHeaders() as OutgoingHttpHeaders),
        'content-type': epoch.encoder.contentType,
        'x-audiofeed-batches': String(epoch.batches),
        'x-audiofeed-from-batch': String(epoch.plan.fromBatch),
        'x-audiofeed-columns': epoch.columns.join(','),
        'x-audiofeed-x-shape': JSON.stringify(epoch.plan.xShape),
        'x-audiofeed-dtype': epoch.plan.dtype,
        // Which state of the dataset the epoch comes from: a client resuming with from_batch checks it is the same.
        'x-audiofeed-dataset-version': rec.updated_at,
        'cache-control': 'no-store',
      });
      const gone = new Promise<never>((_, reject) => res.once('close', () => reject(new Error('client went away'))));
      gone.catch(() => undefined);
      const write = (chunk: Uint8Array) =>
        Promise.race([new Promise<void>((resolve, reject) => void res.write(chunk, (err) => (err ? reject(err) : resolve()))), gone]);
      try {
        await epoch.writeTo(write);
        res.end();
      } catch (err) {
        req.log.warn({ err: (err as Error).message }, 'batch stream aborted');
        // The status line is gone: end the connection so the client sees a broken stream, not a short one.
        res.destroy(err as Error);
      }
      return reply;
    },
  );

  // The headers of GET without the epoch: what a client learns before it streams
  // (X-Audiofeed-Batches, the shape, the dtype). Nothing is queued or read.
  app.head(
    '/:id/batches',
    { config: { scope: 'read' }, schema: { tags: ['datasets'], summary: 'The headers of GET …/batches, without the stream', params: IdParams, querystring: BatchQuery } },
    async (req, reply) => {
      const rec = await ctx.registry.get(req.params.id);
      const subsets = await ctx.registry.subsets(rec.id);
      const request = epochRequestOf(req.query, req.headers.accept);
      requestedBatchBytes(rec, subsets, request, ctx.config.maxBatchBytes);
      const sampleWeights = request.sampleWeightId ? await loadSampleWeights(rec, request.sampleWeightId) : null;
      const ep = planEpoch(rec, subsets, { ...request, sampleWeights }, '');
      const encoder = epochEncoder(rec, ep, request);
      return reply
        .header('content-type', encoder.contentType)
        .header('x-audiofeed-batches', String(ep.batches.length - ep.fromBatch))
        .header('x-audiofeed-from-batch', String(ep.fromBatch))
        .header('x-audiofeed-columns', encoder.columns.join(','))
        .header('x-audiofeed-x-shape', JSON.stringify(ep.xShape))
        .header('x-audiofeed-dtype', ep.dtype)
        .header('x-audiofeed-dataset-version', rec.updated_at)
        .header('cache-control', 'no-store')
        .send();
    },
  );
};

export default batches;

/**
 * GET /v1/datasets/{id}/batches: streams one epoch (or a slice of one) as Arrow IPC or
 * an .npy stream, starting as soon as the first shard it needs exists. The route maps
 * the Keras-named query onto the epoch service (src/services/epochs/stream.ts), which
 * plans, queues and encodes; the body is a pull stream, so a slow client slows the
 * producer down and memory stays bounded.
 */
import crypto from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { epochEncoder, type EpochStreamRequest } from '../../src/services/epochs/stream.ts';
import { epochBatchRows, planEpoch } from '../../src/services/epochs/epoch-plan.ts';
import { deliveredDtype } from '../../src/services/features/plan.ts';
import { loadSampleWeights } from '../../src/services/registry/sample-weights.ts';
import type { DatasetRecord, StoredSubsets } from '../../src/services/registry/types.ts';
import { ThroughputFloor, assertBatchFits, batchBytes, streamReservationBytes } from '../../src/services/stream-budget.ts';
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

/**
 * Whose share of STREAM_MEMORY_BUDGET a stream counts against: its token when API_TOKENS
 * is set (the auth plugin has checked it; kept as a digest), else the client's address.
 */
export function streamClientOf(req: FastifyRequest, authEnabled: boolean): string {
  const bearer = authEnabled ? /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(req.headers.authorization ?? '') : null;
  if (bearer) return `token:${crypto.createHash('sha256').update(bearer[1]!).digest('hex').slice(0, 16)}`;
  return `addr:${req.ip}`;
}

/** Slices of a batch on the wire with the reader floor on: an eighth of what a window must move, within 16 KiB … 1 MiB. */
function sliceBytesFor(floor: ThroughputFloor): number {
  return Math.min(1 << 20, Math.max(16 << 10, Math.floor((floor.minBytesPerS * floor.windowMs) / 1000 / 8)));
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
      const client = streamClientOf(req, ctx.config.apiTokens.length > 0);
      const reservation = await ctx.streamBudget.reserve(streamReservationBytes(bytes), abort.signal, client);
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
      // A reader that takes less than STREAM_MIN_BYTES_PER_S over a window spent waiting on it is cut off:
      // it would hold its share of the budget (and a connection) for as long as it likes.
      const floor = new ThroughputFloor(ctx.config.streamMinBytesPerS, ctx.config.streamMinThroughputWindowMs);
      // The reader's pace is seen through write callbacks (one fires when its chunk is in the
      // kernel): with the floor on, a batch is written in slices small enough to show progress
      // within a window; the batch's write is done when its last slice is.
      const slice = floor.minBytesPerS > 0 ? sliceBytesFor(floor) : Infinity;
      // Writes the client has not taken yet (while there is one, the stream waits on the reader) and bytes it took.
      let pending = 0;
      let delivered = 0;
      const writeSlice = (part: Uint8Array) =>
        new Promise<void>((resolve, reject) =>
          void res.write(part, (err) => {
            if (err) return reject(err);
            delivered += part.byteLength;
            resolve();
          }),
        );
      const write = (chunk: Uint8Array) => {
        pending++;
        const parts: Promise<void>[] = [];
        for (let at = 0; at < chunk.byteLength; at += slice) parts.push(writeSlice(chunk.subarray(at, Math.min(chunk.byteLength, at + slice))));
        const done = Promise.all(parts).then(() => undefined).finally(() => pending--);
        return Promise.race([done, gone]);
      };
      if (floor.minBytesPerS > 0) {
        const timer = setInterval(() => {
          if (!floor.sample(performance.now(), delivered, pending > 0)) return;
          clearInterval(timer);
          ctx.streamBudget.stats.trickleClosed++;
          req.log.warn(
            { client: client.startsWith('token:') ? client : undefined, delivered, setting: 'STREAM_MIN_BYTES_PER_S' },
            `batch stream closed: the reader took less than ${floor.minBytesPerS} bytes/s over ${floor.windowMs} ms (STREAM_MIN_BYTES_PER_S)`,
          );
          res.destroy(new Error('reader below STREAM_MIN_BYTES_PER_S'));
        }, Math.max(5, Math.floor(floor.windowMs / 4)));
        timer.unref();
        res.once('close', () => clearInterval(timer));
      }
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

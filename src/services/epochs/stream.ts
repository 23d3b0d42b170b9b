/**
 * One epoch (or a slice of one) as a byte stream: plans the epoch, queues the shards it
 * is missing in the order it needs them (or, for augmented epochs, has its batches
 * computed by the workers ahead of the client: ./augmented-producer.ts), and encodes the
 * batches as Arrow IPC or an .npy stream as they become available. A pull stream: the
 * consumer's pace drives the producer, so memory stays bounded by one batch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAugmentationActive, type ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import { batchesFrom } from '../../core/datasets/index.ts';
import type { SubsetName } from '../../core/schemas.ts';
import { createBatchEncoder, type BatchEncoder, type BatchFormat, type BatchFrame } from '../../core/tensors/batch-encoder.ts';
import type { AugmentedBatchStore } from '../features/augmented-store.ts';
import { deliveredDtype, shardOf } from '../features/plan.ts';
import { DatasetDeletedError, noWorkers } from '../features/wait.ts';
import type { EnsureFeaturizedArgs, FeatureQueue, Logger } from '../ports.ts';
import { loadSampleWeights } from '../registry/sample-weights.ts';
import { listNameOf } from '../registry/subsets.ts';
import type { DatasetRecord, StoredSubsets } from '../registry/types.ts';
import { STREAM_BATCHES_IN_FLIGHT, batchBytes } from '../stream-budget.ts';
import { epochBatchRows, planEpoch, shardPriorities, type EpochParams, type EpochPlan } from './epoch-plan.ts';
import type { BatchColumns } from './assemble.ts';
import { augmentedBatch, augmentedProducer } from './augmented-producer.ts';
import { DIRECT_BAND, cachedProducer } from './producers.ts';

export interface EpochStreamRequest extends Omit<EpochParams, 'sampleWeights'> {
  /** Uploaded per-sample weights (POST …/sample-weights) to stream as the third column. */
  sampleWeightId?: string;
  /** Apply the dataset's augmentation where MLTK would; undefined = MLTK's default (evaluation: eval_augment). */
  augment?: boolean;
  format: BatchFormat;
  /** The HTTP request behind the stream: its id tags the jobs it creates. */
  requestId: string;
  /** Aborted when the client goes away: waits end, queued batches are dropped. */
  signal: AbortSignal;
}

export interface EpochStream {
  plan: EpochPlan;
  encoder: BatchEncoder;
  /** Batches this stream sends (from `plan.fromBatch` to the end of the epoch). */
  batches: number;
  /** Column names in wire order. */
  columns: string[];
  /**
   * Writes the encoded stream, one chunk per batch, through `write`, which settles once the
   * chunk is written out (until then its buffer is not reused: at most
   * STREAM_BATCHES_IN_FLIGHT frames exist, one being written, one being assembled). Rejects
   * with the first failure of a batch or a write; releases what the stream holds either way.
   */
  writeTo(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
}

/**
 * MLTK augments training batches, validation batches when validation_augmentation_enabled,
 * and evaluation batches when eval_augment (default off). `wanted` false turns it off;
 * for evaluation, `wanted` true turns it on and undefined means eval_augment.
 */
export function augmentationFor(rec: DatasetRecord, subset: SubsetName, wanted: boolean | undefined): ResolvedAugmentation | null {
  const a = rec.settings.augmentation;
  if (wanted === false || !a || !isAugmentationActive(a)) return null;
  if (subset === 'evaluation') return (wanted ?? rec.settings.eval_augment ?? false) ? a : null;
  if (subset === 'training') return a;
  if (subset === 'validation' && a.validation_augmentation_enabled) return a;
  return null;
}

/**
 * The wire encoder of an epoch: columns, shape and dtype as the plan says, and the
 * epoch's description in the Arrow schema metadata. GET …/batches streams through it;
 * HEAD …/batches answers its headers.
 */
export function epochEncoder(
  rec: DatasetRecord,
  ep: EpochPlan,
  req: Pick<EpochStreamRequest, 'format' | 'subset' | 'epoch'>,
): BatchEncoder {
  return createBatchEncoder(req.format, {
    xShape: ep.xShape,
    xDtype: ep.dtype,
    yKind: ep.classMode === null ? 'none' : ep.classMode === 'input' ? 'input' : ep.classMode === 'categorical' ? 'categorical' : 'scalar',
    numClasses: rec.settings.classes.length,
    yDtype: ep.dtype,
    sampleWeight: ep.source.sampleWeights !== null,
    metadata: {
      'audiofeed.dataset': rec.id,
      'audiofeed.subset': req.subset,
      'audiofeed.epoch': String(req.epoch),
      'audiofeed.from_batch': String(ep.fromBatch),
      'audiofeed.batches': String(ep.batches.length - ep.fromBatch),
      'audiofeed.class_mode': String(ep.classMode),
      'audiofeed.classes': JSON.stringify(rec.settings.classes),
    },
  });
}

export class EpochService {
  constructor(
    private readonly deps: {
      queue: FeatureQueue;
      /** DATA_DIR/features: feature shards. */
      featuresDir: string;
      /** Where augmented batches are written and read (DATA_DIR/tmp/augment). */
      augmented: AugmentedBatchStore;
      /** Augmented batches a stream keeps computed or queued past the one it sends (AUGMENT_LOOKAHEAD). */
      augmentLookahead: number;
      /** MAX_BATCH_BYTES: the dataset's default batches are not computed ahead when a stream of them would be refused. */
      maxBatchBytes?: number;
      /** Corrupted shards are reported here (warn). */
      log?: Logger;
      /** Whether a stream's dataset is still registered (RegistryService.isRegistered); absent: always. */
      isRegistered?: (rec: DatasetRecord) => Promise<boolean>;
    },
  ) {}

  /**
   * Queues the first AUGMENT_LOOKAHEAD batches of augmented training epoch 0 as a trainer
   * with the dataset's defaults (batch_size, shuffle) will ask for them, behind every
   * stream's own window: called when a training subset has just been loaded, so the first
   * batches of a training run are computed before it asks. Returns the batches queued
   * (0 without augmentation or lookahead; those already on disk are not counted).
   */
  async precomputeHead(rec: DatasetRecord, subsets: StoredSubsets, requestId: string): Promise<number> {
    const { queue, augmented, augmentLookahead } = this.deps;
    const augmentation = augmentationFor(rec, 'training', undefined);
    if (!augmentation || augmentLookahead === 0 || !subsets.training) return 0;
    // Batches a stream could not ask for (413) are not computed on the workers either.
    const rows = epochBatchRows(rec, subsets, { subset: 'training' });
    if (this.deps.maxBatchBytes !== undefined && batchBytes(rows, rec.audio_input_shape, deliveredDtype(rec, undefined), rec.settings.classes.length) > this.deps.maxBatchBytes) {
      return 0;
    }
    const ep = planEpoch(rec, subsets, { subset: 'training', epoch: 0 }, this.deps.featuresDir);
    let queued = 0;
    for (let b = 0; b < Math.min(augmentLookahead, ep.batches.length); b++) {
      const { key, job } = augmentedBatch({ rec, ep, augmentation, store: augmented, requestId }, 0, b, ep.batches.at(b)!);
      if (fs.existsSync(job.file)) continue;
      await queue.ensureAugmentBatch(key, job, augmentLookahead + 1 + b);
      queued++;
    }
    return queued;
  }

  async open(rec: DatasetRecord, subsets: StoredSubsets, req: EpochStreamRequest): Promise<EpochStream> {
    const { queue } = this.deps;
    // A stream reads the lists it was opened with to its end, whatever other clients load,
    // unload or reindex meanwhile; only a deletion stops it, when it needs work made.
    const assertRegistered = async () => {
      if (this.deps.isRegistered && !(await this.deps.isRegistered(rec))) throw new DatasetDeletedError(rec.id);
    };
    const ep = planEpoch(
      rec,
      subsets,
      { ...req, sampleWeights: req.sampleWeightId ? await loadSampleWeights(rec, req.sampleWeightId) : null },
      this.deps.featuresDir,
    );
    // Ranks are needed when the background flow is created (after the first batch), not before.
    let prio: Int32Array | null = null;
    const ensureArgs: EnsureFeaturizedArgs = {
      datasetId: rec.id,
      subset: listNameOf(subsets, ep.subset, req.subset),
      datasetDir: ep.datasetDir,
      root: ep.root,
      entries: ep.subset.entries,
      spec: ep.spec,
      plan: ep.plan,
      // After the batches this stream has featurized directly (priority 1).
      priorityOf: (i) => DIRECT_BAND + (prio ??= shardPriorities(ep.plan, ep.batches.spans(ep.fromBatch)))[i]!,
      requestId: req.requestId,
    };
    const ensure = async () => {
      await queue.ensureFeaturized(ensureArgs);
    };
    const augmentation = augmentationFor(rec, req.subset, req.augment);
    // The subset's background flow (thousands of children, existence checks of thousands of
    // files) is created once the first batch is made, so it never delays it; a batch that
    // needs a missing shard from the cache before then creates it at once.
    let ensuring: Promise<void> | null = null;
    const background = () =>
      (ensuring ??= ensure().catch((err: Error) => this.deps.log?.warn(`featurization of ${rec.id}/${req.subset} not queued: ${err.message}`)));
    // Augmented streams ask while their first batch is made (it may be precomputed: no
    // round trip in its way); without a worker the stream cannot go on, so it is a 503 either way.
    let workerless: Promise<never> | null = null;
    if (augmentation) {
      workerless = queue.workersConnected('augment').then((n) => (n === 0 ? Promise.reject(noWorkers()) : new Promise<never>(() => {})));
      workerless.catch(() => undefined);
    } else {
      const firstShards = new Set(Array.from(ep.batches.at(ep.fromBatch) ?? [], (p) => shardOf(ep.plan, p)));
      const coldStart = [...firstShards].some((s) => !fs.existsSync(ep.plan.shards[s]!.file));
      if (coldStart && (await queue.workersConnected('shards')) === 0) throw noWorkers();
    }

    const encoder = epochEncoder(rec, ep, req);
    const todo = batchesFrom(ep.batches, ep.fromBatch);
    // Each batch is assembled into its wire frame: rows are read (or converted) straight
    // into the chunk the response writes, which encodeFrame completes around them. Frames
    // take turns in STREAM_BATCHES_IN_FLIGHT buffers; a buffer is reused once its write is done.
    const buffers: (Uint8Array | undefined)[] = new Array(STREAM_BATCHES_IN_FLIGHT);
    let slot = 0;
    let frame: BatchFrame | null = null;
    const framed: EpochPlan = {
      ...ep,
      source: { ...ep.source, xTarget: (rows) => (frame = encoder.frame(rows, buffers[slot])).x },
    };
    const encode = (cols: BatchColumns): Uint8Array => {
      const f = frame !== null && cols.x === frame.x ? frame : undefined;
      frame = null;
      const chunk = encoder.encodeFrame(cols, f);
      if (chunk.buffer !== buffers[slot]?.buffer) buffers[slot] = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.buffer.byteLength - chunk.byteOffset);
      return chunk;
    };
    const producer = augmentation
      ? augmentedProducer(
          {
            rec,
            ep: framed,
            augmentation,
            store: this.deps.augmented,
            requestId: req.requestId,
            todo,
            firstBatch: ep.fromBatch,
            epoch: req.epoch,
            lookahead: this.deps.augmentLookahead,
            // The request Keras makes next: the same one for the following epoch.
            nextEpoch: () =>
              planEpoch(rec, subsets, { ...req, epoch: req.epoch + 1, fromBatch: 0, sampleWeights: null, classWeight: false }, this.deps.featuresDir)
                .batches,
            log: this.deps.log,
            assertRegistered,
          },
          queue,
          req.signal,
        )
      : cachedProducer({
          ep: framed,
          todo,
          queue,
          signal: req.signal,
          ensureArgs,
          background,
          directDir: path.join(this.deps.featuresDir, '.direct'),
          requestId: req.requestId,
          log: this.deps.log,
          assertRegistered,
        });
    // The first batch is made before anything is sent: whatever fails until then is a
    // proper error response (status + problem), not a stream that ends early.
    let first: BatchColumns | null = null;
    if (todo.length > 0) {
      try {
        const making = producer.batch(0);
        making.catch(() => undefined); // settled by the race, or after a 503 (the request's abort ends its wait)
        first = await (workerless ? Promise.race([making, workerless]) : making);
      } catch (err) {
        await producer.close(false);
        throw err;
      }
    }
    // The flow (every shard's key, an existence check per shard, thousands of jobs) is
    // created once the first batch is on the wire, so it never delays it.
    const startBackground = () => {
      if (!augmentation) void background();
    };
    return {
      plan: ep,
      encoder,
      batches: todo.length,
      columns: encoder.columns,
      async writeTo(write) {
        const writing: (Promise<void> | undefined)[] = new Array(STREAM_BATCHES_IN_FLIGHT);
        const send = (chunk: Uint8Array) => {
          const done = write(chunk);
          done.catch(() => undefined); // awaited before the slot is reused or at the end
          return done;
        };
        let completed = false;
        try {
          // The head goes out with the first batch, in the same turn of the event loop: no
          // write callback (and no background work scheduled meanwhile) stands between them.
          const head = encoder.begin();
          const headSent = head.length > 0 ? send(Buffer.concat(head)) : undefined;
          for (let k = 0; k < todo.length; k++) {
            slot = k % STREAM_BATCHES_IN_FLIGHT;
            // The batch in this slot before is written out: its buffer may be reused.
            await writing[slot];
            const cols = k === 0 ? first! : await producer.batch(k);
            if (k === 0) first = null;
            writing[slot] = send(encode(cols));
            // After this turn of the event loop: the response flushes the first batch on the next tick.
            if (k === 0) setImmediate(startBackground);
          }
          await Promise.all([headSent, ...writing]);
          completed = true;
          const tail = encoder.end();
          if (tail.length > 0) await send(Buffer.concat(tail));
        } finally {
          await producer.close(completed);
        }
      },
    };
  }
}

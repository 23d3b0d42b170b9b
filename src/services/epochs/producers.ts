/**
 * Where a stream's batches come from. Cached epochs read feature shards (queued once,
 * shared by every epoch and client); augmented epochs have every batch computed by a
 * worker for this request, a few batches ahead of the client, and removed once sent.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import { DEFAULT_EPOCH_SEED } from '../../core/datasets/index.ts';
import { openShardSync } from '../features/shard-file.ts';
import { waitForFile, waitForShard } from '../features/wait.ts';
import type { FeatureQueue } from '../ports.ts';
import type { DatasetRecord } from '../registry/types.ts';
import { ShardReader, assembleBatch, assembleFromBatchFile, shardsOf, type BatchColumns } from './assemble.ts';
import type { EpochPlan } from './epoch-plan.ts';

export interface BatchProducer {
  /** Columns of the k-th batch of `todo` (called in order). */
  batch(k: number): Promise<BatchColumns>;
  close(): Promise<void>;
}

export function cachedProducer(
  ep: EpochPlan,
  todo: Int32Array[],
  queue: FeatureQueue,
  signal: AbortSignal,
  reensure: () => Promise<void>,
): BatchProducer {
  const reader = new ShardReader(ep.plan);
  return {
    async batch(k) {
      const positions = todo[k]!;
      for (const s of shardsOf(positions)) await waitForShard(ep.plan, s, queue, signal, reensure);
      return assembleBatch(ep.source, positions, reader);
    },
    async close() {
      reader.close();
    },
  };
}

/** Augmented batches computed ahead of the one being sent: enough to keep both cores busy. */
export const AUGMENT_AHEAD = 4;
/** An active batch job finishes well within this; its late file is removed after twice that. */
const LATE_BATCH_MS = 60_000;

export interface AugmentedStream {
  rec: DatasetRecord;
  ep: EpochPlan;
  todo: Int32Array[];
  /** Batch number (within the epoch) of todo[0]: the augmentation seed uses it. */
  firstBatch: number;
  epoch: number;
  augmentation: ResolvedAugmentation;
  tmpDir: string;
  requestId: string;
}

export function augmentedProducer(a: AugmentedStream, queue: FeatureQueue, signal: AbortSignal): BatchProducer {
  // Jobs belong to this request: two clients asking for the same epoch each get their own
  // (identical, because the draws are seeded) batches, and each removes what it read.
  const key = crypto.randomBytes(8).toString('hex');
  const jobId = (k: number) => `aug-${key}-${k}`;
  const file = (k: number) => path.join(a.tmpDir, `${key}-${k}.afs`);
  let queued = 0;
  const fill = async (upTo: number) => {
    for (; queued < Math.min(upTo, a.todo.length); queued++) {
      const positions = a.todo[queued]!;
      await queue.addAugmentBatch(
        jobId(queued),
        {
          datasetDir: a.ep.datasetDir,
          root: a.ep.root,
          entries: Array.from(positions, (p) => a.ep.subset.entries[p]!),
          spec: a.ep.spec,
          file: file(queued),
          augmentation: a.augmentation,
          seed: a.rec.settings.seed ?? DEFAULT_EPOCH_SEED,
          epoch: a.epoch,
          batch: a.firstBatch + queued,
          requestId: a.requestId,
        },
        queued + 1,
      );
    }
  };
  return {
    async batch(k) {
      await fill(k + 1 + AUGMENT_AHEAD);
      await waitForFile(
        file(k),
        {
          jobState: () => queue.augmentBatchState(jobId(k)),
          workers: () => queue.workersConnected('augment'),
          what: `augmented batch ${a.firstBatch + k}`,
        },
        signal,
      );
      const shard = openShardSync(file(k));
      try {
        return assembleFromBatchFile(a.ep.source, a.todo[k]!, shard);
      } finally {
        fs.closeSync(shard.fd);
        await fsp.rm(file(k), { force: true });
      }
    },
    async close() {
      // The client may leave early: drop the batches computed or queued for it.
      const running: string[] = [];
      for (let k = 0; k < queued; k++) {
        if ((await queue.removeAugmentBatch(jobId(k))) === 'active') running.push(file(k));
        await fsp.rm(file(k), { force: true });
      }
      // A batch still being computed lands after we leave: remove it once it has.
      if (running.length > 0) {
        setTimeout(() => void Promise.all(running.map((f) => fsp.rm(f, { force: true }))), 2 * LATE_BATCH_MS).unref();
      }
    },
  };
}

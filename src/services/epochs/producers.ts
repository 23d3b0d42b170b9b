/**
 * Where a stream's batches come from. Cached epochs read feature shards (queued once,
 * shared by every epoch and client); augmented epochs have their batches computed by the
 * workers ahead of the client (./augmented-producer.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isShardCorrupt, quarantineShard } from '../features/integrity.ts';
import { SHARD_SIZE } from '../features/plan.ts';
import { ShardCorruptError, openShardSync } from '../features/shard-file.ts';
import { FeaturizationFailedError, waitForFile, waitForShard } from '../features/wait.ts';
import type { EnsureFeaturizedArgs, FeatureQueue, Logger } from '../ports.ts';
import { ShardReader, assembleBatch, assembleFromBatchFile, shardsOf, type BatchColumns } from './assemble.ts';
import type { BatchList } from '../../core/datasets/index.ts';
import type { EpochPlan } from './epoch-plan.ts';

export interface BatchProducer {
  /** Columns of the k-th batch of `todo` (called in order). */
  batch(k: number): Promise<BatchColumns>;
  /** `completed`: every batch was sent (false: the client left, or a batch failed). */
  close(completed: boolean): Promise<void>;
}

/** How often one batch repairs a shard (quarantine + featurize again) before its stream gives up. */
const REPAIRS_PER_BATCH = 3;
/** Batches of a cold epoch featurized directly ahead of the one being sent. */
export const DIRECT_AHEAD = 4;
/** Background shards are queued at priority DIRECT_BAND + rank: after every direct batch (priority 1). */
export const DIRECT_BAND = 100;
/** An active batch job finishes well within this; its late file is removed after twice that. */
const LATE_BATCH_MS = 60_000;

/**
 * A batch that needs more missing shards than its own clips fill, plus the two shards a
 * run of the layout can straddle, reads the cache out of layout order: waiting for it
 * means waiting for much of the subset.
 */
export function outOfLayoutOrder(missingShards: number, clips: number): boolean {
  return missingShards * SHARD_SIZE > clips + 2 * SHARD_SIZE;
}

export interface CachedStream {
  ep: EpochPlan;
  todo: BatchList;
  queue: FeatureQueue;
  signal: AbortSignal;
  /** The subset's featurization (one flow per subset, created in the background). */
  ensureArgs: EnsureFeaturizedArgs;
  /** Creates the subset's background flow once (never rejects); awaited before ensuring again. */
  background: () => Promise<void>;
  /** Where direct batches are written (DATA_DIR/features/.direct). */
  directDir: string;
  requestId: string;
  log?: Logger;
  /** Throws DatasetDeletedError once the dataset is deleted: called before work is queued or waited for. */
  assertRegistered: () => Promise<void>;
}

/**
 * Batches from the feature cache, made in the order the epoch needs them by the subset's
 * background flow. A batch whose shards do not all exist yet is featurized directly for
 * this stream, a few batches ahead, at the highest priority, when waiting for its shards
 * would cost more than a few batches' work: the first DIRECT_AHEAD + 1 batches of the
 * stream (the flow is not even created yet), and any batch that reads the layout out of
 * order (another epoch's shuffle: it needs a clip from many shards). A cold first epoch
 * reads the shards in their layout order (plan.ts), so after its first batches it reads
 * each shard as the flow writes it and nothing is computed twice. A direct batch is the
 * shard computation on the batch's clips, so its bytes are the cached ones: the time to
 * the first batch is a few batches' work, whatever the size of the dataset.
 */
export function cachedProducer(c: CachedStream): BatchProducer {
  const { ep, todo, queue, signal, ensureArgs, log } = c;
  const reader = new ShardReader(ep.plan);
  // Shards this stream has seen on disk: not looked up again (a look per shard per batch
  // was a fifth of a cached stream's CPU). One that is gone since fails to open as
  // 'missing' and is repaired like a corrupt one.
  const present = new Uint8Array(ep.plan.shards.length);
  const onDisk = (s: number) => present[s] === 1 || (fs.existsSync(ep.plan.shards[s]!.file) && (present[s] = 1) === 1);
  const reensure = async () => {
    await c.background();
    await queue.ensureFeaturized(ensureArgs);
  };
  // A shard found corrupted (or gone) is moved aside, counted and made again; the stream waits for it.
  const repair = async (err: ShardCorruptError) => {
    const index = ep.plan.shards.findIndex((sh) => sh.file === err.file);
    reader.drop(index);
    present[index] = 0;
    await quarantineShard(err, queue, log);
    await c.background();
    await queue.refeaturizeShard(ensureArgs, index);
  };
  const fromCache = async (positions: Int32Array): Promise<BatchColumns> => {
    for (let repairs = 0; ; repairs++) {
      for (const s of shardsOf(ep.plan, positions)) {
        if (onDisk(s)) continue;
        await c.assertRegistered();
        const gone = () => repair(new ShardCorruptError(ep.plan.shards[s]!.file, 'missing', 'the shard file is gone'));
        await waitForShard(ep.plan, s, queue, signal, reensure, gone);
      }
      try {
        return assembleBatch(ep.source, positions, reader);
      } catch (err) {
        if (!isShardCorrupt(err)) throw err;
        if (repairs >= REPAIRS_PER_BATCH) {
          throw new FeaturizationFailedError(`a shard of this batch failed verification ${repairs + 1} times in a row (${err.reason}): ${err.message}`);
        }
        await c.assertRegistered();
        await repair(err);
      }
    }
  };

  const key = crypto.randomBytes(8).toString('hex');
  const jobId = (k: number) => `direct-${key}-${k}`;
  const file = (k: number) => path.join(c.directDir, `${key}-${k}.afs`);
  const direct: boolean[] = [];
  const consumed = new Set<number>();
  const decide = async (upTo: number) => {
    for (let k = direct.length; k < Math.min(upTo, todo.length); k++) {
      const positions = todo.at(k)!;
      const missing = shardsOf(ep.plan, positions).filter((s) => !onDisk(s));
      direct[k] = missing.length > 0 && (k <= DIRECT_AHEAD || outOfLayoutOrder(missing.length, positions.length));
      if (!direct[k]) continue;
      await c.assertRegistered();
      await queue.addDirectBatch(jobId(k), {
        datasetDir: ensureArgs.datasetDir,
        root: ensureArgs.root,
        entries: Array.from(positions, (p) => ep.subset.entries[p]!),
        spec: ep.spec,
        file: file(k),
        requestId: c.requestId,
      });
    }
  };
  const fromDirect = async (k: number): Promise<BatchColumns | null> => {
    try {
      await waitForFile(
        file(k),
        {
          jobState: () => queue.directBatchState(jobId(k)),
          workers: () => queue.workersConnected('shards'),
          what: `batch ${k} of this stream (featurized directly)`,
        },
        signal,
      );
      const shard = openShardSync(file(k));
      try {
        return assembleFromBatchFile(ep.source, todo.at(k)!, shard);
      } finally {
        fs.closeSync(shard.fd);
      }
    } catch (err) {
      // A damaged direct batch is not repaired: the batch is read from the cache instead.
      if (!isShardCorrupt(err)) throw err;
      log?.warn(`direct batch ${err.file} unusable (${err.reason}): reading the batch from the feature cache`);
      return null;
    } finally {
      consumed.add(k);
      await fsp.rm(file(k), { force: true }).catch(() => undefined);
      void queue.removeDirectBatch(jobId(k)).catch(() => undefined);
    }
  };
  return {
    async batch(k) {
      await decide(k + 1 + DIRECT_AHEAD);
      if (direct[k]) {
        // A batch made for this stream is delivered only while its dataset is registered.
        await c.assertRegistered();
        const cols = await fromDirect(k);
        if (cols) return cols;
      }
      return fromCache(todo.at(k)!);
    },
    async close() {
      reader.close();
      // The client may leave early: drop the direct batches queued or computed for it.
      const running: string[] = [];
      for (let k = 0; k < direct.length; k++) {
        if (!direct[k] || consumed.has(k)) continue;
        if ((await queue.removeDirectBatch(jobId(k)).catch(() => 'missing')) === 'active') running.push(file(k));
        await fsp.rm(file(k), { force: true }).catch(() => undefined);
      }
      if (running.length > 0) {
        setTimeout(() => void Promise.all(running.map((f) => fsp.rm(f, { force: true }).catch(() => undefined))), 2 * LATE_BATCH_MS).unref();
      }
    },
  };
}

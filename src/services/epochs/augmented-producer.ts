/**
 * Augmented batches, computed by the workers ahead of the trainer.
 *
 * A batch is named by its content key (features/augmented-store.ts): the same augmented
 * epoch asked for by two clients, resumed with `from_batch`, or precomputed before it was
 * asked for, is one job and one file. A stream keeps a window of AUGMENT_LOOKAHEAD
 * batches queued or computed past the one it sends; near the end of its epoch the window
 * runs on into the first batches of the next epoch, planned with the same request (batch
 * size, shuffle, subset: what Keras asks for next), so the next request finds its head
 * computed. A job's priority is its distance from the batch being sent (1: needed now).
 *
 * Each batch a stream will read is counted as wanted (FeatureQueue.wantAugmentBatches)
 * before the batch it sends is read: the whole window at once, so a stream a batch or two
 * behind another has counted itself in before the one ahead counts itself out. After
 * reading a batch the stream counts itself out, and the last reader removes the file. A
 * stream that leaves early counts itself out of the rest of its window and removes the
 * queued jobs nobody else wants; files already computed stay for a resumption until
 * AUGMENT_BATCH_TTL_MS (the store's sweep). The next epoch's head is left queued when the
 * epoch was streamed to its end, and removed like the rest when the client left early.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import { DEFAULT_EPOCH_SEED, type BatchList } from '../../core/datasets/index.ts';
import { augmentedBatchKey, type AugmentedBatchStore } from '../features/augmented-store.ts';
import { isShardCorrupt } from '../features/integrity.ts';
import { openShardSync, type ShardCorruptError } from '../features/shard-file.ts';
import { FeaturizationFailedError, waitForFile } from '../features/wait.ts';
import type { AugmentBatchJob, FeatureQueue, Logger } from '../ports.ts';
import type { DatasetRecord } from '../registry/types.ts';
import { assembleFromBatchFile, type BatchColumns } from './assemble.ts';
import type { EpochPlan } from './epoch-plan.ts';
import type { BatchProducer } from './producers.ts';

/** How often one batch is made again (its file found gone or damaged) before its stream gives up. */
const REMAKES_PER_BATCH = 3;

/** What every augmented batch of one request shares. */
export interface AugmentedSource {
  rec: DatasetRecord;
  ep: EpochPlan;
  augmentation: ResolvedAugmentation;
  store: AugmentedBatchStore;
  requestId: string;
}

/** One batch: its job (payload and file) and content key. */
export interface AugmentedBatch {
  key: string;
  job: AugmentBatchJob;
}

/** The job of batch `batch` of augmented epoch `epoch` whose clips are subset positions `positions`. */
export function augmentedBatch(src: AugmentedSource, epoch: number, batch: number, positions: Int32Array): AugmentedBatch {
  const input = {
    datasetDir: src.ep.datasetDir,
    root: src.ep.root,
    entries: Array.from(positions, (p) => src.ep.subset.entries[p]!),
    spec: src.ep.spec,
    augmentation: src.augmentation,
    seed: src.rec.settings.seed ?? DEFAULT_EPOCH_SEED,
    epoch,
    batch,
  };
  const key = augmentedBatchKey(input);
  return { key, job: { ...input, file: src.store.file(key), requestId: src.requestId } };
}

export interface AugmentedStream extends AugmentedSource {
  /** The batches to send (positions), from batch `firstBatch` of epoch `epoch`. */
  todo: BatchList;
  firstBatch: number;
  epoch: number;
  /** AUGMENT_LOOKAHEAD. */
  lookahead: number;
  /** Batches (positions) of the next epoch of the same request; null when there is none. Called once, when the window reaches it. */
  nextEpoch: () => BatchList | null;
  log?: Logger;
  /** Throws DatasetDeletedError once the dataset is deleted: called before a batch that is not there yet is queued or waited for. */
  assertRegistered?: () => Promise<void>;
}

interface Slot extends AugmentedBatch {
  /** Of the next epoch: precomputed for the request that follows, not sent by this stream. */
  next: boolean;
  /** This stream counted itself among the batch's readers (and has not counted itself out yet). */
  wanted: boolean;
  /** The priority this stream queued the batch at (0: not queued by it: its file was there). */
  priority: number;
}

export function augmentedProducer(a: AugmentedStream, queue: FeatureQueue, signal: AbortSignal): BatchProducer {
  const { todo, lookahead, store, log } = a;
  // Slot s: batch todo[s] of this epoch, then (s >= todo.length) batch s - todo.length of the next.
  const slots: Slot[] = [];
  let nextBatches: BatchList | null | undefined;
  const slotAt = (s: number): Slot | null => {
    if (slots[s]) return slots[s];
    if (s < todo.length) return (slots[s] = { ...augmentedBatch(a, a.epoch, a.firstBatch + s, todo.at(s)!), next: false, wanted: false, priority: 0 });
    if (nextBatches === undefined) {
      try {
        nextBatches = a.nextEpoch();
      } catch (err) {
        log?.warn(`the next augmented epoch of request ${a.requestId} is not precomputed: ${(err as Error).message}`);
        nextBatches = null;
      }
    }
    const b = nextBatches?.at(s - todo.length);
    if (!b) return null;
    return (slots[s] = { ...augmentedBatch(a, a.epoch + 1, s - todo.length, b), next: true, wanted: false, priority: 0 });
  };

  // Slots are counted and queued one at a time, in order, by one chain; `sending` is the
  // batch being sent, so a slot's priority is its distance from it.
  let sending = 0;
  let queuedTo = 0;
  let closed = false;
  let chain: Promise<void> = Promise.resolve();
  // Slots below `wantedTo` have been counted as wanted (whether still or already read).
  let wantedTo = 0;
  /** Counts this stream in for every slot below `end` not counted yet, in one round trip. */
  const want = async (end: number) => {
    const fresh: Slot[] = [];
    for (let slot; wantedTo < end && !closed && (slot = slotAt(wantedTo)); wantedTo++) fresh.push(slot);
    // Marked first: a close() meanwhile counts them out again, after them on the same connection.
    for (const slot of fresh) slot.wanted = true;
    try {
      await queue.wantAugmentBatches(fresh.map((slot) => slot.key));
    } catch (err) {
      // Not counted (the transaction did not run): nothing to count out; asked again by the next batch.
      for (const slot of fresh) slot.wanted = false;
      wantedTo -= fresh.length;
      throw err;
    }
  };
  const queueSlot = async (s: number, priority: number) => {
    const slot = slotAt(s);
    if (!slot) return;
    if (fs.existsSync(slot.job.file)) return;
    await queue.ensureAugmentBatch(slot.key, slot.job, priority);
    slot.priority = priority;
  };
  /** Queues every slot below `end` not queued yet; resolves once slot `end - 1` is. */
  const fill = (end: number): Promise<void> => {
    // A failed step (Redis gone for a moment) fails the batch that waits on it, not every later one.
    chain = chain.catch(() => undefined).then(async () => {
      for (; queuedTo < end && !closed; queuedTo++) await queueSlot(queuedTo, queuedTo - sending + 1);
    });
    return chain;
  };

  // Made again at priority 1: the stream is waiting for it.
  const remake = async (slot: Slot, err: ShardCorruptError | null) => {
    if (err && err.reason !== 'missing') {
      log?.warn(`augmented batch ${err.file} unusable (${err.reason}): computing it again`);
      await fsp.rm(err.file, { force: true });
    }
    await queue.ensureAugmentBatch(slot.key, slot.job, 1);
    slot.priority = 1;
  };

  const read = async (k: number): Promise<BatchColumns> => {
    const slot = slotAt(k)!;
    for (let remakes = 0; ; remakes++) {
      // Needed now: moved to the front if it was queued behind other work.
      if (slot.priority !== 1 && !fs.existsSync(slot.job.file)) {
        await queue.ensureAugmentBatch(slot.key, slot.job, 1);
        slot.priority = 1;
      }
      await waitForFile(
        slot.job.file,
        {
          jobState: () => queue.augmentBatchState(slot.key),
          workers: () => queue.workersConnected('augment'),
          // Removed by a stream that left (it did not know about this one yet), or its file
          // expired after it finished: made again.
          onMissing: () => remake(slot, null),
          onGone: () => remake(slot, null),
          what: `augmented batch ${slot.job.batch} of epoch ${slot.job.epoch}`,
        },
        signal,
      );
      let shard;
      try {
        shard = openShardSync(slot.job.file);
      } catch (err) {
        // Removed between the look and the open (a sweep), or damaged: made again.
        if (!isShardCorrupt(err) || remakes >= REMAKES_PER_BATCH) throw wrapped(err, slot);
        await remake(slot, err);
        continue;
      }
      try {
        return assembleFromBatchFile(a.ep.source, todo.at(k)!, shard);
      } catch (err) {
        if (!isShardCorrupt(err) || remakes >= REMAKES_PER_BATCH) throw wrapped(err, slot);
        await remake(slot, err);
      } finally {
        fs.closeSync(shard.fd);
      }
    }
  };

  // Counting out of a batch that was read, after it is returned (not on the way to the
  // client): the last stream that wanted it removes its file, one that leaves it to others
  // restarts its TTL.
  let releasing: Promise<void> = Promise.resolve();
  const release = (slot: Slot) => {
    releasing = releasing
      .then(async () => {
        if ((await queue.unwantAugmentBatch(slot.key)) === 0) await fsp.rm(slot.job.file, { force: true });
        else touch(store, slot.job.file);
      })
      .catch((err: Error) => log?.warn(`augmented batch ${slot.job.file} not released: ${err.message}`));
  };

  return {
    async batch(k) {
      sending = k;
      // No work is queued for a registration that is gone (its clips may be gone too).
      if (a.assertRegistered && !fs.existsSync(slotAt(k)!.job.file)) await a.assertRegistered();
      await want(k + 1 + lookahead);
      // This batch first (it is waited for), then the window behind it, in the background:
      // before the wait when the batch is still to be computed (the workers get the window
      // at once), after reading it when it is there (the first batch of a precomputed head
      // is not queued behind the window's Redis round trips).
      await fill(k + 1);
      // Closed meanwhile (the client left, or the request failed without a worker): nothing more is queued.
      if (closed) throw signal.reason ?? new Error('the stream was closed');
      const slot = slots[k]!;
      const ready = fs.existsSync(slot.job.file);
      const window = () =>
        void fill(k + 1 + lookahead).catch((err: Error) => log?.warn(`augmented lookahead of request ${a.requestId} not queued: ${err.message}`));
      if (!ready) window();
      const cols = await read(k);
      // After the batch is handed over: its Redis round trips run once it is on its way.
      if (ready) setImmediate(window);
      // (Unless the stream was closed meanwhile: close() counted it out already.)
      if (slot.wanted) {
        slot.wanted = false;
        release(slot);
      }
      return cols;
    },
    async close(completed) {
      closed = true;
      await chain.catch(() => undefined);
      await releasing;
      for (const slot of slots) {
        if (!slot?.wanted) continue;
        slot.wanted = false;
        const left = await queue.unwantAugmentBatch(slot.key).catch(() => 1);
        // The next epoch's head stays queued for the request that follows a whole epoch.
        if (left > 0 || (slot.next && completed)) continue;
        await queue.removeAugmentBatch(slot.key).catch(() => undefined);
      }
    },
  };
}

function touch(store: AugmentedBatchStore, file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return;
  }
  try {
    store.touch(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function wrapped(err: unknown, slot: Slot): unknown {
  if (!isShardCorrupt(err)) return err;
  return new FeaturizationFailedError(
    `augmented batch ${slot.job.batch} of epoch ${slot.job.epoch} could not be read after ${REMAKES_PER_BATCH} attempts (${err.reason}): ${err.message}`,
  );
}

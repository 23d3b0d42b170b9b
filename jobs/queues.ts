/**
 * The queue facade: the one object that talks BullMQ for the API, the streams and the
 * workers, implementing the FeatureQueue port (src/services/ports.ts) and owning the job
 * vocabulary (queue names, job ids, payloads, cancellation). Its BullMQ Queue objects
 * are private and made on first use (a worker that only asks "is this job cancelled"
 * opens one connection, not four); close() closes what was opened.
 *
 * A subset under given feature settings is one flow: a parent job in FEATURIZE_QUEUE and
 * one child per missing shard in SHARD_QUEUE. Ids derive from content (subset plan key,
 * shard key), so the same request from any replica names the same jobs and BullMQ adds
 * them once. Cancelling marks the id in Redis (`<prefix>:cancelled:<id>`, a week, holding
 * the job's progress at that moment, indexed by time in `<prefix>:cancelled-jobs` for
 * listings) and removes the flow; the parent's processor fails a cancelled flow with
 * reason "cancelled".
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowProducer, Queue, type ConnectionOptions, type Job, type JobType } from 'bullmq';
import type { Redis } from 'ioredis';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { NotFoundError } from '../src/core/errors.ts';
import { JobMetricsStore } from '../store/job-metrics.ts';
import { markUsed } from '../src/services/features/cache-gc.ts';
import { shardEntries, type SubsetPlan } from '../src/services/features/plan.ts';
import type {
  AugmentBatchJob,
  DirectBatchJob,
  EnsureFeaturizedArgs,
  FeatureQueue,
  FeaturizationSummary,
  JobProgress,
  JobState,
  WorkerPool,
} from '../src/services/ports.ts';
import type { FeaturizeJobData, FeaturizeResult, ShardJobData, ShardResult } from './payloads.ts';
import { featurizeProgress } from './progress.ts';

export const FEATURIZE_QUEUE = 'featurize';
export const SHARD_QUEUE = 'featurize-shards';
/** Augmented batches: one job per batch content key, shared by every stream that wants the batch. */
export const AUGMENT_QUEUE = 'augment-batches';

/** Highest BullMQ priority value (lower runs first). */
const MAX_PRIORITY = 2_097_152;
const CANCEL_TTL_SECONDS = 7 * 24 * 3600;
/** How long close() lets a connection that is still being made finish (Redis down: it gives up). */
const CLOSE_CONNECT_WAIT_MS = 2000;

export function cancelKey(prefix: string, jobId: string): string {
  return `${prefix}:cancelled:${jobId}`;
}

/** Cancelled featurizations by cancel time (ms): the listing finds those whose flow is gone. */
export function cancelIndexKey(prefix: string): string {
  return `${prefix}:cancelled-jobs`;
}

export function parentJobId(plan: SubsetPlan): string {
  return `featurize-${plan.key}`;
}

export function shardJobId(plan: SubsetPlan, shardKey: string): string {
  return `shard-${shardKey}-${plan.key.slice(0, 12)}`;
}

export function augmentJobId(key: string): string {
  return `aug-${key}`;
}

/** How many streams want augmented batch `key` (FeatureQueue.wantAugmentBatches). */
export function augmentWantsKey(prefix: string, key: string): string {
  return `${prefix}:augment-wants:${key}`;
}

/** A want counter outlives any stream that holds it; one a crashed API left behind goes after this. */
const WANTS_TTL_SECONDS = 24 * 3600;
/** DECR, and the key removed at zero (no counter is left behind for every batch ever read). */
const UNWANT_SCRIPT = "local n = redis.call('DECR', KEYS[1]) if n <= 0 then redis.call('DEL', KEYS[1]) end return n";

export function connectionFromUrl(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null } as ConnectionOptions;
}

const SHARD_OPTS = { attempts: 3, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: false, removeOnFail: false } as const;

/** A batch computed for streams (augmented or direct): its file is read and removed by them. */
const BATCH_OPTS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 200 },
  // Finished records are for the queue board and metrics only: a bounded number of them
  // (thousands of augmented batches an hour would otherwise pile up in Redis).
  removeOnComplete: { age: 3600, count: 5000 },
  removeOnFail: { age: 24 * 3600 },
} as const;

const clampPriority = (p: number) => Math.min(Math.max(1, p), MAX_PRIORITY);

/** States of a featurization that will not change any more. */
const FINISHED_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** States in which a job will still run (or runs): its shard file is on its way. */
const PENDING_STATES: ReadonlySet<string> = new Set(['waiting', 'delayed', 'prioritized', 'active', 'waiting-children']);

/**
 * The states a featurize parent is listed from, in the order a flow goes through them: a
 * job that moves on while they are read one after the other is seen again (the later
 * state wins), not missed.
 */
const LISTED_STATES: readonly JobType[] = ['waiting-children', 'waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'];

export class FeatureQueues implements FeatureQueue {
  private featurizeQueue?: Queue<FeaturizeJobData, FeaturizeResult>;
  private shardQueue?: Queue<ShardJobData, ShardResult>;
  private augmentQueue?: Queue<AugmentBatchJob, ShardResult>;
  private flowProducer?: FlowProducer;
  private shardWorkers?: { at: number; count: Promise<number> };

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
  ) {}

  private get featurize(): Queue<FeaturizeJobData, FeaturizeResult> {
    return (this.featurizeQueue ??= new Queue(FEATURIZE_QUEUE, { connection: this.connection, prefix: this.prefix }));
  }
  private get shards(): Queue<ShardJobData, ShardResult> {
    return (this.shardQueue ??= new Queue(SHARD_QUEUE, { connection: this.connection, prefix: this.prefix }));
  }
  private get augment(): Queue<AugmentBatchJob, ShardResult> {
    return (this.augmentQueue ??= new Queue(AUGMENT_QUEUE, { connection: this.connection, prefix: this.prefix }));
  }
  private get flow(): FlowProducer {
    return (this.flowProducer ??= new FlowProducer({ connection: this.connection, prefix: this.prefix }));
  }

  featurizeJobId(plan: SubsetPlan): string {
    return parentJobId(plan);
  }

  /**
   * Makes sure every shard of the plan exists or is being made. Returns the parent job
   * id. Finished work is reused; a failed or stale flow is replaced.
   */
  async ensureFeaturized(args: EnsureFeaturizedArgs): Promise<{ jobId: string; created: boolean }> {
    const { plan } = args;
    const jobId = parentJobId(plan);
    const missing = plan.shards.filter((s) => !fs.existsSync(s.file));
    const existing = await this.featurize.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      const healthy = state === 'completed' ? missing.length === 0 : state !== 'failed' && state !== 'unknown';
      if (healthy) return { jobId, created: false };
      await this.removeFlow(existing);
    }
    // A new flow under a previously cancelled id must run.
    await (await this.redis()).multi().del(cancelKey(this.prefix, jobId)).zrem(cancelIndexKey(this.prefix), jobId).exec();
    // The shards it reuses are in use now: the cache collector keeps them while the flow runs.
    const missingSet = new Set(missing);
    for (const s of plan.shards) if (!missingSet.has(s)) markUsed(s.file);
    const priorityOf = args.priorityOf ?? ((i: number) => i + 1);
    await this.flow.add({
      name: 'featurize',
      queueName: FEATURIZE_QUEUE,
      data: {
        datasetId: args.datasetId,
        subset: args.subset,
        planKey: plan.key,
        featureHash: plan.featureHash,
        clips: args.entries.length,
        layoutSeed: plan.layoutSeed,
        files: plan.shards.map((s) => s.file),
        reusedShards: plan.shards.length - missing.length,
        createdAt: Date.now(),
        requestId: args.requestId,
      } satisfies FeaturizeJobData,
      opts: { jobId, removeOnComplete: false, removeOnFail: false },
      children: missing.map((s) => ({
        name: 'shard',
        queueName: SHARD_QUEUE,
        data: this.shardData(args, s),
        opts: {
          ...SHARD_OPTS,
          jobId: shardJobId(plan, s.key),
          priority: clampPriority(priorityOf(s.index)),
          // A shard that keeps failing must not block the parent's bookkeeping;
          // streams waiting for it see the failed job and report it.
          ignoreDependencyOnFailure: true,
        },
      })),
    });
    return { jobId, created: true };
  }

  private shardData(args: EnsureFeaturizedArgs, s: SubsetPlan['shards'][number]): ShardJobData {
    return {
      datasetDir: args.datasetDir,
      root: args.root,
      entries: shardEntries(args.plan, args.entries, s),
      spec: args.spec,
      file: s.file,
      shardIndex: s.index,
      requestId: args.requestId,
    };
  }

  async refeaturizeShard(args: EnsureFeaturizedArgs, shardIndex: number): Promise<void> {
    const { plan } = args;
    const s = plan.shards[shardIndex];
    if (!s || fs.existsSync(s.file)) return;
    const id = shardJobId(plan, s.key);
    const old = await this.shards.getJob(id);
    if (old) {
      // Queued or running: it is being made already.
      if (PENDING_STATES.has(await old.getState())) return;
      await old.remove().catch(() => undefined);
    }
    // A finished flow is replaced (its parent sees the missing file); a running one gets the job back on its own.
    await this.ensureFeaturized({ ...args, priorityOf: (i) => (i === shardIndex ? 1 : (args.priorityOf?.(i) ?? i + 1)) });
    const job = await this.shards.getJob(id);
    // Queued or running (the flow above re-created it): that job makes the file.
    if (job && PENDING_STATES.has(await job.getState())) return;
    // The shard's id is free, or still held by a finished job that could not be removed
    // (a child of a flow that is still there): then a job of its own, under an id of its own.
    await this.shards.add('shard', this.shardData(args, s), { ...SHARD_OPTS, jobId: job ? `${id}-redo-${Date.now()}` : id, priority: 1 });
  }

  async recordShardCorruption(reason: string): Promise<void> {
    await new JobMetricsStore(await this.redis(), this.prefix).recordShardCorruption(reason);
  }

  async shardJobState(plan: SubsetPlan, shardIndex: number): Promise<JobState> {
    const shard = plan.shards[shardIndex];
    if (!shard) return { state: 'missing' };
    return stateOf(await this.shards.getJob(shardJobId(plan, shard.key)));
  }

  async ensureAugmentBatch(key: string, job: AugmentBatchJob, priority: number): Promise<void> {
    const jobId = augmentJobId(key);
    const wanted = clampPriority(priority);
    const existing = await this.augment.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'active') return;
      if (PENDING_STATES.has(state)) {
        // Wanted sooner than it was queued for (e.g. a precomputed head a stream now waits on).
        if (wanted < (existing.priority || MAX_PRIORITY)) await existing.changePriority({ priority: wanted }).catch(() => undefined);
        return;
      }
      // Finished while the caller looked for its file (a stream that found no file asks for
      // it at priority 1 a moment before the worker completes it): it is there, not made
      // again. Computing it twice would leave the second file behind after its readers
      // removed the first.
      if (state === 'completed' && fs.existsSync(job.file)) return;
      // Failed, or finished and its file since removed: made again.
      await existing.remove().catch(() => undefined);
    }
    await this.augment.add('augment', job, { ...BATCH_OPTS, jobId, priority: wanted });
  }

  async wantAugmentBatches(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const multi = (await this.redis()).multi();
    for (const key of keys) {
      const k = augmentWantsKey(this.prefix, key);
      multi.incr(k).expire(k, WANTS_TTL_SECONDS);
    }
    const replies = await multi.exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('augmented batch wants not counted (transaction aborted)');
  }

  async unwantAugmentBatch(key: string): Promise<number> {
    const k = augmentWantsKey(this.prefix, key);
    // One step: a stream that counts itself in between must not lose its count to the DEL.
    const left = (await (await this.redis()).eval(UNWANT_SCRIPT, 1, k)) as number;
    return Math.max(0, left);
  }

  /** Priority 1: before the background shards, which a stream queues at DIRECT_BAND + rank. */
  async addDirectBatch(jobId: string, job: DirectBatchJob): Promise<void> {
    await this.shards.add('direct', { ...job, shardIndex: -1 }, { ...BATCH_OPTS, jobId, priority: 1 });
  }

  async directBatchState(jobId: string): Promise<JobState> {
    return stateOf(await this.shards.getJob(jobId));
  }

  async removeDirectBatch(jobId: string): Promise<'removed' | 'active' | 'missing'> {
    return removeUnlessActive(await this.shards.getJob(jobId));
  }

  async augmentBatchState(key: string): Promise<JobState> {
    return stateOf(await this.augment.getJob(augmentJobId(key)));
  }

  async removeAugmentBatch(key: string): Promise<'removed' | 'active' | 'missing'> {
    return removeUnlessActive(await this.augment.getJob(augmentJobId(key)));
  }

  async jobProgress(jobId: string): Promise<JobProgress> {
    const progress = await this.progressNow(jobId);
    if (FINISHED_STATES.has(progress.state)) return progress;
    // A job nobody works on says so (a client following it can stop waiting).
    return { ...progress, workers_connected: await this.shardWorkersRecently() };
  }

  private async progressNow(jobId: string): Promise<JobProgress> {
    const [job, mark] = await Promise.all([this.featurize.getJob(jobId), (await this.redis()).get(cancelKey(this.prefix, jobId))]);
    if (job) return featurizeProgress(job, mark !== null, (id) => this.shards.getJob(id));
    const snapshot = snapshotOf(mark);
    if (snapshot) return snapshot;
    throw new NotFoundError('job', `no featurization job ${JSON.stringify(jobId)}`);
  }

  /** Shard workers connected, looked up at most once a second (event streams poll progress 4 times a second). */
  private async shardWorkersRecently(): Promise<number> {
    const now = Date.now();
    if (!this.shardWorkers || now - this.shardWorkers.at > 1000) {
      this.shardWorkers = { at: now, count: this.workersConnected('shards') };
      this.shardWorkers.count.catch(() => (this.shardWorkers = undefined));
    }
    return this.shardWorkers.count;
  }

  async featurizations(): Promise<FeaturizationSummary[]> {
    const found = new Map<string, FeaturizationSummary>();
    for (const state of LISTED_STATES) {
      for (const job of await this.featurize.getJobs([state], 0, -1)) {
        if (!job?.id) continue;
        found.set(job.id, { id: job.id, datasetId: job.data.datasetId, subset: job.data.subset, state, createdAt: job.data.createdAt });
      }
    }
    const redis = await this.redis();
    const since = Date.now() - CANCEL_TTL_SECONDS * 1000;
    const cancelledIds = await redis.zrangebyscore(cancelIndexKey(this.prefix), since, '+inf');
    const ids = [...new Set([...found.keys(), ...cancelledIds])];
    const marks = ids.length === 0 ? [] : await redis.mget(ids.map((id) => cancelKey(this.prefix, id)));
    ids.forEach((id, i) => {
      const mark = marks[i];
      if (mark === null || mark === undefined) return;
      const listed = found.get(id);
      if (listed) {
        if (listed.state !== 'completed') listed.state = 'cancelled';
        return;
      }
      const snapshot = snapshotOf(mark);
      if (snapshot) {
        found.set(id, { id, datasetId: snapshot.dataset_id, subset: snapshot.subset, state: 'cancelled', createdAt: Date.parse(snapshot.created_at) });
      }
    });
    return [...found.values()];
  }

  private async progressOf(jobId: string, cancelled: boolean): Promise<JobProgress> {
    return featurizeProgress(await this.featurizeJob(jobId), cancelled, (id) => this.shards.getJob(id));
  }

  async jobRequestId(jobId: string): Promise<string | null> {
    return (await this.featurize.getJob(jobId))?.data.requestId ?? null;
  }

  async cancel(jobId: string): Promise<{ cancelled: true } | { cancelled: false; progress: JobProgress }> {
    const job = await this.featurizeJob(jobId);
    if ((await job.getState()) === 'completed') return { cancelled: false, progress: await this.progressOf(jobId, false) };
    // What it had done when cancelled: its id answers with this once the flow is removed.
    const now = Date.now();
    const snapshot: JobProgress = { ...(await this.progressOf(jobId, true)), eta_seconds: null, finished_at: new Date(now).toISOString() };
    await (await this.redis())
      .multi()
      .set(cancelKey(this.prefix, jobId), JSON.stringify(snapshot), 'EX', CANCEL_TTL_SECONDS)
      .zadd(cancelIndexKey(this.prefix), now, jobId)
      .zremrangebyscore(cancelIndexKey(this.prefix), '-inf', now - CANCEL_TTL_SECONDS * 1000)
      .exec();
    await this.removeFlow(job);
    return { cancelled: true };
  }

  async isCancelled(jobId: string): Promise<boolean> {
    return (await (await this.redis()).exists(cancelKey(this.prefix, jobId))) === 1;
  }

  async workersConnected(pool: WorkerPool): Promise<number> {
    const queue = pool === 'featurize' ? this.featurize : pool === 'shards' ? this.shards : this.augment;
    return queue.getWorkersCount();
  }

  // --- for the adapters around it (metrics, queue board, tests) --------------------------

  /** Jobs per queue (by queue name) and state. */
  async jobCounts(...states: JobType[]): Promise<Record<string, Record<string, number>>> {
    const queues = this.all();
    const counts = await Promise.all(queues.map((q) => q.getJobCounts(...states)));
    return Object.fromEntries(queues.map((q, i) => [q.name, counts[i]!]));
  }

  /** bull-board adapters of the three queues (/admin/queues). */
  boardAdapters(): BullMQAdapter[] {
    return this.all().map((q) => new BullMQAdapter(q));
  }

  /** Opens every connection and waits for it (a queue closed mid-connect rejects unobserved). */
  async ready(): Promise<void> {
    await Promise.all([...this.all().map((q) => q.waitUntilReady()), this.flow.waitUntilReady()]);
  }

  /**
   * Closes what was opened. A BullMQ connection closed while it is still connecting
   * emits an error nobody can listen to any more (and ends the process), so each one
   * gets a moment to finish connecting first.
   */
  async close(): Promise<void> {
    const open = [this.featurizeQueue, this.shardQueue, this.augmentQueue, this.flowProducer].filter((q) => q !== undefined);
    await Promise.all(
      open.map(async (q) => {
        await Promise.race([q.waitUntilReady().catch(() => undefined), sleep(CLOSE_CONNECT_WAIT_MS, undefined, { ref: false })]);
        await q.close();
      }),
    );
  }

  /** The featurize queue's connection: cancel marks live beside the queues, under the same prefix. */
  private async redis(): Promise<Redis> {
    return (await this.featurize.client) as unknown as Redis;
  }

  private all(): Queue[] {
    return [this.featurize, this.shards, this.augment] as Queue[];
  }

  private async featurizeJob(jobId: string): Promise<Job<FeaturizeJobData, FeaturizeResult>> {
    const job = await this.featurize.getJob(jobId);
    if (!job) throw new NotFoundError('job', `no featurization job ${JSON.stringify(jobId)}`);
    return job;
  }

  /** Removes a flow's waiting children and, when nothing is running any more, the parent. */
  private async removeFlow(parent: Job): Promise<boolean> {
    const deps = await parent.getDependencies({ unprocessed: { count: 100_000 } });
    for (const key of deps.unprocessed ?? []) {
      const id = key.split(':').pop()!;
      const child = await this.shards.getJob(id);
      if (!child) continue;
      const state = await child.getState();
      if (state !== 'active') await child.remove().catch(() => undefined);
    }
    try {
      await parent.remove({ removeChildren: true });
      return true;
    } catch {
      return false;
    }
  }
}

/** Removes a stream's batch job unless a worker is running it (its late file is the stream's to remove). */
async function removeUnlessActive(job: Job | undefined): Promise<'removed' | 'active' | 'missing'> {
  if (!job) return 'missing';
  if ((await job.getState()) === 'active') return 'active';
  await job.remove().catch(() => undefined);
  return 'removed';
}

/** The progress a cancel mark holds (marks written before it held one are '1'). */
function snapshotOf(mark: string | null): JobProgress | null {
  if (mark === null || !mark.startsWith('{')) return null;
  try {
    return JSON.parse(mark) as JobProgress;
  } catch {
    return null;
  }
}

async function stateOf(job: Job | undefined): Promise<JobState> {
  if (!job) return { state: 'missing' };
  return { state: await job.getState(), reason: job.failedReason };
}

/**
 * BullMQ wiring for featurization. A subset under given feature settings is one flow:
 * a parent job in FEATURIZE_QUEUE and one child per missing shard in SHARD_QUEUE. Ids
 * derive from content (subset plan key, shard key), so the same request from any
 * replica names the same jobs and BullMQ adds them once.
 */
import fs from 'node:fs';
import { FlowProducer, Queue, type ConnectionOptions, type Job } from 'bullmq';
import type { FeatureSpec, SubsetPlan } from '../src/services/features/plan.ts';
import type { ShardFailure } from '../src/services/features/shard-file.ts';
import type { ResolvedAugmentation } from '../src/core/audio/augment/index.ts';

export const FEATURIZE_QUEUE = 'featurize';
export const SHARD_QUEUE = 'featurize-shards';
/** Augmented batches: computed per request, never cached. */
export const AUGMENT_QUEUE = 'augment-batches';

export interface ShardJobData {
  datasetDir: string;
  root: string;
  entries: (string | null)[];
  spec: FeatureSpec;
  file: string;
  shardIndex: number;
  /** Request id of the HTTP request that created the flow (log correlation). */
  requestId?: string;
}

export interface ShardResult {
  rows: number;
  failures: ShardFailure[];
  ms: number;
  /** True when the shard file already existed (another worker or flow made it). */
  reused: boolean;
}

export interface AugmentJobData extends Omit<ShardJobData, 'shardIndex'> {
  augmentation: ResolvedAugmentation;
  seed: number;
  epoch: number;
  batch: number;
}

export interface FeaturizeJobData {
  datasetId: string;
  subset: string;
  planKey: string;
  featureHash: string;
  clips: number;
  /** Every shard file of the subset, in order (also those that existed before). */
  files: string[];
  /** Shards already on disk when the flow was created. */
  reusedShards: number;
  createdAt: number;
  requestId?: string;
}

export interface FeaturizeResult {
  clips: number;
  shards: number;
  failures: ShardFailure[];
  seconds: number;
}

export function cancelKey(prefix: string, jobId: string): string {
  return `${prefix}:cancelled:${jobId}`;
}

export function parentJobId(plan: SubsetPlan): string {
  return `featurize-${plan.key}`;
}

export function shardJobId(plan: SubsetPlan, shardKey: string): string {
  return `shard-${shardKey}-${plan.key.slice(0, 12)}`;
}

export function connectionFromUrl(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null } as ConnectionOptions;
}

export interface EnsureArgs {
  datasetId: string;
  subset: string;
  datasetDir: string;
  root: string;
  entries: (string | null)[];
  spec: FeatureSpec;
  plan: SubsetPlan;
  /** Lower runs first (BullMQ priority 1 is the highest); by default shard order. */
  priorityOf?: (shardIndex: number) => number;
  requestId?: string;
}

export class FeatureQueues {
  readonly featurize: Queue<FeaturizeJobData, FeaturizeResult>;
  readonly shards: Queue<ShardJobData, ShardResult>;
  readonly augment: Queue<AugmentJobData, ShardResult>;
  private readonly flow: FlowProducer;

  constructor(
    readonly connection: ConnectionOptions,
    readonly prefix: string,
  ) {
    this.featurize = new Queue(FEATURIZE_QUEUE, { connection, prefix });
    this.shards = new Queue(SHARD_QUEUE, { connection, prefix });
    this.augment = new Queue(AUGMENT_QUEUE, { connection, prefix });
    this.flow = new FlowProducer({ connection, prefix });
  }

  /**
   * Makes sure every shard of the plan exists or is being made. Returns the parent job
   * id. Finished work is reused; a failed or stale flow is replaced.
   */
  async ensureFeaturized(args: EnsureArgs): Promise<{ jobId: string; created: boolean }> {
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
    await (await this.featurize.client).del(cancelKey(this.prefix, jobId));
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
        files: plan.shards.map((s) => s.file),
        reusedShards: plan.shards.length - missing.length,
        createdAt: Date.now(),
        requestId: args.requestId,
      },
      opts: { jobId, removeOnComplete: false, removeOnFail: false },
      children: missing.map((s) => ({
        name: 'shard',
        queueName: SHARD_QUEUE,
        data: {
          datasetDir: args.datasetDir,
          root: args.root,
          entries: args.entries.slice(s.start, s.end),
          spec: args.spec,
          file: s.file,
          shardIndex: s.index,
          requestId: args.requestId,
        },
        opts: {
          jobId: shardJobId(plan, s.key),
          priority: Math.min(Math.max(1, priorityOf(s.index)), 2_097_152),
          attempts: 3,
          backoff: { type: 'exponential', delay: 500 },
          // A shard that keeps failing must not block the parent's bookkeeping;
          // streams waiting for it see the failed job and report it.
          ignoreDependencyOnFailure: true,
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    });
    return { jobId, created: true };
  }

  /** Queues one augmented batch; its result file is read (and removed) by the stream. */
  async addAugmentBatch(jobId: string, data: AugmentJobData, priority: number): Promise<void> {
    await this.augment.add('augment', data, {
      jobId,
      priority: Math.min(Math.max(1, priority), 2_097_152),
      attempts: 3,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  /** State of the shard job of a plan's shard (to tell "not yet" from "never"). */
  async shardJobState(plan: SubsetPlan, shardKey: string): Promise<{ state: string; reason?: string }> {
    const job = await this.shards.getJob(shardJobId(plan, shardKey));
    if (!job) return { state: 'missing' };
    const state = await job.getState();
    return { state, reason: job.failedReason };
  }

  /** Removes a flow's waiting children and, when nothing is running any more, the parent. */
  async removeFlow(parent: Job): Promise<boolean> {
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

  async close(): Promise<void> {
    await Promise.all([this.featurize.close(), this.shards.close(), this.augment.close(), this.flow.close()]);
  }
}

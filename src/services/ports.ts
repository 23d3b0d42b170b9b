/**
 * Ports: what the application services need from outside, as interfaces. Adapters
 * implement them (store/registry-store.ts: RegistryStorePort; jobs/queues.ts:
 * FeatureQueue), the composition roots (routes/compose.ts for the API, jobs/workers.ts
 * for a worker) construct the adapters and hand them in, and no file under src/ imports
 * an adapter (.dependency-cruiser.cjs, test/architecture.test.ts).
 */
import type { AugmentedBatchInput } from './features/augmented.ts';
import type { DspResultOf, DspTask } from './features/dsp-tasks.ts';
import type { FeatureSpec, SubsetPlan } from './features/plan.ts';
import type { ShardFailure } from './features/shard-file.ts';
import type { DatasetRecord, StoredSubsets } from './registry/types.ts';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Where a request's clip DSP runs (src/services/features/dsp-tasks.ts: the tasks). The API's
 * adapter is a pool of worker threads with a deadline and a bound on the jobs in flight
 * (jobs/dsp-pool.ts), so decoding, resampling and the frontend never run on its event loop;
 * `InlineDsp` runs them on the calling thread. Errors: the task's own (AudiofeedError,
 * revived with its class), DspBusyError (503, Retry-After), DspDeadlineError (503),
 * DspUnavailableError (503).
 */
export interface DspPort {
  run<T extends DspTask>(task: T): Promise<DspResultOf<T>>;
  /**
   * Starts one thread ahead of the first request (`npm start` calls it once it listens), so
   * the first spectrogram or feature request does not wait for a thread to boot (~1 s).
   */
  warm(): void;
  stats(): DspStats;
  /** Stops every thread (a job in flight is rejected). */
  close(): Promise<void>;
}

export interface DspStats {
  mode: 'threads' | 'inline';
  /** Threads the pool may run (0: inline). */
  threads: number;
  /** Threads running now (started on demand, up to `threads`). */
  started: number;
  /** Jobs running (on a thread, or inline). */
  inFlight: number;
  /** Jobs waiting for a thread (or for their thread to start). */
  queued: number;
  /** Jobs stopped at DSP_DEADLINE_MS, since start. */
  deadlineExceeded: number;
  /** Jobs refused because the queue was full, since start. */
  rejectedBusy: number;
}

/**
 * The dataset registry's storage. A record and its subset lists are created together
 * or not at all; two replicas creating the same id produce one dataset.
 */
export interface RegistryStorePort {
  exists(id: string): Promise<boolean>;
  /** False when a dataset with this id already exists (nothing is written then). */
  create(record: DatasetRecord, subsets: StoredSubsets): Promise<boolean>;
  /**
   * Replaces the record (and the subsets when given) when the stored record's `revision`
   * (absent: 0) is `expectedRevision`: 'conflict' when another write came first (nothing
   * is written then), 'missing' when the dataset is gone.
   */
  update(record: DatasetRecord, subsets: StoredSubsets | undefined, expectedRevision: number): Promise<'updated' | 'missing' | 'conflict'>;
  get(id: string): Promise<DatasetRecord | null>;
  getSubsets(id: string): Promise<StoredSubsets | null>;
  list(): Promise<DatasetRecord[]>;
  /** `limit` records from position `offset` in registration order (oldest first), and how many there are. */
  page(offset: number, limit: number): Promise<{ records: DatasetRecord[]; total: number }>;
  delete(id: string): Promise<boolean>;
  /**
   * The registry's marker: set once the registry is known complete (first start, or a
   * rebuild from the manifests). A store that has lost its data (Redis flushed or
   * restarted empty) has no marker: the registry must be rebuilt from the manifests.
   */
  hasMarker(): Promise<boolean>;
  setMarker(): Promise<void>;
}

/**
 * Deployment-wide counters of the registry and the feature cache (the job-metrics hash in
 * production, read by every replica's /metrics).
 */
export interface MaintenanceMetrics {
  /** Datasets restored from their manifests after the store lost them. */
  recordRegistryRecovery(datasets: number): Promise<void>;
  /** Files removed from DATA_DIR/features, by reason (orphan, lru, stale-temp). */
  recordCacheRemovals(reason: CacheRemovalReason, files: number, bytes: number): Promise<void>;
  /** The feature cache's size after a collection. */
  recordCacheSize(files: number, bytes: number): Promise<void>;
}

/** Why a file left the feature cache: no registration uses it, the size bound, a dead writer's temp file. */
export type CacheRemovalReason = 'orphan' | 'lru' | 'stale-temp';

// --- the feature queue: the job vocabulary -------------------------------------------------

/** What ensureFeaturized needs to featurize one subset under one feature spec. */
export interface EnsureFeaturizedArgs {
  datasetId: string;
  subset: string;
  datasetDir: string;
  root: string;
  entries: (string | null)[];
  spec: FeatureSpec;
  plan: SubsetPlan;
  /** Lower runs first (1 is the highest priority); by default shard order. */
  priorityOf?: (shardIndex: number) => number;
  requestId?: string;
}

/**
 * One augmented batch, computed by a worker into `file` (src/services/features/augmented-store.ts:
 * named by the batch's content key, read by every stream that wants it).
 */
export interface AugmentBatchJob extends AugmentedBatchInput {
  file: string;
  /** Request id of the HTTP request that first wanted the batch (log correlation). */
  requestId?: string;
}

/**
 * The clips of one batch of a cold epoch, featurized for the stream that needs them now
 * (before the background flow has made their shards), into `file` in batch order. The
 * same computation as a shard's, so the bytes are the cached ones.
 */
export interface DirectBatchJob {
  datasetDir: string;
  root: string;
  entries: (string | null)[];
  spec: FeatureSpec;
  file: string;
  requestId?: string;
}

/** A job's state as the queue reports it ('missing' when there is no such job). */
export interface JobState {
  state: string;
  reason?: string;
}

/** Progress of a featurization (GET /v1/jobs/{id}, its events, a dataset's jobs). */
export interface JobProgress {
  id: string;
  dataset_id: string;
  subset: string;
  state: string;
  cancelled: boolean;
  shards_total: number;
  shards_done: number;
  shards_failed: number;
  clips_total: number;
  clips_done: number;
  clips_per_second: number | null;
  eta_seconds: number | null;
  failures: (ShardFailure & { position: number })[];
  failed_reason: string | null;
  created_at: string;
  finished_at: string | null;
  /** Workers connected to the shard queue, while the job is not finished (0: nothing makes progress). */
  workers_connected?: number;
}

/**
 * A featurization as GET /v1/jobs lists it: what the filters and the order need, before
 * the (costlier) progress of the page's jobs is read.
 */
export interface FeaturizationSummary {
  id: string;
  datasetId: string;
  subset: string;
  /** The state its progress shows (cancelled when cancelled and not completed). */
  state: string;
  /** Epoch milliseconds. */
  createdAt: number;
}

export type WorkerPool = 'featurize' | 'shards' | 'augment';

/**
 * The work queue of featurization: one featurize job per (subset, feature spec) with a
 * child per shard, and one job per augmented batch (by its content key). Job ids derive
 * from content, so every replica names the same jobs. Errors: NotFoundError ('job') for an unknown id.
 */
export interface FeatureQueue {
  /** The featurize job id of a subset plan (content-derived: found without a listing). */
  featurizeJobId(plan: SubsetPlan): string;
  /** Makes sure every shard of the plan exists or is being made; finished work is reused. */
  ensureFeaturized(args: EnsureFeaturizedArgs): Promise<{ jobId: string; created: boolean }>;
  /**
   * Makes shard `shardIndex` again after its file was found corrupted or gone: its
   * finished job is replaced by a new one (highest priority), or the whole flow when it
   * had finished.
   */
  refeaturizeShard(args: EnsureFeaturizedArgs, shardIndex: number): Promise<void>;
  /** Counts a shard that failed verification (audiofeed_shard_corruptions_total{reason}, deployment-wide). */
  recordShardCorruption(reason: string): Promise<void>;
  /** State of the job that makes shard `shardIndex` of the plan (to tell "not yet" from "never"). */
  shardJobState(plan: SubsetPlan, shardIndex: number): Promise<JobState>;
  /**
   * Makes sure the augmented batch with content key `key` is on its way: its job is added
   * unless one is queued or running (a queued one is moved up to `priority` when that is
   * sooner: lower runs first); a failed one, or a finished one whose file is gone, is
   * replaced, unless it finished while the caller looked for its file and the file is
   * there now. A caller that finds the file skips this.
   */
  ensureAugmentBatch(key: string, job: AugmentBatchJob, priority: number): Promise<void>;
  /**
   * Counts one more stream that will read each augmented batch of `keys` (deployment-wide,
   * one round trip), so the last reader knows it may remove the file and a leaving stream
   * knows whether anyone else still waits for a queued job.
   */
  wantAugmentBatches(keys: readonly string[]): Promise<void>;
  /** One stream less wants batch `key`: returns how many still do (0: nobody). */
  unwantAugmentBatch(key: string): Promise<number>;
  /** Queues a direct batch on the shard workers, ahead of every background shard. */
  addDirectBatch(jobId: string, job: DirectBatchJob): Promise<void>;
  directBatchState(jobId: string): Promise<JobState>;
  /** Removes a queued or finished direct-batch job; a running one is left alone ('active'). */
  removeDirectBatch(jobId: string): Promise<'removed' | 'active' | 'missing'>;
  augmentBatchState(key: string): Promise<JobState>;
  /** Removes a queued or finished augmented-batch job; a running one is left alone ('active'). */
  removeAugmentBatch(key: string): Promise<'removed' | 'active' | 'missing'>;
  /**
   * Progress of a featurization; a cancelled one whose flow is gone answers with what it
   * had done when it was cancelled (for as long as its cancel mark lasts).
   */
  jobProgress(jobId: string): Promise<JobProgress>;
  /** Every featurization the queue holds, and the cancelled ones it still remembers. */
  featurizations(): Promise<FeaturizationSummary[]>;
  /** The X-Request-Id of the request that created the featurization (null when none was recorded). */
  jobRequestId(jobId: string): Promise<string | null>;
  /**
   * Cancels a featurization: a finished one is left as it is (its progress is returned),
   * anything else is removed and marked cancelled, so its parent job fails with reason
   * "cancelled" and its id keeps answering.
   */
  cancel(jobId: string): Promise<{ cancelled: true } | { cancelled: false; progress: JobProgress }>;
  isCancelled(jobId: string): Promise<boolean>;
  /** Workers connected to a queue, on any host. */
  workersConnected(pool: WorkerPool): Promise<number>;
}

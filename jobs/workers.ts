/**
 * The worker side's composition root: starts the BullMQ workers of one worker process
 * (or worker thread), with the processors (./processors/) wired to the frontend, the
 * queue facade (is a flow cancelled?), the job-metrics store and a background-noise
 * cache. Used by `npm run worker` (./worker.ts) and, in a worker thread, by `npm start`.
 */
import os from 'node:os';
import { threadId } from 'node:worker_threads';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { BackgroundNoiseCache } from '../src/core/audio/augment/index.ts';
import { selectFrontendBackend, type FrontendBackendPreference } from '../src/core/frontend/backend.ts';
import { JobMetricsStore } from '../store/job-metrics.ts';
import { quarantineShard } from '../src/services/features/integrity.ts';
import type { ShardCorruptError } from '../src/services/features/shard-file.ts';
import { createAugmentProcessor } from './processors/augment-batch.ts';
import { createFeaturizeProcessor } from './processors/featurize.ts';
import { createShardProcessor } from './processors/featurize-shard.ts';
import type { FeaturizeResult, ShardResult } from './payloads.ts';
import { AUGMENT_QUEUE, FEATURIZE_QUEUE, FeatureQueues, SHARD_QUEUE, connectionFromUrl } from './queues.ts';

export interface WorkerOptions {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  /** Thread-pool threads per shard's featurizeWavs call (FRONTEND_THREADS). */
  frontendThreads?: number;
  frontendBackend: FrontendBackendPreference;
  /** How long a job's lock lives without renewal: a killed worker's job is retried after it. */
  lockMs: number;
  /** Log sink. `fields` carries the same facts structured (job, queue, request id) for JSON loggers. */
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface RunningWorkers {
  frontend: string;
  /** Resolves once every worker is connected (the API counts it: featurizations are accepted). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * True when Redis answers a PING within `ms`, connecting first if the client is still
 * connecting (a worker closed right after it started: under load its clients may not be
 * connected yet, and that is not a Redis that is down).
 */
async function redisAnswers(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'end' || redis.status === 'close') return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.ping().then((r) => r === 'PONG'),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** host:pid, and /thread for an `npm start` worker thread. */
export function workerName(): string {
  return `${os.hostname()}:${process.pid}${threadId > 0 ? `/${threadId}` : ''}`;
}

export function startWorkers(opts: WorkerOptions): RunningWorkers {
  const connection = connectionFromUrl(opts.redisUrl);
  const frontend = selectFrontendBackend(opts.frontendBackend, opts.log);
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const metrics = new JobMetricsStore(redis, opts.prefix);
  const queues = new FeatureQueues(connection, opts.prefix);
  const common = {
    connection,
    prefix: opts.prefix,
    // Stored on every job it runs (processedBy): the queue board and the tests tell workers apart by it.
    name: workerName(),
    lockDuration: opts.lockMs,
    stalledInterval: Math.max(1000, Math.floor(opts.lockMs / 2)),
    maxStalledCount: 3,
  };
  const onCorrupt = (err: ShardCorruptError) => quarantineShard(err, queues, { info: opts.log, warn: opts.log });
  const shardWorker = new Worker(SHARD_QUEUE, createShardProcessor(frontend, onCorrupt, { threads: opts.frontendThreads }), {
    ...common,
    concurrency: opts.concurrency,
  });
  const augmentWorker = new Worker(AUGMENT_QUEUE, createAugmentProcessor(frontend, new BackgroundNoiseCache()), {
    ...common,
    concurrency: opts.concurrency,
  });
  const parentWorker = new Worker(FEATURIZE_QUEUE, createFeaturizeProcessor((id) => queues.isCancelled(id), onCorrupt), { ...common, concurrency: 4 });
  // Every job's log lines carry the request id of the HTTP request that created it
  // (job data `requestId`), in the message for plain sinks and as a field for JSON ones.
  const jobFields = (job: Job | undefined) => ({
    queue: job?.queueName,
    jobId: job?.id,
    requestId: (job?.data as { requestId?: string } | undefined)?.requestId ?? null,
    attempt: job?.attemptsMade,
  });
  const tag = (job: Job | undefined) => `${job?.queueName ?? '?'} job ${job?.id ?? '?'} (request_id=${(job?.data as { requestId?: string })?.requestId ?? '-'})`;
  const seconds = (job: Job) => (job.processedOn && job.finishedOn ? (job.finishedOn - job.processedOn) / 1000 : 0);
  const record = (job: Job, status: 'completed' | 'failed', result?: ShardResult | FeaturizeResult) => {
    const shard = job.queueName === SHARD_QUEUE && result && 'rows' in result && !result.reused ? result : null;
    metrics.record({
      queue: job.queueName,
      status,
      seconds: seconds(job),
      clips: shard ? shard.rows - shard.failures.length : 0,
      backend: frontend.name,
      failureReasons: shard ? shard.failures.map((f) => f.reason) : [],
    }).catch((err: Error) => opts.log(`metrics not recorded for ${tag(job)}: ${err.message}`, jobFields(job)));
  };
  for (const w of [shardWorker, augmentWorker, parentWorker]) {
    w.on('error', (err) => opts.log(`worker error: ${err.message}`));
    w.on('active', (job) => opts.log(`${tag(job)} active`, { ...jobFields(job), event: 'active' }));
    w.on('completed', (job, result: ShardResult | FeaturizeResult) => {
      const reused = result && 'reused' in result ? result.reused : undefined;
      opts.log(`${tag(job)} completed in ${seconds(job).toFixed(3)} s${reused ? ' (its file was there already)' : ''}`, {
        ...jobFields(job),
        event: 'completed',
        seconds: seconds(job),
        reused,
      });
      record(job, 'completed', result);
    });
    w.on('failed', (job, err) => {
      opts.log(`${tag(job)} failed: ${err.message}`, { ...jobFields(job), event: 'failed', err: err.message });
      if (job) record(job, 'failed');
    });
  }
  const all = [shardWorker, augmentWorker, parentWorker];
  return {
    frontend: frontend.name,
    async ready() {
      await Promise.all(all.map((w) => w.waitUntilReady()));
    },
    async close() {
      // With Redis unreachable an active job can neither finish (its result cannot be
      // stored) nor be waited for: close at once (force) instead of waiting out the grace
      // period; its lock expires and another worker retries it.
      const reachable = await redisAnswers(redis, 1000);
      if (!reachable) opts.log('Redis does not answer: closing the workers without waiting for active jobs');
      else {
        // A worker closed while it is still connecting rejects a promise nobody observes
        // ("Connection is closed"): with Redis answering, its connections come up soon.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(all.map((w) => w.waitUntilReady())).catch(() => undefined),
          new Promise((r) => (timer = setTimeout(r, 10_000).unref())),
        ]);
        clearTimeout(timer);
      }
      const workersClosed = Promise.all([shardWorker.close(!reachable), augmentWorker.close(!reachable), parentWorker.close(!reachable)]);
      if (reachable) {
        await workersClosed;
        await queues.close();
      } else {
        // BullMQ's close may still wait on a connection that never comes back: bounded.
        workersClosed.catch(() => {});
        await Promise.race([Promise.all([workersClosed, queues.close()]), new Promise((r) => setTimeout(r, 2000).unref())]);
      }
      redis.disconnect();
    },
  };
}

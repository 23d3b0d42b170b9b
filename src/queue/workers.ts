/**
 * Starts the BullMQ workers of one worker process (or worker thread): shard jobs and
 * featurize parent jobs. Used by `npm run worker` and, in a worker thread, by `npm start`.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createFeaturizeProcessor } from '../../jobs/featurize.ts';
import { createShardProcessor } from '../../jobs/featurize-shard.ts';
import { selectFrontendBackend, type FrontendBackendPreference } from '../frontend/backend.ts';
import { FEATURIZE_QUEUE, SHARD_QUEUE, cancelKey, connectionFromUrl } from './queues.ts';

export interface WorkerOptions {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  frontendBackend: FrontendBackendPreference;
  /** How long a job's lock lives without renewal: a killed worker's job is retried after it. */
  lockMs: number;
  log: (msg: string) => void;
}

export interface RunningWorkers {
  frontend: string;
  close(): Promise<void>;
}

export function startWorkers(opts: WorkerOptions): RunningWorkers {
  const connection = connectionFromUrl(opts.redisUrl);
  const frontend = selectFrontendBackend(opts.frontendBackend, opts.log);
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const common = {
    connection,
    prefix: opts.prefix,
    lockDuration: opts.lockMs,
    stalledInterval: Math.max(1000, Math.floor(opts.lockMs / 2)),
    maxStalledCount: 3,
  };
  const shardWorker = new Worker(SHARD_QUEUE, createShardProcessor(frontend), { ...common, concurrency: opts.concurrency });
  const parentWorker = new Worker(
    FEATURIZE_QUEUE,
    createFeaturizeProcessor(async (id) => (await redis.exists(cancelKey(opts.prefix, id))) === 1),
    { ...common, concurrency: 4 },
  );
  for (const w of [shardWorker, parentWorker]) {
    w.on('error', (err) => opts.log(`worker error: ${err.message}`));
    w.on('failed', (job, err) => opts.log(`job ${job?.id ?? '?'} failed: ${err.message}`));
  }
  return {
    frontend: frontend.name,
    async close() {
      await Promise.all([shardWorker.close(), parentWorker.close()]);
      redis.disconnect();
    },
  };
}

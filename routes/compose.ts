/**
 * The API's composition root: from the configuration, builds the adapters (a Redis
 * client, the registry store, the queue facade, the job-metrics store) and the services
 * on top of them (and the background maintenance, which `npm start` starts), and hands
 * the app its context. `npm start` (routes/server.ts) and
 * every test (test/helpers/app.ts) wire the app through this one function.
 */
import path from 'node:path';
import { selectFrontendBackend } from '../src/core/frontend/backend.ts';
import type { Config } from '../src/services/config.ts';
import { EpochService } from '../src/services/epochs/stream.ts';
import { AugmentedBatchStore } from '../src/services/features/augmented-store.ts';
import { InlineDsp } from '../src/services/features/inline-dsp.ts';
import { FeatureService } from '../src/services/features/service.ts';
import type { DspPort, Logger } from '../src/services/ports.ts';
import { Maintenance } from '../src/services/maintenance.ts';
import { RegistryService } from '../src/services/registry/service.ts';
import { StreamMemoryBudget } from '../src/services/stream-budget.ts';
import { DspThreadPool } from '../jobs/dsp-pool.ts';
import { FeatureQueues, connectionFromUrl } from '../jobs/queues.ts';
import { JobMetricsStore } from '../store/job-metrics.ts';
import { createRedis } from '../store/redis.ts';
import { RegistryStore } from '../store/registry-store.ts';
import type { AppContext } from './context.ts';

export interface ServiceOptions {
  /** package.json version. */
  version: string;
  log: Logger;
  /** The Redis to use when it is not config.redisUrl (a private redis-server started by `npm start`). */
  redisUrl?: string;
  /** Connection errors of the Redis client (it reconnects by itself). */
  onRedisError?: (err: Error) => void;
}

export interface ApiServices {
  ctx: AppContext;
  /** Registry recovery, manifest reconciliation and feature-cache collection (start() it in a serving process). */
  maintenance: Maintenance;
  /** The queue facade behind ctx.queue (for connection readiness and for tests' job counts). */
  queues: FeatureQueues;
  /** Resolves once the queue connections are up (a queue closed mid-connect rejects unobserved). */
  ready(): Promise<void>;
  /** Closes the queues and the Redis client; call after app.close(). */
  close(): Promise<void>;
}

export function createServices(config: Config, opts: ServiceOptions): ApiServices {
  const url = opts.redisUrl ?? config.redisUrl;
  const redis = createRedis(url);
  redis.on('error', opts.onRedisError ?? (() => {}));
  const frontend = selectFrontendBackend(config.frontendBackend, (msg) => opts.log.warn(msg));
  const queues = new FeatureQueues(connectionFromUrl(url), config.keyPrefix);
  const jobMetrics = new JobMetricsStore(redis, config.keyPrefix);
  const featuresDir = path.join(config.dataDir, 'features');
  // Swept by every API process (several sweeping one volume only race to remove the same files).
  const augmented = new AugmentedBatchStore(path.join(config.dataDir, 'tmp', 'augment'), {
    ttlMs: config.augmentBatchTtlMs,
    maxBytes: config.augmentCacheMaxBytes,
    log: opts.log,
  });
  augmented.start();
  // A request's clip DSP runs on these threads, never on the event loop (DSP_THREADS=0: inline, for debugging).
  const dsp: DspPort =
    config.dspThreads > 0
      ? new DspThreadPool({
          threads: config.dspThreads,
          maxQueue: config.dspMaxQueue,
          deadlineMs: config.dspDeadlineMs,
          frontendBackend: config.frontendBackend,
          log: opts.log,
        })
      : new InlineDsp(frontend);
  const registry = new RegistryService(config, new RegistryStore(redis, config.keyPrefix), opts.log, jobMetrics);
  // Redis back after a restart (or the first connection): a registry it lost is rebuilt at once.
  redis.on('ready', () => void registry.recoverIfLost().catch((err: Error) => opts.log.warn(`registry recovery failed: ${err.message}`)));
  const maintenance = new Maintenance({
    registry,
    collector: {
      featuresDir,
      maxBytes: config.featureCacheMaxBytes,
      graceMs: config.featureCacheGraceMs,
      metrics: jobMetrics,
      log: opts.log,
    },
    intervalMs: config.maintenanceIntervalMs,
    log: opts.log,
  });
  const ctx: AppContext = {
    config,
    version: opts.version,
    registry,
    features: new FeatureService({ queue: queues, featuresDir, dsp, log: opts.log }),
    epochs: new EpochService({
      queue: queues,
      featuresDir,
      augmented,
      augmentLookahead: config.augmentLookahead,
      maxBatchBytes: config.maxBatchBytes,
      log: opts.log,
      isRegistered: (rec) => registry.isRegistered(rec),
    }),
    streamBudget: new StreamMemoryBudget(config.streamMemoryBudget, config.streamBudgetWaitMs, config.streamClientBudget),
    queue: queues,
    frontend,
    dsp,
    storeAnswers: async () => (await redis.ping()) === 'PONG',
    metrics: { jobMetrics: () => jobMetrics.read(), jobCounts: (...states) => queues.jobCounts(...states) },
    boardQueues: () => queues.boardAdapters(),
  };
  return {
    ctx,
    maintenance,
    queues,
    ready: () => queues.ready(),
    async close() {
      await maintenance.stop();
      await augmented.stop();
      await dsp.close();
      await queues.close();
      redis.disconnect();
    },
  };
}

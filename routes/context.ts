/**
 * What the route plugins get: the services and ports of one API process, built by
 * routes/compose.ts (the API's one composition root). This file imports no route and no
 * plugin, so every route can import it without a cycle. Routes get no Redis client and
 * no BullMQ queue: only services and ports.
 */
import type { BaseAdapter } from '@bull-board/api/baseAdapter';
import type { FrontendBackend } from '../src/core/frontend/backend.ts';
import type { Config } from '../src/services/config.ts';
import type { EpochService } from '../src/services/epochs/stream.ts';
import type { FeatureService } from '../src/services/features/service.ts';
import type { DspPort, FeatureQueue } from '../src/services/ports.ts';
import type { RegistryService } from '../src/services/registry/service.ts';
import type { StreamMemoryBudget } from '../src/services/stream-budget.ts';
import type { DeploymentMetrics } from './plugins/metrics.ts';

export interface AppContext {
  config: Config;
  /** package.json version (GET /v1/info, the OpenAPI document). */
  version: string;
  registry: RegistryService;
  features: FeatureService;
  epochs: EpochService;
  /** Bytes all batch streams of the process may hold (STREAM_MEMORY_BUDGET). */
  streamBudget: StreamMemoryBudget;
  /** The featurization queue (cancel, progress), behind its port. */
  queue: FeatureQueue;
  /** The frontend this process runs (POST /v1/features, /v1/info, metrics). */
  frontend: FrontendBackend;
  /** Where a request's clip DSP runs: worker threads with a deadline and a queue bound (DSP_THREADS). */
  dsp: DspPort;
  /** Readiness (/readyz): resolves true when the store answers. */
  storeAnswers(): Promise<boolean>;
  /** Deployment-wide metrics, read at scrape time. */
  metrics: DeploymentMetrics;
  /** The queue board's adapters for /admin/queues. */
  boardQueues(): BaseAdapter[];
}

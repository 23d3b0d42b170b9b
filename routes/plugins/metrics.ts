/**
 * GET /metrics (Prometheus text format) and the request-duration hook. Two kinds of
 * metrics:
 *
 * - Per API process (request durations, the frontend backend this process runs, Node's
 *   default process metrics): prom-client metrics in a registry owned by this app, so
 *   tests can build several apps in one process.
 * - Per deployment (queue depths, job durations, clips featurized, clip failures by
 *   reason): read when /metrics is scraped, from the queues (job counts) and from the
 *   job-metrics hash the workers write (store/job-metrics.ts). Every replica exposes the
 *   same values: aggregate them with max(), not sum().
 */
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobType } from 'bullmq';
import type { JobMetricsSnapshot } from '../../store/job-metrics.ts';
import type { StreamBudgetStats } from '../../src/services/stream-budget.ts';
import type { RegistryRebuildStats } from '../../src/services/registry/service.ts';

/** Counters this API process keeps (not in Redis: they survive a Redis loss). */
export interface ProcessStats {
  streams?: StreamBudgetStats;
  registry?: RegistryRebuildStats;
}

export const REQUEST_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const JOB_STATES: JobType[] = ['waiting', 'active', 'prioritized', 'delayed', 'waiting-children', 'completed', 'failed'];

/** Where the deployment-wide values come from (routes/compose.ts wires the store and the queues). */
export interface DeploymentMetrics {
  jobMetrics(): Promise<JobMetricsSnapshot>;
  /** Jobs per queue (by name) and state. */
  jobCounts(...states: JobType[]): Promise<Record<string, Record<string, number>>>;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * A metric whose values come from the shared Redis hash at scrape time. Implements the
 * part of prom-client's metric interface that Registry uses (name, help, type, get()).
 */
class RedisBackedMetric {
  readonly aggregator = 'max' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram' | 'gauge',
    private readonly values: () => Promise<MetricValue[]>,
  ) {}
  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: await this.values() };
  }
}

export interface AppMetrics {
  registry: Registry;
  /** Observes one finished request (route pattern, method, status). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
}

export function createAppMetrics(opts: { source: DeploymentMetrics; frontend: string; stats?: ProcessStats }): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'audiofeed_' });

  const streams = opts.stats?.streams;
  if (streams) {
    new Gauge({
      name: 'audiofeed_stream_budget_bytes_in_use',
      help: 'Bytes of STREAM_MEMORY_BUDGET the batch streams of this process hold',
      registers: [registry],
      collect() {
        this.set(streams.inUse);
      },
    });
    new Counter({
      name: 'audiofeed_stream_budget_refusals_total',
      help: 'Batch streams refused with 503 by this process: the whole STREAM_MEMORY_BUDGET taken (budget) or the client\'s STREAM_CLIENT_BUDGET share (client)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ reason: 'budget' }, streams.refused.budget);
        this.inc({ reason: 'client' }, streams.refused.client);
      },
    });
    new Counter({
      name: 'audiofeed_stream_trickle_closes_total',
      help: 'Batch streams this process closed because the reader took less than STREAM_MIN_BYTES_PER_S over STREAM_MIN_THROUGHPUT_WINDOW_MS',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(streams.trickleClosed);
      },
    });
  }
  const rebuilds = opts.stats?.registry;
  if (rebuilds) {
    new Counter({
      name: 'audiofeed_registry_rebuilds_total',
      help: 'Times this API process found the registry lost from Redis and rebuilt it from the manifests in DATA_DIR/registry',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(rebuilds.rebuilds);
      },
    });
    new Counter({
      name: 'audiofeed_registry_rebuilt_registrations_total',
      help: 'Registrations this API process restored from their manifests when it rebuilt a lost registry',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(rebuilds.restored);
      },
    });
  }

  const requests = new Histogram({
    name: 'audiofeed_http_request_duration_seconds',
    help: 'HTTP request duration (for streams: until the last byte), by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [registry],
  });

  new Gauge({
    name: 'audiofeed_frontend_backend_info',
    help: 'Microfrontend backend this API process runs (native addon or TypeScript), as a label',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.set({ backend: opts.frontend }, 1);
    },
  });

  const redisUp = new Gauge({
    name: 'audiofeed_metrics_redis_up',
    help: '1 when the deployment-wide metrics could be read from Redis at this scrape, else 0',
    registers: [registry],
  });

  /** One HGETALL and one getJobCounts per queue per scrape, shared by the metrics below. */
  let snapshot: Promise<{ jobs: JobMetricsSnapshot; counts: Record<string, Record<string, number>> } | null> | null = null;
  const read = () => {
    snapshot ??= (async () => {
      try {
        const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref());
        const [jobs, counts] = await Promise.race([Promise.all([opts.source.jobMetrics(), opts.source.jobCounts(...JOB_STATES)]), deadline]);
        redisUp.set(1);
        return { jobs, counts };
      } catch {
        redisUp.set(0);
        return null;
      } finally {
        setImmediate(() => (snapshot = null));
      }
    })();
    return snapshot;
  };

  new Gauge({
    name: 'audiofeed_queue_jobs',
    help: 'Jobs per BullMQ queue and state (deployment-wide, read from Redis at scrape time)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const s = await read();
      this.reset();
      if (!s) return;
      for (const [queue, counts] of Object.entries(s.counts)) {
        for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });

  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_job_duration_seconds',
      'Processing time of featurization jobs (processedOn to finishedOn), recorded by the worker that ran them (deployment-wide)',
      'histogram',
      async () => {
        const out: MetricValue[] = [];
        const s = await read();
        if (!s) return out;
        for (const { queue, status, buckets, sum, count } of s.jobs.durations) {
          // Every bucket of every series, also the empty ones: a histogram with holes misleads histogram_quantile().
          for (const { le, count: v } of buckets) {
            out.push({ metricName: 'audiofeed_job_duration_seconds_bucket', labels: { queue, status, le }, value: v });
          }
          out.push({ metricName: 'audiofeed_job_duration_seconds_sum', labels: { queue, status }, value: sum });
          out.push({ metricName: 'audiofeed_job_duration_seconds_count', labels: { queue, status }, value: count });
        }
        return out;
      },
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_clips_featurized_total',
      'Clips run through the microfrontend by the workers, by backend (clips/s: rate() of this)',
      'counter',
      async () => ((await read())?.jobs.clips ?? []).map(({ backend, count }) => ({ labels: { backend }, value: count })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_clip_failures_total',
      'Clips that could not be featurized, by reason (WavDecodeError reason from the shard results)',
      'counter',
      async () => ((await read())?.jobs.failures ?? []).map(({ reason, count }) => ({ labels: { reason }, value: count })),
    ) as unknown as Counter,
  );

  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_shard_corruptions_total',
      'Feature shards that failed verification (checksum, truncation, unparsable, old layout) or were found gone, by reason; each was quarantined and featurized again',
      'counter',
      async () => ((await read())?.jobs.shardCorruptions ?? []).map(({ reason, count }) => ({ labels: { reason }, value: count })),
    ) as unknown as Counter,
  );

  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_registry_recovered_datasets_total',
      'Datasets restored from their manifests (DATA_DIR/registry) after Redis lost the registry (deployment-wide)',
      'counter',
      async () => {
        const s = await read();
        return s ? [{ labels: {}, value: s.jobs.registryRecovered }] : [];
      },
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_feature_cache_removed_files_total',
      'Files removed from DATA_DIR/features by the cache collector, by reason: orphan (no registration uses it), lru (FEATURE_CACHE_MAX_BYTES), stale-temp',
      'counter',
      async () => ((await read())?.jobs.cacheRemovals ?? []).map(({ reason, files }) => ({ labels: { reason }, value: files })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_feature_cache_removed_bytes_total',
      'Bytes removed from DATA_DIR/features by the cache collector, by reason',
      'counter',
      async () => ((await read())?.jobs.cacheRemovals ?? []).map(({ reason, bytes }) => ({ labels: { reason }, value: bytes })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_feature_cache_bytes',
      'Bytes in DATA_DIR/features after the last collection (shared volume: deployment-wide)',
      'gauge',
      async () => {
        const size = (await read())?.jobs.cacheSize;
        return size ? [{ labels: {}, value: size.bytes }] : [];
      },
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_feature_cache_files',
      'Files in DATA_DIR/features after the last collection',
      'gauge',
      async () => {
        const size = (await read())?.jobs.cacheSize;
        return size ? [{ labels: {}, value: size.files }] : [];
      },
    ) as unknown as Counter,
  );

  return {
    registry,
    observeRequest(route, method, status, seconds) {
      requests.observe({ route, method, status }, seconds);
    },
  };
}

const metrics: FastifyPluginAsync<{ source: DeploymentMetrics; frontend: string; stats?: ProcessStats }> = async (app, opts) => {
  const m = createAppMetrics(opts);

  // Callback-style hooks: an async hook costs a promise per request on every route.
  app.addHook('onRequest', (req, reply, done) => {
    const start = process.hrtime.bigint();
    // 'close' also fires for hijacked replies (SSE) and aborted streams, unlike onResponse.
    reply.raw.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      m.observeRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.raw.statusCode, seconds);
    });
    done();
  });

  app.get(
    '/metrics',
    { config: { scope: 'read' }, schema: { tags: ['service'], summary: 'Prometheus metrics', hide: false } },
    async (_req, reply) => {
      const body = await m.registry.metrics();
      return reply.type(m.registry.contentType).send(body);
    },
  );
};

export default fp(metrics, { name: 'audiofeed-metrics' });

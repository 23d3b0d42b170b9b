/**
 * GET /metrics (Prometheus text format) and the request-duration hook. Two kinds of
 * metrics:
 *
 * - Per API process (request durations, the frontend backend this process runs, the DSP
 *   pool's jobs, the event loop's delay, Node's default process metrics): prom-client
 *   metrics in a registry owned by this app, so tests can build several apps in one process.
 * - Per deployment (queue depths, job durations, clips featurized, clip failures by
 *   reason): read when /metrics is scraped, from the queues (job counts) and from the
 *   job-metrics hash the workers write (store/job-metrics.ts). Every replica exposes the
 *   same values: aggregate them with max(), not sum().
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
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
import type { DspStats } from '../../src/services/ports.ts';

/** Event-loop delay buckets (seconds): a healthy loop is in the first two. */
export const EVENT_LOOP_DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** How often the event-loop delay is sampled (ms). */
const EVENT_LOOP_RESOLUTION_MS = 10;
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
 * A metric whose values are computed at scrape time (most from the shared Redis hash).
 * Implements the part of prom-client's metric interface that Registry uses (name, help,
 * type, get()).
 */
class ScrapeTimeMetric {
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

/**
 * The event loop's delay as a Prometheus histogram: perf_hooks.monitorEventLoopDelay samples
 * it every EVENT_LOOP_RESOLUTION_MS; each scrape folds the samples since the last scrape
 * into cumulative bucket counts (from the sampled distribution's percentiles) and resets
 * the sampler. A sample is the time between two timer turns minus the resolution: the time
 * the loop was busy beyond its schedule.
 */
class EventLoopDelayMetric {
  readonly name = 'audiofeed_event_loop_delay_seconds';
  readonly help =
    'Delay of the API event loop beyond its schedule, sampled every 10 ms (a blocked loop delays every request, stream and SSE)';
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly sampler: IntervalHistogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  private readonly counts = EVENT_LOOP_DELAY_BUCKETS.map(() => 0);
  private count = 0;
  private sum = 0;

  constructor() {
    this.sampler.enable();
  }

  stop(): void {
    this.sampler.disable();
  }

  private fold(): void {
    const h = this.sampler;
    const n = h.count;
    if (n === 0) return;
    const offsetNs = EVENT_LOOP_RESOLUTION_MS * 1e6;
    // The sampled CDF: (value, fraction of samples at or below it), ascending.
    const points = [...h.percentiles].map(([p, v]) => [Math.max(0, v - offsetNs) / 1e9, p / 100] as const).sort((a, b) => a[0] - b[0]);
    EVENT_LOOP_DELAY_BUCKETS.forEach((le, i) => {
      let frac = 0;
      for (const [v, f] of points) if (v <= le) frac = Math.max(frac, f);
      this.counts[i]! += Math.round(frac * n);
    });
    this.count += n;
    this.sum += (Math.max(0, h.mean - offsetNs) / 1e9) * n;
    h.reset();
  }

  async get() {
    this.fold();
    const values: MetricValue[] = EVENT_LOOP_DELAY_BUCKETS.map((le, i) => ({
      metricName: `${this.name}_bucket`,
      labels: { le },
      value: this.counts[i]!,
    }));
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export interface AppMetrics {
  registry: Registry;
  /** Stops the event-loop sampler. */
  stop(): void;
  /** Observes one finished request (route pattern, method, status). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
}

export interface MetricsOptions {
  source: DeploymentMetrics;
  frontend: string;
  /** Counters this API process keeps (not in Redis: they survive a Redis loss). */
  stats?: ProcessStats;
  /** The DSP pool of this process (routes/compose.ts). */
  dsp: () => DspStats;
}

export function createAppMetrics(opts: MetricsOptions): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'audiofeed_' });

  const eventLoop = new EventLoopDelayMetric();
  registry.registerMetric(eventLoop as unknown as Counter);

  // The DSP pool's state, read at scrape time.
  const dspGauges: [name: string, help: string, value: (s: DspStats) => number][] = [
    ['audiofeed_dsp_jobs_in_flight', 'Clip DSP jobs of this API process running on its DSP threads (POST /v1/features, computed previews, spectrogram PNGs)', (s) => s.inFlight],
    ['audiofeed_dsp_jobs_queued', 'Clip DSP jobs waiting for a DSP thread (at most DSP_MAX_QUEUE)', (s) => s.queued],
    ['audiofeed_dsp_threads_started', 'DSP threads of this API process running now (npm start boots one at start; more start on demand, up to DSP_THREADS)', (s) => s.started],
    ['audiofeed_dsp_threads', 'DSP threads this API process may run (DSP_THREADS; 0: DSP runs on the event loop)', (s) => s.threads],
  ];
  for (const [name, help, value] of dspGauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(opts.dsp()));
      },
    });
  }
  registry.registerMetric(
    new ScrapeTimeMetric(
      'audiofeed_dsp_jobs_refused_total',
      'Clip DSP jobs refused by this API process, by reason: deadline (ran past DSP_DEADLINE_MS, thread terminated), busy (queue full)',
      'counter',
      async () => {
        const s = opts.dsp();
        return [
          { labels: { reason: 'deadline' }, value: s.deadlineExceeded },
          { labels: { reason: 'busy' }, value: s.rejectedBusy },
        ];
      },
    ) as unknown as Counter,
  );

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
    new ScrapeTimeMetric(
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
    new ScrapeTimeMetric(
      'audiofeed_clips_featurized_total',
      'Clips run through the microfrontend by the workers, by backend (clips/s: rate() of this)',
      'counter',
      async () => ((await read())?.jobs.clips ?? []).map(({ backend, count }) => ({ labels: { backend }, value: count })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new ScrapeTimeMetric(
      'audiofeed_clip_failures_total',
      'Clips that could not be featurized, by reason (WavDecodeError reason from the shard results)',
      'counter',
      async () => ((await read())?.jobs.failures ?? []).map(({ reason, count }) => ({ labels: { reason }, value: count })),
    ) as unknown as Counter,
  );

  registry.registerMetric(
    new ScrapeTimeMetric(
      'audiofeed_shard_corruptions_total',
      'Feature shards that failed verification (checksum, truncation, unparsable, old layout) or were found gone, by reason; each was quarantined and featurized again',
      'counter',
      async () => ((await read())?.jobs.shardCorruptions ?? []).map(({ reason, count }) => ({ labels: { reason }, value: count })),
    ) as unknown as Counter,
  );

  registry.registerMetric(
    new ScrapeTimeMetric(
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
    new ScrapeTimeMetric(
      'audiofeed_feature_cache_removed_files_total',
      'Files removed from DATA_DIR/features by the cache collector, by reason: orphan (no registration uses it), lru (FEATURE_CACHE_MAX_BYTES), stale-temp',
      'counter',
      async () => ((await read())?.jobs.cacheRemovals ?? []).map(({ reason, files }) => ({ labels: { reason }, value: files })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new ScrapeTimeMetric(
      'audiofeed_feature_cache_removed_bytes_total',
      'Bytes removed from DATA_DIR/features by the cache collector, by reason',
      'counter',
      async () => ((await read())?.jobs.cacheRemovals ?? []).map(({ reason, bytes }) => ({ labels: { reason }, value: bytes })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new ScrapeTimeMetric(
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
    new ScrapeTimeMetric(
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
    stop: () => eventLoop.stop(),
    observeRequest(route, method, status, seconds) {
      requests.observe({ route, method, status }, seconds);
    },
  };
}

const metrics: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  const m = createAppMetrics(opts);
  app.addHook('onClose', async () => m.stop());

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

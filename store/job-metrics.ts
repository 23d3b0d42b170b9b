/**
 * Prometheus metrics. Two kinds:
 *
 * - Per API process (request durations, the frontend backend this process runs, Node's
 *   default process metrics): prom-client metrics in a registry owned by one app, so
 *   tests can build several apps in one process.
 * - Per deployment (queue depths, job durations, clips featurized, clip failures by
 *   reason): read from Redis when /metrics is scraped. Queue depths come from BullMQ's
 *   getJobCounts. Job durations, clips and failures are recorded by the worker that ran
 *   the job (any process, any host) into one Redis hash, `<prefix>:metrics`, as
 *   cumulative histogram buckets and counters (HINCRBY is atomic, so every job counts
 *   exactly once, whichever worker ran it, and the numbers survive worker restarts).
 *   Every API replica exposes the same deployment-wide values: aggregate them with
 *   max(), not sum(), or scrape one replica for them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import type { FeatureQueues } from '../jobs/queues.ts';

/** Seconds; job durations run from milliseconds (reused shard) to minutes (large shard, slow disk). */
export const JOB_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
export const REQUEST_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const JOB_STATES = ['waiting', 'active', 'prioritized', 'delayed', 'waiting-children', 'completed', 'failed'] as const;

export function metricsKey(prefix: string): string {
  return `${prefix}:metrics`;
}

export interface JobObservation {
  queue: string;
  status: 'completed' | 'failed';
  seconds: number;
  /** Clips featurized by this job (0 for a reused shard or a parent job). */
  clips?: number;
  /** Frontend backend of the worker that featurized the clips. */
  backend?: string;
  /** WavDecodeError reasons of the clips that could not be featurized. */
  failureReasons?: string[];
}

const SEP = '|';
const clean = (s: string) => s.replaceAll(SEP, '_');

/** Called by workers when a job finishes (see src/queue/workers.ts). One round trip. */
export async function recordJob(redis: Redis, prefix: string, o: JobObservation): Promise<void> {
  const key = metricsKey(prefix);
  const base = `${clean(o.queue)}${SEP}${o.status}`;
  const m = redis.multi();
  for (const le of JOB_DURATION_BUCKETS) if (o.seconds <= le) m.hincrby(key, `job_bucket${SEP}${base}${SEP}${le}`, 1);
  m.hincrby(key, `job_bucket${SEP}${base}${SEP}+Inf`, 1);
  m.hincrby(key, `job_count${SEP}${base}`, 1);
  m.hincrbyfloat(key, `job_sum${SEP}${base}`, o.seconds);
  if (o.clips && o.clips > 0) m.hincrby(key, `clips${SEP}${clean(o.backend ?? 'unknown')}`, o.clips);
  const reasons = new Map<string, number>();
  for (const r of o.failureReasons ?? []) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  for (const [r, n] of reasons) m.hincrby(key, `failures${SEP}${clean(r)}`, n);
  await m.exec();
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
    readonly type: 'counter' | 'histogram',
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

export function createAppMetrics(opts: { redis: Redis; queues: FeatureQueues; prefix: string; frontend: string }): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'audiofeed_' });

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
  let snapshot: Promise<{ hash: Record<string, string>; counts: Record<string, Record<string, number>> } | null> | null = null;
  const read = () => {
    snapshot ??= (async () => {
      try {
        const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref());
        const queues = [opts.queues.featurize, opts.queues.shards, opts.queues.augment];
        const [hash, ...counts] = await Promise.race([
          Promise.all([opts.redis.hgetall(metricsKey(opts.prefix)), ...queues.map((q) => q.getJobCounts(...JOB_STATES))]),
          deadline,
        ]);
        redisUp.set(1);
        return { hash, counts: Object.fromEntries(queues.map((q, i) => [q.name, counts[i]!])) };
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

  const fields = async (kind: string) => {
    const s = await read();
    if (!s) return [];
    return Object.entries(s.hash)
      .filter(([k]) => k.startsWith(kind + SEP))
      .map(([k, v]) => ({ parts: k.split(SEP).slice(1), value: Number(v) }));
  };

  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_job_duration_seconds',
      'Processing time of featurization jobs (processedOn to finishedOn), recorded by the worker that ran them (deployment-wide)',
      'histogram',
      async () => {
        const out: MetricValue[] = [];
        const s = await read();
        if (!s) return out;
        const h = s.hash;
        for (const { parts, value } of await fields('job_count')) {
          const [queue, status] = parts as [string, string];
          const base = `${queue}${SEP}${status}`;
          // Every bucket of every series, also the empty ones: a histogram with holes misleads histogram_quantile().
          for (const le of [...JOB_DURATION_BUCKETS.map(String), '+Inf']) {
            const v = Number(h[`job_bucket${SEP}${base}${SEP}${le}`] ?? 0);
            out.push({ metricName: 'audiofeed_job_duration_seconds_bucket', labels: { queue, status, le }, value: v });
          }
          out.push({ metricName: 'audiofeed_job_duration_seconds_sum', labels: { queue, status }, value: Number(h[`job_sum${SEP}${base}`] ?? 0) });
          out.push({ metricName: 'audiofeed_job_duration_seconds_count', labels: { queue, status }, value });
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
      async () => (await fields('clips')).map(({ parts, value }) => ({ labels: { backend: parts[0]! }, value })),
    ) as unknown as Counter,
  );
  registry.registerMetric(
    new RedisBackedMetric(
      'audiofeed_clip_failures_total',
      'Clips that could not be featurized, by reason (WavDecodeError reason from the shard results)',
      'counter',
      async () => (await fields('failures')).map(({ parts, value }) => ({ labels: { reason: parts[0]! }, value })),
    ) as unknown as Counter,
  );

  return {
    registry,
    observeRequest(route, method, status, seconds) {
      requests.observe({ route, method, status }, seconds);
    },
  };
}

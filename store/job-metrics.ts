/**
 * Deployment-wide job metrics in Redis. Job durations, clips featurized and clip
 * failures are recorded by the worker that ran the job (any process, any host) into one
 * Redis hash, `<prefix>:metrics`, as cumulative histogram buckets and counters (HINCRBY
 * is atomic, so every job counts exactly once, whichever worker ran it, and the numbers
 * survive worker restarts). Every API replica reads the same hash when /metrics is
 * scraped (routes/plugins/metrics.ts), so replicas expose the same values: aggregate
 * them with max(), not sum(), or scrape one replica for them.
 */
import type { Redis } from 'ioredis';
import type { CacheRemovalReason, MaintenanceMetrics } from '../src/services/ports.ts';

/** Seconds; job durations run from milliseconds (reused shard) to minutes (large shard, slow disk). */
export const JOB_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

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

/** What has been recorded so far, deployment-wide. */
export interface JobMetricsSnapshot {
  /** Per queue and status: cumulative counts of every bucket (also the empty ones, '+Inf' last), sum and count. */
  durations: { queue: string; status: string; buckets: { le: string; count: number }[]; sum: number; count: number }[];
  clips: { backend: string; count: number }[];
  failures: { reason: string; count: number }[];
  /** Feature shards that failed verification and were quarantined (or found gone), by reason. */
  shardCorruptions: { reason: string; count: number }[];
  /** Datasets restored from their manifests after Redis lost the registry. */
  registryRecovered: number;
  /** Files (and their bytes) removed from the feature cache, by reason. */
  cacheRemovals: { reason: string; files: number; bytes: number }[];
  /** The feature cache after the last collection (null: none yet). */
  cacheSize: { files: number; bytes: number } | null;
}

const SEP = '|';
const clean = (s: string) => s.replaceAll(SEP, '_');

export class JobMetricsStore implements MaintenanceMetrics {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Called by workers when a job finishes (jobs/workers.ts). One round trip. */
  async record(o: JobObservation): Promise<void> {
    const key = metricsKey(this.prefix);
    const base = `${clean(o.queue)}${SEP}${o.status}`;
    const m = this.redis.multi();
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

  /** Called by whoever found a corrupted shard (a stream, a preview, a worker). */
  async recordShardCorruption(reason: string): Promise<void> {
    await this.redis.hincrby(metricsKey(this.prefix), `shard_corruptions${SEP}${clean(reason)}`, 1);
  }

  async recordRegistryRecovery(datasets: number): Promise<void> {
    await this.redis.hincrby(metricsKey(this.prefix), 'registry_recovered', datasets);
  }

  async recordCacheRemovals(reason: CacheRemovalReason, files: number, bytes: number): Promise<void> {
    if (files === 0) return;
    await this.redis
      .multi()
      .hincrby(metricsKey(this.prefix), `cache_removed_files${SEP}${clean(reason)}`, files)
      .hincrby(metricsKey(this.prefix), `cache_removed_bytes${SEP}${clean(reason)}`, bytes)
      .exec();
  }

  async recordCacheSize(files: number, bytes: number): Promise<void> {
    await this.redis.hset(metricsKey(this.prefix), 'cache_files', files, 'cache_bytes', bytes);
  }

  /** One HGETALL. */
  async read(): Promise<JobMetricsSnapshot> {
    const h = await this.redis.hgetall(metricsKey(this.prefix));
    const fields = (kind: string) =>
      Object.entries(h)
        .filter(([k]) => k.startsWith(kind + SEP))
        .map(([k, v]) => ({ parts: k.split(SEP).slice(1), value: Number(v) }));
    return {
      durations: fields('job_count').map(({ parts, value }) => {
        const [queue, status] = parts as [string, string];
        const base = `${queue}${SEP}${status}`;
        return {
          queue,
          status,
          buckets: [...JOB_DURATION_BUCKETS.map(String), '+Inf'].map((le) => ({ le, count: Number(h[`job_bucket${SEP}${base}${SEP}${le}`] ?? 0) })),
          sum: Number(h[`job_sum${SEP}${base}`] ?? 0),
          count: value,
        };
      }),
      clips: fields('clips').map(({ parts, value }) => ({ backend: parts[0]!, count: value })),
      failures: fields('failures').map(({ parts, value }) => ({ reason: parts[0]!, count: value })),
      shardCorruptions: fields('shard_corruptions').map(({ parts, value }) => ({ reason: parts[0]!, count: value })),
      registryRecovered: Number(h.registry_recovered ?? 0),
      cacheRemovals: fields('cache_removed_files').map(({ parts, value }) => ({
        reason: parts[0]!,
        files: value,
        bytes: Number(h[`cache_removed_bytes${SEP}${parts[0]}`] ?? 0),
      })),
      cacheSize: h.cache_bytes === undefined ? null : { files: Number(h.cache_files ?? 0), bytes: Number(h.cache_bytes) },
    };
  }
}

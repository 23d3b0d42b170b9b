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
}

const SEP = '|';
const clean = (s: string) => s.replaceAll(SEP, '_');

export class JobMetricsStore {
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
    };
  }
}

/**
 * Progress of a featurize flow for dashboards: state, shards done/total, clips/s, ETA
 * and the clips that could not be featurized (with reasons). Derived from BullMQ's own
 * job state and the children's return values, so any replica answers the same.
 */
import type { Job } from 'bullmq';
import { SHARD_SIZE, layoutPositions } from '../src/services/features/plan.ts';
import type { JobProgress } from '../src/services/ports.ts';
import type { FeaturizeJobData, FeaturizeResult, ShardJobData, ShardResult } from './payloads.ts';

/** Progress of a featurize parent job; `shardJob` finds a child by id (for failure positions). */
export async function featurizeProgress(
  job: Job<FeaturizeJobData, FeaturizeResult>,
  cancelled: boolean,
  shardJob: (id: string) => Promise<Job<ShardJobData, ShardResult> | undefined>,
): Promise<JobProgress> {
  const id = job.id!;
  const state = await job.getState();
  const data = job.data;
  const total = data.files.length;
  const values = (await job.getChildrenValues()) as Record<string, ShardResult>;
  const ignored = await job.getIgnoredChildrenFailures();
  const done = Object.values(values);
  const shardsDone = data.reusedShards + done.length;
  const computed = done.filter((v) => !v.reused);
  const clipsComputed = computed.reduce((a, v) => a + v.rows, 0);
  const clipsDone = Math.min(data.clips, data.reusedShards * SHARD_SIZE + done.reduce((a, v) => a + v.rows, 0));
  const end = job.finishedOn ?? Date.now();
  const elapsed = (end - data.createdAt) / 1000;
  const rate = clipsComputed > 0 && elapsed > 0 ? clipsComputed / elapsed : null;
  const remaining = data.clips - clipsDone;
  const failures =
    state === 'completed' && job.returnvalue
      ? job.returnvalue.failures.map((f) => ({ ...f, position: f.row }))
      : [];
  if (state !== 'completed') {
    const positionOf = layoutPositions(data.clips, data.layoutSeed ?? null);
    for (const [key, v] of Object.entries(values)) {
      if (v.failures.length === 0) continue;
      const shardId = key.split(':').pop()!;
      const child = await shardJob(shardId);
      const shardIndex = child?.data.shardIndex ?? 0;
      failures.push(...v.failures.map((f) => ({ ...f, position: positionOf(shardIndex, f.row) })));
    }
  }
  return {
    id,
    dataset_id: data.datasetId,
    subset: data.subset,
    state: cancelled && state !== 'completed' ? 'cancelled' : state,
    cancelled,
    shards_total: total,
    shards_done: shardsDone,
    shards_failed: Object.keys(ignored).length,
    clips_total: data.clips,
    clips_done: clipsDone,
    clips_per_second: rate,
    eta_seconds: state === 'completed' ? 0 : rate ? remaining / rate : null,
    failures,
    failed_reason: job.failedReason ?? null,
    created_at: new Date(data.createdAt).toISOString(),
    finished_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

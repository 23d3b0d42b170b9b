/**
 * Processor of a featurize parent job: runs when every shard child has finished and
 * sums up what the shards say (clips, failures with reasons). A cancelled flow fails
 * with reason "cancelled".
 */
import fs from 'node:fs';
import { UnrecoverableError, type Job } from 'bullmq';
import { layoutPositions } from '../../src/services/features/plan.ts';
import { isShardCorrupt } from '../../src/services/features/integrity.ts';
import { openShardSync, type ShardCorruptError, type ShardFailure } from '../../src/services/features/shard-file.ts';
import type { FeaturizeJobData, FeaturizeResult } from '../payloads.ts';

/** `onCorrupt` quarantines and counts a shard that fails verification; it then counts as not computed. */
export function createFeaturizeProcessor(
  isCancelled: (jobId: string) => Promise<boolean>,
  onCorrupt: (err: ShardCorruptError) => Promise<unknown> = async () => undefined,
) {
  return async function processFeaturize(job: Job<FeaturizeJobData, FeaturizeResult>): Promise<FeaturizeResult> {
    if (await isCancelled(job.id!)) throw new UnrecoverableError('cancelled');
    const failures: ShardFailure[] = [];
    let clips = 0;
    const missing: string[] = [];
    const positionOf = layoutPositions(job.data.clips, job.data.layoutSeed ?? null);
    for (const [index, file] of job.data.files.entries()) {
      if (!fs.existsSync(file)) {
        missing.push(String(index));
        continue;
      }
      let shard;
      try {
        shard = openShardSync(file);
      } catch (err) {
        if (!isShardCorrupt(err)) throw err;
        await onCorrupt(err);
        missing.push(String(index));
        continue;
      }
      fs.closeSync(shard.fd);
      clips += shard.header.rows;
      // Report subset positions, not rows within the shard.
      failures.push(...shard.header.failures.map((f) => ({ ...f, row: positionOf(index, f.row) })));
    }
    if (missing.length > 0) {
      const ignored = await job.getIgnoredChildrenFailures();
      const reasons = [...new Set(Object.values(ignored))].slice(0, 3).join('; ');
      throw new UnrecoverableError(`shards ${missing.slice(0, 10).join(', ')} could not be computed${reasons ? `: ${reasons}` : ''}`);
    }
    return { clips, shards: job.data.files.length, failures, seconds: (Date.now() - job.data.createdAt) / 1000 };
  };
}

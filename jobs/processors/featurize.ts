/**
 * Processor of a featurize parent job: runs when every shard child has finished and
 * sums up what the shards say (clips, failures with reasons). A cancelled flow fails
 * with reason "cancelled".
 */
import fs from 'node:fs';
import { UnrecoverableError, type Job } from 'bullmq';
import { SHARD_SIZE } from '../../src/services/features/plan.ts';
import { openShardSync } from '../../src/services/features/shard-file.ts';
import type { ShardFailure } from '../../src/services/features/shard-file.ts';
import type { FeaturizeJobData, FeaturizeResult } from '../payloads.ts';

export function createFeaturizeProcessor(isCancelled: (jobId: string) => Promise<boolean>) {
  return async function processFeaturize(job: Job<FeaturizeJobData, FeaturizeResult>): Promise<FeaturizeResult> {
    if (await isCancelled(job.id!)) throw new UnrecoverableError('cancelled');
    const failures: ShardFailure[] = [];
    let clips = 0;
    const missing: string[] = [];
    job.data.files.forEach((file, index) => {
      if (!fs.existsSync(file)) {
        missing.push(String(index));
        return;
      }
      const shard = openShardSync(file);
      fs.closeSync(shard.fd);
      clips += shard.header.rows;
      // Report subset positions, not rows within the shard.
      failures.push(...shard.header.failures.map((f) => ({ ...f, row: index * SHARD_SIZE + f.row })));
    });
    if (missing.length > 0) {
      const ignored = await job.getIgnoredChildrenFailures();
      const reasons = [...new Set(Object.values(ignored))].slice(0, 3).join('; ');
      throw new UnrecoverableError(`shards ${missing.slice(0, 10).join(', ')} could not be computed${reasons ? `: ${reasons}` : ''}`);
    }
    return { clips, shards: job.data.files.length, failures, seconds: (Date.now() - job.data.createdAt) / 1000 };
  };
}

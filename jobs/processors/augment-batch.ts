/**
 * Processor of one augmented batch: compute the batch's features (src/features/augmented.ts)
 * and write them atomically where the waiting stream reads them.
 */
import type { Job } from 'bullmq';
import { computeAugmentedBatch } from '../../src/services/features/augmented.ts';
import { removeStaleTemps, writeShard } from '../../src/services/features/shard-file.ts';
import type { FrontendBackend } from '../../src/core/frontend/backend.ts';
import type { AugmentJobData, ShardResult } from '../queues.ts';

export function createAugmentProcessor(frontend: FrontendBackend) {
  return async function processAugmentBatch(job: Job<AugmentJobData, ShardResult>): Promise<ShardResult> {
    const t0 = performance.now();
    await removeStaleTemps(job.data.file);
    const { header, data } = await computeAugmentedBatch(job.data, frontend);
    await writeShard(job.data.file, header, data);
    return { rows: header.rows, failures: header.failures, ms: performance.now() - t0, reused: false };
  };
}

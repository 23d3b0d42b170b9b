/**
 * Processor of one augmented batch: compute the batch's features
 * (src/services/features/augmented.ts) and write them atomically where the streams that
 * want the batch read them (src/services/features/augmented-store.ts). The file is named
 * by the batch's content: when it is there already (a job added again by a stream that
 * raced the one that made it), it is not computed twice. `noises` is the worker's
 * background-noise cache.
 */
import fs from 'node:fs';
import type { Job } from 'bullmq';
import type { BackgroundNoiseCache } from '../../src/core/audio/augment/index.ts';
import type { FrontendBackend } from '../../src/core/frontend/backend.ts';
import { computeAugmentedBatch } from '../../src/services/features/augmented.ts';
import { removeStaleTemps, writeShard } from '../../src/services/features/shard-file.ts';
import type { AugmentBatchJob } from '../../src/services/ports.ts';
import type { ShardResult } from '../payloads.ts';

export function createAugmentProcessor(frontend: FrontendBackend, noises: BackgroundNoiseCache) {
  return async function processAugmentBatch(job: Job<AugmentBatchJob, ShardResult>): Promise<ShardResult> {
    const t0 = performance.now();
    if (fs.existsSync(job.data.file)) return { rows: job.data.entries.length, failures: [], ms: performance.now() - t0, reused: true };
    // Only a retried or restarted attempt can find temps of its own; the sweep removes the rest.
    if (job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0) await removeStaleTemps(job.data.file);
    const { header, data } = await computeAugmentedBatch(job.data, frontend, noises);
    await writeShard(job.data.file, header, data);
    return { rows: header.rows, failures: header.failures, ms: performance.now() - t0, reused: false };
  };
}

/**
 * Processor of one shard job: compute the shard's features and write the shard file
 * atomically. Thin: the work is src/services/features/compute-shard.ts.
 */
import fs from 'node:fs';
import type { Job } from 'bullmq';
import { computeShard, type ComputeShardOptions } from '../../src/services/features/compute-shard.ts';
import { isShardCorrupt } from '../../src/services/features/integrity.ts';
import { openShardSync, removeStaleTemps, writeShard, type ShardCorruptError } from '../../src/services/features/shard-file.ts';
import type { FrontendBackend } from '../../src/core/frontend/backend.ts';
import type { ShardJobData, ShardResult } from '../payloads.ts';

/**
 * `onCorrupt` quarantines and counts a shard file that fails verification (it is then
 * computed again); `options` are the shard computation's (pool threads per call).
 */
export function createShardProcessor(
  frontend: FrontendBackend,
  onCorrupt: (err: ShardCorruptError) => Promise<unknown> = async () => undefined,
  options: ComputeShardOptions = {},
) {
  return async function processShard(job: Job<ShardJobData, ShardResult>): Promise<ShardResult> {
    const t0 = performance.now();
    const { file } = job.data;
    if (fs.existsSync(file)) {
      // Another flow or worker finished the same content first (unless the file fails verification).
      try {
        const shard = openShardSync(file);
        fs.closeSync(shard.fd);
        return { rows: shard.header.rows, failures: shard.header.failures, ms: performance.now() - t0, reused: true };
      } catch (err) {
        if (!isShardCorrupt(err)) throw err;
        await onCorrupt(err);
      }
    }
    // Only an attempt after another (retried, or restarted after its worker died) can find
    // temps of its own shard: listing a directory of thousands of shards per job is not free.
    if (job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0) await removeStaleTemps(file);
    const { header, data } = await computeShard(job.data, frontend, options);
    await writeShard(file, header, data);
    return { rows: header.rows, failures: header.failures, ms: performance.now() - t0, reused: false };
  };
}

/**
 * Processor of one shard job: compute the shard's features and write the shard file
 * atomically. Thin: the work is src/services/features/compute-shard.ts.
 */
import fs from 'node:fs';
import type { Job } from 'bullmq';
import { computeShard, type ComputeShardOptions } from '../../src/services/features/compute-shard.ts';
import { openShardSync, removeStaleTemps, writeShard } from '../../src/services/features/shard-file.ts';
import type { FrontendBackend } from '../../src/core/frontend/backend.ts';
import type { ShardJobData, ShardResult } from '../payloads.ts';

export function createShardProcessor(frontend: FrontendBackend, options: ComputeShardOptions = {}) {
  return async function processShard(job: Job<ShardJobData, ShardResult>): Promise<ShardResult> {
    const t0 = performance.now();
    const { file } = job.data;
    if (fs.existsSync(file)) {
      // Another flow or worker finished the same content first.
      const shard = openShardSync(file);
      fs.closeSync(shard.fd);
      return { rows: shard.header.rows, failures: shard.header.failures, ms: performance.now() - t0, reused: true };
    }
    await removeStaleTemps(file);
    const { header, data } = await computeShard(job.data, frontend, options);
    await writeShard(file, header, data);
    return { rows: header.rows, failures: header.failures, ms: performance.now() - t0, reused: false };
  };
}

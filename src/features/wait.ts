/**
 * Waiting for a shard a stream needs: the file appears when a worker renames it into
 * place. Polls the file (cheap, works across hosts sharing the volume) and, every few
 * seconds, the shard's job, so a failed or removed job ends the wait with a reason.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AudiofeedError } from '../errors.ts';
import type { FeatureQueues } from '../queue/queues.ts';
import type { SubsetPlan } from './plan.ts';

export class FeaturizationFailedError extends AudiofeedError {
  constructor(detail: string) {
    super('featurization-failed', 502, 'Featurization failed', detail);
  }
}

export async function waitForShard(
  plan: SubsetPlan,
  index: number,
  queues: FeatureQueues,
  signal: AbortSignal,
  reensure: () => Promise<void>,
): Promise<void> {
  const shard = plan.shards[index]!;
  let delay = 5;
  let lastCheck = Date.now();
  let reensured = false;
  while (!fs.existsSync(shard.file)) {
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    if (Date.now() - lastCheck > 2000) {
      lastCheck = Date.now();
      const { state, reason } = await queues.shardJobState(plan, shard.key);
      if (fs.existsSync(shard.file)) break;
      if (state === 'failed') throw new FeaturizationFailedError(`shard ${index} failed after retries: ${reason ?? 'unknown reason'}`);
      if (state === 'missing') {
        if (reensured) throw new FeaturizationFailedError(`shard ${index} has no job (the featurization was cancelled)`);
        reensured = true;
        await reensure();
      }
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

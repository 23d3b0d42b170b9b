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

/** How long a stream keeps waiting while no worker is connected (e.g. during a restart). */
export const NO_WORKER_GRACE_MS = 30_000;

export function noWorkers(): AudiofeedError {
  return new AudiofeedError(
    'no-workers',
    503,
    'No workers',
    'no featurization worker is connected to this Redis: start `npm run worker` (or IN_PROCESS_WORKERS >= 1 with `npm start`)',
  );
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
  let workerlessSince: number | null = null;
  while (!fs.existsSync(shard.file)) {
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    if (Date.now() - lastCheck > 2000) {
      lastCheck = Date.now();
      const { state, reason } = await queues.shardJobState(plan, shard.key);
      if (fs.existsSync(shard.file)) break;
      // Waiting for a worker that does not exist would hang the client forever.
      if ((await queues.shards.getWorkersCount()) === 0) {
        workerlessSince ??= Date.now();
        if (Date.now() - workerlessSince > NO_WORKER_GRACE_MS) throw noWorkers();
      } else {
        workerlessSince = null;
      }
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

/**
 * Waiting for a shard a stream needs: the file appears when a worker renames it into
 * place. Polls the file (cheap, works across hosts sharing the volume) and, every few
 * seconds, the shard's job, so a failed or removed job ends the wait with a reason.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AudiofeedError } from '../../core/errors.ts';
import type { FeatureQueue } from '../ports.ts';
import type { SubsetPlan } from './plan.ts';

export class FeaturizationFailedError extends AudiofeedError {
  constructor(detail: string) {
    super('featurization-failed', 502, 'Featurization failed', detail);
  }
}

/**
 * A stream's dataset was deleted while it ran, and the stream needs work (featurization)
 * for it: the work is not done for a registration that is gone (its clips may be gone
 * too). Before the first byte this is a 410 problem; after it, the stream ends abnormally.
 */
export class DatasetDeletedError extends AudiofeedError {
  constructor(id: string) {
    super('dataset-deleted', 410, 'Dataset deleted', `dataset ${id} was deleted while this stream was running; register it again to stream it`, { id });
  }
}

/**
 * Longest pause between two looks at the file. A stream waits at its head for a batch
 * that takes a worker 10–50 ms: a longer pause would add more to the time to the first
 * batch than the work itself (one existsSync per look costs microseconds).
 */
const MAX_POLL_MS = 10;

/** How long a stream keeps waiting while no worker is connected (e.g. during a restart). */
export const NO_WORKER_GRACE_MS = 30_000;

/** Retry-After of a `no-workers` answer: a worker that is (re)starting connects within seconds. */
export const NO_WORKER_RETRY_AFTER_S = 10;

/** Work was asked for and no worker is connected to do it: 503 with Retry-After, never a wait without end. */
export class NoWorkersError extends AudiofeedError {
  readonly retryAfterS = NO_WORKER_RETRY_AFTER_S;
  constructor() {
    super(
      'no-workers',
      503,
      'No workers',
      'no worker is connected to the featurization queues of this service: start one with `npm run worker` ' +
        '(or `npm start` with IN_PROCESS_WORKERS >= 1), then retry',
    );
  }
}

export function noWorkers(): NoWorkersError {
  return new NoWorkersError();
}

export interface WaitChecks {
  /** State of the job that makes the file ('missing' when it has none). */
  jobState(): Promise<{ state: string; reason?: string }>;
  /** Workers connected to the queue that runs that job. */
  workers(): Promise<number>;
  /** Called once when the job is missing; a second miss is an error. */
  onMissing?(): Promise<void>;
  /** Called when the job says completed but the file is not there (deleted): make it again. */
  onGone?(): Promise<void>;
  what: string;
}

/** Waits until `file` exists, failing with a reason when it never will. */
export async function waitForFile(file: string, checks: WaitChecks, signal: AbortSignal): Promise<void> {
  let delay = 2;
  let lastCheck = Date.now();
  let missingSeen = false;
  let workerlessSince: number | null = null;
  while (!fs.existsSync(file)) {
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    if (Date.now() - lastCheck > 2000) {
      lastCheck = Date.now();
      const { state, reason } = await checks.jobState();
      if (fs.existsSync(file)) break;
      // Waiting for a worker that does not exist would hang the client forever.
      if ((await checks.workers()) === 0) {
        workerlessSince ??= Date.now();
        if (Date.now() - workerlessSince > NO_WORKER_GRACE_MS) throw noWorkers();
      } else {
        workerlessSince = null;
      }
      if (state === 'completed' && checks.onGone) await checks.onGone();
      if (state === 'failed') throw new FeaturizationFailedError(`${checks.what} failed after retries: ${reason ?? 'unknown reason'}`);
      if (state === 'missing') {
        if (missingSeen || !checks.onMissing) throw new FeaturizationFailedError(`${checks.what} has no job (it was cancelled)`);
        missingSeen = true;
        await checks.onMissing();
      }
    }
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}

export function waitForShard(
  plan: SubsetPlan,
  index: number,
  queue: FeatureQueue,
  signal: AbortSignal,
  reensure: () => Promise<void>,
  onGone?: () => Promise<void>,
): Promise<void> {
  const shard = plan.shards[index]!;
  return waitForFile(
    shard.file,
    {
      jobState: () => queue.shardJobState(plan, index),
      workers: () => queue.workersConnected('shards'),
      onMissing: reensure,
      onGone,
      what: `shard ${index}`,
    },
    signal,
  );
}

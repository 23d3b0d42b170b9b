/**
 * FeatureQueues.ensureAugmentBatch (jobs/queues.ts): one job per augmented batch content
 * key. A queued job is moved up when it is wanted sooner, never down; a finished one whose
 * file is gone and a failed one are replaced, so a content key never stays poisoned; a
 * finished one whose file is there is left alone.
 * And the want counts streams share: the last one out reads 0 and leaves no key behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { closeRedis, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { cleanups, closeAll } from '../helpers/cleanup.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { resolveAugmentation } from '../../src/core/audio/augment/index.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { augmentedBatchKey } from '../../src/services/features/augmented-store.ts';
import type { AugmentBatchJob } from '../../src/services/ports.ts';
import { AUGMENT_QUEUE, augmentJobId, connectionFromUrl } from '../../jobs/queues.ts';
import { createRedis } from '../../store/redis.ts';

let t: TestApp;
let dir: string;
let jobs: Queue;
before(async () => {
  t = await startTestApp();
  dir = path.join(t.root, 'mini');
  copyCorpus(testdata('corpus-mini'), dir);
  jobs = new Queue(AUGMENT_QUEUE, { connection: connectionFromUrl(t.redisUrl), prefix: t.prefix });
});
after(() =>
  closeAll(
    () => jobs?.close(),
    () => t?.close(),
  ),
);

async function jobOf(key: string): Promise<Job<AugmentBatchJob>> {
  const job = await jobs.getJob(augmentJobId(key));
  assert.ok(job, `no job for ${key}`);
  return job as Job<AugmentBatchJob>;
}

function batchJob(over: Partial<AugmentBatchJob> = {}): { key: string; job: AugmentBatchJob } {
  const input = {
    datasetDir: fs.realpathSync(dir),
    root: fs.realpathSync(t.root),
    entries: ['yes/820a09d0_nohash_0.wav', null],
    spec: { frontendEnabled: true, frontendSettings: resolveFrontendSettings({}), trimThresholdDb: 20 },
    augmentation: resolveAugmentation({ offset_range: [0, 1], loudness_range: [0.5, 1] }),
    seed: 43,
    epoch: 0,
    batch: 0,
    ...over,
  };
  const key = augmentedBatchKey(input);
  return { key, job: { ...input, file: path.join(t.dataDir, 'tmp', 'augment', `${key}.afs`), ...over } };
}

test('a queued batch is moved up when wanted sooner, never down', async () => {
  const { key, job } = batchJob({ batch: 1 });
  await t.queues.ensureAugmentBatch(key, job, 10);
  const priority = async () => (await t.queues.augmentBatchState(key)).state === 'prioritized' && (await jobOf(key)).priority;
  assert.equal(await priority(), 10);
  await t.queues.ensureAugmentBatch(key, job, 3);
  assert.equal(await priority(), 3);
  await t.queues.ensureAugmentBatch(key, job, 20);
  assert.equal(await priority(), 3);
  assert.equal(await t.queues.removeAugmentBatch(key), 'removed');
});

test('a finished batch whose file is gone is computed again', async (tc) => {
  const defer = cleanups(tc);
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  const { key, job } = batchJob({ batch: 2 });
  await t.queues.ensureAugmentBatch(key, job, 1);
  await waitFor(async () => (await t.queues.augmentBatchState(key)).state, { what: `augment batch ${key} completed`, until: (s) => s === 'completed' });
  const first = fs.readFileSync(job.file);
  fs.rmSync(job.file);
  await t.queues.ensureAugmentBatch(key, job, 1);
  await waitFor(async () => ({ file: fs.existsSync(job.file), state: (await t.queues.augmentBatchState(key)).state }), {
    what: `augment batch ${key} made again`,
    until: (v) => v.file && v.state === 'completed',
  });
  assert.ok(fs.readFileSync(job.file).equals(first));
});

test('a finished batch whose file is there is not computed again (asked for by a stream that looked a moment before it was written)', async (tc) => {
  const defer = cleanups(tc);
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  const { key, job } = batchJob({ batch: 3 });
  await t.queues.ensureAugmentBatch(key, job, 1);
  await waitFor(async () => (await t.queues.augmentBatchState(key)).state, { what: `augment batch ${key} completed`, until: (s) => s === 'completed' });
  const before = await jobOf(key);
  await t.queues.ensureAugmentBatch(key, job, 1);
  const after = await jobOf(key);
  assert.equal(await after.getState(), 'completed');
  assert.equal(after.timestamp, before.timestamp, 'the finished job was replaced');
  assert.equal(after.finishedOn, before.finishedOn);
});

test('a failed batch is replaced by a new job when it is wanted again', async (tc) => {
  const defer = cleanups(tc);
  const workers = startTestWorkers(t);
  let closed = false;
  defer(() => closed || workers.close());
  // Fails on every attempt: its background-noise directory does not exist.
  const { key, job } = batchJob({ batch: 3, augmentation: resolveAugmentation({ bg_noise_range: [0, 0.1], bg_noise_dir: path.join(dir, 'nope') }) });
  await t.queues.ensureAugmentBatch(key, job, 1);
  await waitFor(async () => (await t.queues.augmentBatchState(key)).state, { what: `augment batch ${key} failed`, until: (s) => s === 'failed' });
  assert.equal((await jobOf(key)).attemptsMade, 3);
  // No worker to take the new job: it stays queued as added.
  await workers.close();
  closed = true;
  await t.queues.ensureAugmentBatch(key, job, 1);
  const again = await jobOf(key);
  assert.equal(await again.getState(), 'prioritized');
  assert.equal(again.attemptsMade, 0);
  assert.equal(await t.queues.removeAugmentBatch(key), 'removed');
});

test('want counts: the last stream out reads 0, and no key is left', async () => {
  const { key } = batchJob({ batch: 4 });
  await t.queues.wantAugmentBatches([key]);
  await t.queues.wantAugmentBatches([key]);
  assert.equal(await t.queues.unwantAugmentBatch(key), 1);
  assert.equal(await t.queues.unwantAugmentBatch(key), 0);
  assert.equal(await t.queues.unwantAugmentBatch(key), 0, 'never below 0');
  const redis = createRedis(t.redisUrl);
  try {
    assert.deepEqual(await redis.keys(`${t.prefix}:augment-wants:*`), []);
  } finally {
    await closeRedis(redis);
  }
});

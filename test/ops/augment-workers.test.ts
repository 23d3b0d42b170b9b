/**
 * Augmented batches are spread over every worker: two `npm run worker` processes
 * (jobs/worker.ts) both take the batches of one trainer's augmented epochs, as BullMQ
 * hands the window of queued batches to whichever worker is free. Asserted on which
 * worker ran which job (BullMQ's processedBy: the worker's host:pid), not on timing.
 * And `npm run worker` gives the native calls a thread pool as large as the machine's cores.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { startTestApp, registerDataset, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { spawnService, type ServiceProcess } from './helpers.ts';
import { waitFor } from '../helpers/wait.ts';
import { AUGMENT_QUEUE, connectionFromUrl } from '../../jobs/queues.ts';
import type { AugmentBatchJob } from '../../src/services/ports.ts';
import { closeAll } from '../helpers/cleanup.ts';

let t: TestApp;
let jobs: Queue;
const workers: ServiceProcess[] = [];

before(async () => {
  t = await startTestApp({ AUGMENT_LOOKAHEAD: '6' });
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  jobs = new Queue(AUGMENT_QUEUE, { connection: connectionFromUrl(t.redisUrl), prefix: t.prefix });
  for (let i = 0; i < 2; i++) {
    const env = {
      REDIS_URL: t.redisUrl,
      KEY_PREFIX: t.prefix,
      DATA_DIR: t.dataDir,
      DATA_ROOTS: t.root,
      // One batch at a time each: a worker busy with one leaves the next to the other.
      WORKER_CONCURRENCY: '1',
    };
    // The first as `npm run worker` starts it (its package.json line), the second as a bare node process.
    const w = await spawnService('jobs/worker.ts', env, { packageScript: i === 0 });
    workers.push(w);
    await w.waitFor(/worker started/);
  }
  await waitFor(() => t.queues.workersConnected('augment'), { what: 'both worker processes connected to the augment queue', until: (n) => n === 2 });
  await registerDataset(t, {
    name: 'spread',
    source: { type: 'directory', path: 'mini' },
    classes: ['yes', 'no', '_silence_'],
    validation_split: 0.25,
    batch_size: 2,
    augmentation: { offset_range: [0, 1], loudness_range: [0.6, 1.2], noise_colors: 'all', noise_color_range: [0, 0.05], speed_range: [0.9, 1.1] },
  });
});

after(() =>
  closeAll(
    () => Promise.all(workers.map((w) => w.stop())),
    () => jobs?.close(),
    () => t?.close(),
  ),
);

test("both worker processes take augmented batches of one trainer's epochs", async () => {
  const names = new Set(workers.map((w) => `${os.hostname()}:${w.proc.pid}`));
  const ranBy = async () => new Set(((await jobs.getJobs(['completed'])) as Job<AugmentBatchJob>[]).map((j) => j.processedBy));
  // Epoch after epoch until both have run some (BullMQ gives a queued job to whichever worker asks first).
  for (let epoch = 0; epoch < 8 && (await ranBy()).size < 2; epoch++) {
    const res = await t.app.inject({ url: `/v1/datasets/spread/batches?epoch=${epoch}&format=npy` });
    assert.equal(res.statusCode, 200, res.body);
  }
  const seen = await ranBy();
  assert.deepEqual([...seen].filter((n) => !names.has(n ?? '')), [], 'every augmented job ran on one of the two worker processes');
  assert.equal(seen.size, 2, `only ${[...seen].join(', ')} ran augmented batches`);
});

test('`npm run worker` sizes the thread pool to the cores (at least libuv’s 4); a bare process reports libuv’s default', async () => {
  const [script, bare] = await Promise.all(workers.map((w) => w.waitFor(/worker started/)));
  assert.match(script!, new RegExp(`pool threads ${Math.max(4, os.availableParallelism())}\\)`));
  assert.match(bare!, /pool threads 4 \(UV_THREADPOOL_SIZE unset: libuv default\)/);
});

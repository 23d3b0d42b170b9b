/**
 * The first batches first (issue #12): a cold epoch's first batches are featurized directly
 * for the stream (a few batches ahead, before the background shards), and the bytes equal
 * the same epoch streamed again from the feature cache, in both formats. The first epoch
 * then reads the shards in their layout order, so nothing else is computed twice; another
 * epoch's order on a cold cache is featurized directly throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, startTestWorkers, registerDataset } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { copyCorpus, duplicateClips, testdata } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { DIRECT_AHEAD, outOfLayoutOrder } from '../../src/services/epochs/producers.ts';
import { shardsOf } from '../../src/services/epochs/assemble.ts';
import { batchIndices } from '../../src/core/datasets/index.ts';

for (const format of ['arrow', 'npy'] as const) {
  test(`a cold epoch (${format}) equals the same epoch from the cache, byte for byte`, { timeout: 240_000 }, async (ctx) => {
    const defer = cleanups(ctx);
    const t = await startTestApp();
    defer(() => t.close());
    const dir = path.join(t.root, 'mini');
    copyCorpus(testdata('corpus-mini'), dir);
    duplicateClips(dir, ['yes', 'no'], 1);
    const workers = startTestWorkers(t);
    defer(() => workers.close());
    await registerDataset(t, { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', '_unknown_', '_silence_'], batch_size: 8 });
    const url = `/v1/datasets/mini/batches?format=${format}&dtype=int8&epoch=2`;
    const cold = await t.app.inject({ url });
    assert.equal(cold.statusCode, 200, cold.body);
    const plan = t.ctx.features.planOf(await t.ctx.registry.get('mini'), (await t.ctx.registry.subsets('mini')).training!);
    await waitFor(() => plan.shards.filter((s) => !fs.existsSync(s.file)).length, { what: 'every shard of the plan on disk (shards missing)', until: (n) => n === 0 });
    const cached = await t.app.inject({ url });
    assert.equal(cached.statusCode, 200);
    assert.ok(cold.rawPayload.length > 0);
    assert.ok(cold.rawPayload.equals(cached.rawPayload), 'cold stream = cached stream');
    // Nothing of the direct batches is left behind.
    const direct = path.join(t.dataDir, 'features', '.direct');
    assert.deepEqual(fs.existsSync(direct) ? fs.readdirSync(direct) : [], []);
  });
}

test('a cold first epoch reads the shards in the order the workers make them: after its first batches nothing is featurized twice', { timeout: 240_000 }, async (ctx) => {
  const defer = cleanups(ctx);
  const t = await startTestApp();
  defer(() => t.close());
  const dir = path.join(t.root, 'mini');
  copyCorpus(testdata('corpus-mini'), dir);
  duplicateClips(dir, ['yes', 'no', 'up', 'down'], 7);
  const direct: string[] = [];
  const addDirectBatch = t.queues.addDirectBatch.bind(t.queues);
  t.queues.addDirectBatch = async (id, job) => {
    direct.push(id);
    await addDirectBatch(id, job);
  };
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  const batchSize = 4;
  await registerDataset(t, { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', 'up', 'down'], batch_size: batchSize });
  const rec = await t.ctx.registry.get('mini');
  const plan = t.ctx.features.planOf(rec, (await t.ctx.registry.subsets('mini')).training!);
  assert.ok(plan.shards.length >= 4, `${plan.shards.length} shards`);
  // Epoch 0, default shuffle: what a trainer streams first.
  const url = '/v1/datasets/mini/batches?format=npy';
  const cold = await t.app.inject({ url });
  assert.equal(cold.statusCode, 200, cold.body);
  const batches = Number(cold.headers['x-audiofeed-batches']);
  assert.ok(batches > DIRECT_AHEAD + 1 + 2 * (64 / batchSize), `${batches} batches`);
  // Only the first DIRECT_AHEAD + 1 batches were featurized for the stream; the rest came from the shards.
  assert.equal(direct.length, DIRECT_AHEAD + 1, direct.join(', '));
  await waitFor(() => plan.shards.filter((s) => !fs.existsSync(s.file)).length, { what: 'every shard of the plan on disk (shards missing)', until: (n) => n === 0 });
  const cached = await t.app.inject({ url });
  assert.ok(cold.rawPayload.equals(cached.rawPayload), 'cold stream = cached stream');
  assert.equal(direct.length, DIRECT_AHEAD + 1, 'the cached stream featurized nothing');
  // Another epoch on a cold cache reads the layout out of order: a batch that needs more
  // shards than it and the two a run of the layout straddles is featurized directly.
  for (const s of plan.shards) fs.rmSync(s.file);
  direct.length = 0;
  const steps = 12;
  const other = await t.app.inject({ url: `/v1/datasets/mini/batches?format=npy&epoch=4&steps_per_epoch=${steps}&batch_size=8` });
  assert.equal(other.statusCode, 200, other.body);
  const n = plan.shards.at(-1)!.end;
  // Epoch 4 of 12 steps: batches 48 … 59 of the stream, in its second shuffled order.
  const order = batchIndices(n, 8, { shuffle: true, seed: 43, epoch: 4, stepsPerEpoch: steps });
  const expected = order.filter((b, k) => k <= DIRECT_AHEAD || outOfLayoutOrder(shardsOf(plan, b).length, b.length)).length;
  assert.ok(expected > DIRECT_AHEAD + 1, `${expected} batches out of layout order`);
  assert.equal(direct.length, expected);
});

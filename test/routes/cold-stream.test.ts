/**
 * The first batches first (issue #12): a cold epoch's batches are featurized directly for
 * the stream (a few batches ahead, before the background shards), and the bytes equal
 * the same epoch streamed again from the feature cache, in both formats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, startTestWorkers, registerDataset } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { until } from '../ops/helpers.ts';

for (const format of ['arrow', 'npy'] as const) {
  test(`a cold epoch (${format}) equals the same epoch from the cache, byte for byte`, { timeout: 90_000 }, async (ctx) => {
    const defer = cleanups(ctx);
    const t = await startTestApp();
    defer(() => t.close());
    const dir = path.join(t.root, 'mini');
    copyCorpus(testdata('corpus-mini'), dir);
    for (const cls of ['yes', 'no']) {
      for (const f of fs.readdirSync(path.join(dir, cls))) if (f.endsWith('.wav')) fs.copyFileSync(path.join(dir, cls, f), path.join(dir, cls, `d1${f}`));
    }
    const workers = startTestWorkers(t);
    defer(() => workers.close());
    await registerDataset(t, { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', '_unknown_', '_silence_'], batch_size: 8 });
    const url = `/v1/datasets/mini/batches?format=${format}&dtype=int8&epoch=2`;
    const cold = await t.app.inject({ url });
    assert.equal(cold.statusCode, 200, cold.body);
    const plan = t.ctx.features.planOf(await t.ctx.registry.get('mini'), (await t.ctx.registry.subsets('mini')).training!);
    await until(async () => plan.shards.every((s) => fs.existsSync(s.file)));
    const cached = await t.app.inject({ url });
    assert.equal(cached.statusCode, 200);
    assert.ok(cold.rawPayload.length > 0);
    assert.ok(cold.rawPayload.equals(cached.rawPayload), 'cold stream = cached stream');
    // Nothing of the direct batches is left behind.
    const direct = path.join(t.dataDir, 'features', '.direct');
    assert.deepEqual(fs.existsSync(direct) ? fs.readdirSync(direct) : [], []);
  });
}

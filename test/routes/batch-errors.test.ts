/**
 * Batch streams fail in a way every client can tell (issue #11 item 5): whatever fails
 * before the first byte is a problem+json response with its status (the first batch is
 * made before the headers are sent); whatever fails after it ends the connection
 * abnormally, never with a clean end.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, startTestWorkers, registerDataset } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { copyCorpus, duplicateClips, testdata } from '../helpers/paths.ts';

const DATASET = {
  name: 'mini',
  source: { type: 'directory', path: 'mini' },
  classes: ['yes', 'no', '_unknown_', '_silence_'],
  validation_split: 0.2,
  batch_size: 8,
};

describe('batch stream failures', () => {
  test('DATA_DIR/features unwritable: the stream request gets a 502 problem, not an empty reply', { timeout: 240_000 }, async (ctx) => {
    const defer = cleanups(ctx);
    const t = await startTestApp();
    defer(() => t.close());
    copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
    const workers = startTestWorkers(t);
    defer(() => workers.close());
    await registerDataset(t, DATASET);
    // A file where the features directory should be: no shard can be written.
    fs.mkdirSync(t.dataDir, { recursive: true });
    fs.writeFileSync(path.join(t.dataDir, 'features'), 'not a directory');
    const res = await t.app.inject({ url: '/v1/datasets/mini/batches?format=npy' });
    assert.equal(res.statusCode, 502, res.body);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    const problem = res.json();
    assert.match(problem.type, /featurization-failed/);
    assert.equal(problem.status, 502);
    assert.match(problem.detail, /failed after retries/);
  });

  test('a failure after the first byte breaks the connection (no clean end)', { timeout: 240_000 }, async (ctx) => {
    const defer = cleanups(ctx);
    const t = await startTestApp();
    defer(() => t.close());
    const dir = path.join(t.root, 'mini');
    copyCorpus(testdata('corpus-mini'), dir);
    duplicateClips(dir, ['yes', 'no'], 4);
    const workers = startTestWorkers(t);
    defer(() => workers.close());
    await registerDataset(t, DATASET);
    const rec = await t.ctx.registry.get('mini');
    const plan = t.ctx.features.planOf(rec, (await t.ctx.registry.subsets('mini')).training!);
    assert.ok(plan.shards.length >= 2);
    // Shard 1 cannot be read (a directory in its place): batch 0 (shard 0, no shuffle) is sent first.
    fs.mkdirSync(plan.shards[1]!.file, { recursive: true });
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/v1/datasets/mini/batches?format=npy&shuffle=false`);
    assert.equal(res.status, 200);
    const batches = Number(res.headers.get('x-audiofeed-batches'));
    let received = 0;
    await assert.rejects(async () => {
      for await (const chunk of res.body!) received += chunk.byteLength;
    }, 'reading the body fails: the stream is broken, not short');
    assert.ok(received > 0, 'bytes of the first batches arrived before the break');
    assert.ok(batches > 8);
  });
});

/**
 * Shard garbage collection through the running service (issue #20): shards of a deleted
 * dataset and of superseded settings (a re-registration with another seed) are removed by
 * the maintenance pass, counted in /metrics; FEATURE_CACHE_MAX_BYTES evicts the least
 * recently used shards, and a stream that needs a shard evicted under it has it featurized
 * again and delivers its epoch byte for byte.
 *
 * "An hour later" is made by setting the files' times back (the collector reads them), not
 * by waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connectIdleWorkers, registerDataset, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { copyCorpus, duplicateClips, testdata } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];

/** Every shard file in DATA_DIR/features (the feature-settings directories), by path. */
function shards(t: TestApp): Map<string, number> {
  const root = path.join(t.dataDir, 'features');
  const out = new Map<string, number>();
  for (const d of fs.readdirSync(root)) {
    if (!/^[0-9a-f]{16}$/.test(d)) continue;
    for (const f of fs.readdirSync(path.join(root, d))) if (f.endsWith('.afs')) out.set(path.join(root, d, f), fs.statSync(path.join(root, d, f)).size);
  }
  return out;
}

/** Sets every feature file's time an hour back: unused since. */
function anHourLater(t: TestApp): void {
  const then = new Date(Date.now() - 3600_000);
  for (const f of shards(t).keys()) fs.utimesSync(f, then, then);
}

async function stream(t: TestApp, id: string, query = ''): Promise<Buffer> {
  const res = await t.app.inject({ url: `/v1/datasets/${id}/batches?format=npy&${query}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.rawPayload;
}

/** Featurizes the training subset and waits for the job: every shard is on disk. */
async function featurized(t: TestApp, id: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/datasets/${id}/featurize`, payload: { subset: 'training' } });
  assert.equal(res.statusCode, 202, res.body);
  await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${res.json().job_id}` })).json().state, {
    what: `featurization ${res.json().job_id} completed`,
    until: (s) => s === 'completed',
  });
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('shards of a deleted dataset and of superseded settings are removed; the ones in use stay; /metrics counts them', async (tt) => {
  const defer = cleanups(tt);
  const t = await startTestApp({ FEATURE_CACHE_GRACE_MS: '60000' });
  defer(() => t.close());
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  await workers.ready();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'other'));
  const settings = { source: { type: 'directory', path: 'mini' }, classes: CLASSES, validation_split: 0.2 };
  await registerDataset(t, { name: 'mini', ...settings });
  await featurized(t, 'mini');
  const before = new Set(shards(t).keys());
  assert.ok(before.size > 0);

  // Re-registered with another seed: another layout, other shards.
  assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/datasets/mini' })).statusCode, 204);
  await registerDataset(t, { name: 'mini', ...settings, seed: 7 });
  await featurized(t, 'mini');
  await registerDataset(t, { name: 'other', ...settings, source: { type: 'directory', path: 'other' } });
  await featurized(t, 'other');
  const current = [...shards(t).keys()].filter((f) => !before.has(f));
  assert.ok(current.length >= 2, `the new mini and other have shards of their own: ${current.length}`);

  // Within the grace period nothing goes, unused or not.
  let report = (await t.maintenance.runOnce())!;
  assert.equal(report.cache!.removed.orphan.files, 0);
  anHourLater(t);
  report = (await t.maintenance.runOnce())!;
  assert.deepEqual(report.cache!.removed.orphan.files, before.size);
  assert.deepEqual([...shards(t).keys()].sort(), current.sort());

  // Deleted: its shards go at the next pass.
  const others = new Set([...shards(t).keys()]);
  assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/datasets/other' })).statusCode, 204);
  anHourLater(t);
  report = (await t.maintenance.runOnce())!;
  const left = shards(t);
  assert.ok(report.cache!.removed.orphan.files > 0);
  assert.equal(left.size, others.size - report.cache!.removed.orphan.files);
  // What is left still streams without featurization.
  await stream(t, 'mini');

  const text = (await t.app.inject({ url: '/metrics' })).body;
  assert.equal(metric(text, 'audiofeed_feature_cache_removed_files_total{reason="orphan"}'), before.size + report.cache!.removed.orphan.files);
  assert.ok(metric(text, 'audiofeed_feature_cache_removed_bytes_total{reason="orphan"}')! > 0);
  assert.equal(metric(text, 'audiofeed_feature_cache_files'), report.cache!.files);
  assert.equal(metric(text, 'audiofeed_feature_cache_bytes'), report.cache!.bytes);
});

test('FEATURE_CACHE_MAX_BYTES evicts least recently used shards; a stream whose shards are evicted under it featurizes them again and delivers its epoch exactly', async (tt) => {
  const defer = cleanups(tt);
  // No grace period here: every shard goes, also those the stream has open (it keeps reading
  // them through its descriptors) and those it has yet to read (it has them made again).
  const t = await startTestApp({ FEATURE_CACHE_MAX_BYTES: '1', FEATURE_CACHE_GRACE_MS: '0' });
  defer(() => t.close());
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  await workers.ready();
  const dir = path.join(t.root, 'big');
  copyCorpus(testdata('corpus-mini'), dir);
  duplicateClips(dir, ['yes', 'no', 'up', 'down', 'left', 'right'], 3);
  await registerDataset(t, { name: 'big', source: { type: 'directory', path: 'big' }, classes: CLASSES, validation_split: 0.2 });
  await featurized(t, 'big');
  const reference = await stream(t, 'big', 'subset=training&epoch=1&batch_size=1');
  const warm = shards(t);
  assert.ok(warm.size >= 3, `${warm.size} shards`);

  // A second stream of the same epoch: its first batch is out, then every shard not used
  // within the grace period is evicted (FEATURE_CACHE_MAX_BYTES = 1) under it.
  const rec = await t.ctx.registry.get('big');
  const lists = await t.ctx.registry.subsets('big');
  const abort = new AbortController();
  defer(() => abort.abort());
  // One clip a batch: when its first batch is out, it has opened at most two of the shards.
  const epoch = await t.ctx.epochs.open(rec, lists, { subset: 'training', epoch: 1, batchSize: 1, format: 'npy', requestId: 'evicted', signal: abort.signal });
  const chunks: Buffer[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let firstOut!: () => void;
  const first = new Promise<void>((r) => (firstOut = r));
  const done = epoch.writeTo(async (chunk) => {
    chunks.push(Buffer.from(chunk));
    if (chunks.length === 1) {
      firstOut();
      await gate;
    }
  });
  done.catch(() => undefined);
  await first;
  await new Promise((r) => setTimeout(r, 5)); // every file's time is now in the past
  const report = (await t.maintenance.runOnce())!;
  assert.equal(report.cache!.removed.lru.files, warm.size, JSON.stringify(report));
  assert.equal(shards(t).size, 0);
  release();
  await done;
  const got = Buffer.concat(chunks);
  assert.ok(got.equals(reference), `the epoch streamed while its shards were evicted differs (${got.length} vs ${reference.length} bytes)`);
  // The shards it had not opened yet were made again.
  assert.ok(shards(t).size > 0);
  const text = (await t.app.inject({ url: '/metrics' })).body;
  assert.equal(metric(text, 'audiofeed_feature_cache_removed_files_total{reason="lru"}'), warm.size);
  assert.ok(metric(text, 'audiofeed_shard_corruptions_total{reason="missing"}')! >= 1, 'a shard found gone is counted');
});

test('a new featurization marks the shards it reuses as used, so the collector keeps them while it runs', async (tt) => {
  const defer = cleanups(tt);
  const t = await startTestApp({ FEATURE_CACHE_MAX_BYTES: '1', FEATURE_CACHE_GRACE_MS: '600000' });
  defer(() => t.close());
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  await workers.ready();
  const dir = path.join(t.root, 'reuse');
  copyCorpus(testdata('corpus-mini'), dir);
  duplicateClips(dir, ['yes', 'no', 'up', 'down', 'left', 'right'], 3);
  await registerDataset(t, { name: 'reuse', source: { type: 'directory', path: 'reuse' }, classes: CLASSES, validation_split: 0.2 });
  await featurized(t, 'reuse');
  const files = [...shards(t).keys()].sort();
  assert.ok(files.length >= 3, `${files.length} shards`);
  anHourLater(t);
  // One shard is gone: the next featurization is a new flow that makes it and reuses the rest.
  fs.rmSync(files[0]!);
  await workers.close();
  const idle = await connectIdleWorkers(t);
  defer(() => idle.close());
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/reuse/featurize', payload: { subset: 'training' } });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().created, true);
  // Marked: touched since anHourLater() dated every shard an hour back.
  for (const f of files.slice(1)) assert.ok(Date.now() - fs.statSync(f).mtimeMs < 1_800_000, `${f} marked as used`);
  // Over the bound, yet nothing in use goes.
  const report = (await t.maintenance.runOnce())!;
  assert.equal(report.cache!.removed.lru.files, 0);
  assert.equal(report.cache!.overBound, true);
});

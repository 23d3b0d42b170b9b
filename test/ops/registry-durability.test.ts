/**
 * Registry durability (issue #21): every registration is also a manifest in
 * DATA_DIR/registry, kept in step by every update and delete, and a registry that Redis
 * lost is rebuilt from the manifests: on the next request, and as soon as a restarted
 * Redis is connected again. Logged (test/services/registry.test.ts) and counted in /metrics.
 *
 * A Redis loss is made by deleting this run's keys, not with FLUSHALL: the Redis at
 * 127.0.0.1:6379 is shared with other test runs, which FLUSHALL would wipe. To this run,
 * losing every key of its prefix is exactly what a flush looks like.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeRedis, deleteKeys, registerDataset, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { createRedis } from '../../store/redis.ts';
import { startRedis, type RedisProcess } from './helpers.ts';
import { waitFor } from '../helpers/wait.ts';

const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-durability-'));
const redises: RedisProcess[] = [];
after(async () => {
  for (const r of redises) await r.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

/** What a Redis flush does to this run: every key of its prefix is gone. */
async function loseRedis(t: TestApp): Promise<void> {
  const redis = createRedis(t.redisUrl);
  try {
    await deleteKeys(redis, t.prefix);
  } finally {
    await closeRedis(redis);
  }
}

function manifestOf(t: TestApp, id: string): { header: { revision: number }; record: { loaded_subset: string; revision: number } } {
  const [head, body] = fs.readFileSync(path.join(t.dataDir, 'registry', `${id}.json`), 'utf8').split('\n');
  return { header: JSON.parse(head!), record: JSON.parse(body!).record };
}

test('after a Redis loss the next request finds every registration as it was: lists, loads, streams; a deleted one stays deleted', async (tt) => {
  const defer = cleanups(tt);
  const warnings: string[] = [];
  const t = await startTestApp({}, { serviceLog: { info() {}, warn: (m) => warnings.push(m) } });
  defer(() => t.close());
  const workers = startTestWorkers(t);
  defer(() => workers.close());
  await workers.ready();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  const settings = { source: { type: 'directory', path: 'mini' }, classes: CLASSES, validation_split: 0.2, batch_size: 16, class_weights: 'balanced' };
  await registerDataset(t, { name: 'mini', ...settings });
  await registerDataset(t, { name: 'gone', ...settings });
  // Updates and deletes keep the manifests in step.
  const loaded = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/load', payload: { subset: 'evaluation' } });
  assert.equal(loaded.statusCode, 200, loaded.body);
  assert.equal(manifestOf(t, 'mini').record.loaded_subset, 'evaluation');
  assert.deepEqual([manifestOf(t, 'mini').header.revision, manifestOf(t, 'mini').record.revision], [2, 2]);
  assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/datasets/gone' })).statusCode, 204);
  assert.equal(fs.existsSync(path.join(t.dataDir, 'registry', 'gone.json')), false);

  const view = (await t.app.inject({ url: '/v1/datasets/mini' })).body;
  const samples = {
    training: (await t.app.inject({ url: '/v1/datasets/mini/samples?subset=training&limit=10000' })).body,
    evaluation: (await t.app.inject({ url: '/v1/datasets/mini/samples?subset=evaluation&limit=10000' })).body,
  };
  const epoch = (await t.app.inject({ url: '/v1/datasets/mini/batches?format=npy&epoch=2' })).rawPayload;

  await loseRedis(t);
  // Records are cached for a second in the process: a second later they are gone from it too.
  await new Promise((r) => setTimeout(r, 1100));

  // The next request rebuilds the registry from the manifests.
  const after = await t.app.inject({ url: '/v1/datasets/mini' });
  assert.equal(after.statusCode, 200, after.body);
  assert.equal(after.body, view);
  assert.equal((await t.app.inject({ url: '/v1/datasets/mini/samples?subset=training&limit=10000' })).body, samples.training);
  assert.equal((await t.app.inject({ url: '/v1/datasets/mini/samples?subset=evaluation&limit=10000' })).body, samples.evaluation);
  const again = await t.app.inject({ url: '/v1/datasets/mini/batches?format=npy&epoch=2' });
  assert.equal(again.statusCode, 200, again.body);
  assert.ok(again.rawPayload.equals(epoch), 'the same epoch, byte for byte');
  assert.equal((await t.app.inject({ url: '/v1/datasets/gone' })).statusCode, 404);
  assert.deepEqual((await t.app.inject({ url: '/v1/datasets' })).json().datasets.map((d: { id: string }) => d.id), ['mini']);
  const metrics = (await t.app.inject({ url: '/metrics' })).body;
  assert.match(metrics, /^audiofeed_registry_recovered_datasets_total 1$/m);
  // Logged, and counted by this process too (a counter in Redis would go with the next loss).
  assert.ok(warnings.some((w) => /restored 1 of 1 dataset\(s\) from the manifests/.test(w)), warnings.join('\n'));
  assert.match(metrics, /^audiofeed_registry_rebuilds_total 1$/m);
  assert.match(metrics, /^audiofeed_registry_rebuilt_registrations_total 1$/m);

  // Writes go on from there, manifests in step.
  const unloaded = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/unload', payload: { subset: 'evaluation' } });
  assert.deepEqual(unloaded.json().loaded_subsets, ['training']);
  assert.equal(manifestOf(t, 'mini').record.loaded_subset, 'training');

  // A second app process over the same Redis and volume, after another loss: rebuilt when it lists.
  await loseRedis(t);
  const replica = await startTestApp({}, { config: t.config });
  defer(() => replica.close());
  assert.deepEqual((await replica.app.inject({ url: '/v1/datasets' })).json().datasets.map((d: { id: string }) => d.id), ['mini']);
  assert.deepEqual((await replica.app.inject({ url: '/v1/datasets/mini' })).json().loaded_subsets, ['training']);
});

test('Redis restarted empty: the registry is rebuilt as soon as the connection is back, before any request', async (tt) => {
  const defer = cleanups(tt);
  const first = await startRedis(path.join(base, 'redis-1'));
  redises.push(first);
  const t = await startTestApp({}, { redisUrl: first.url });
  defer(() => t.close());
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  await registerDataset(t, { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: CLASSES, validation_split: 0.2 });
  await first.stop();
  // The same address, nothing persisted: what a restart without persistence leaves.
  const second = await startRedis(path.join(base, 'redis-2'), first.port);
  redises.push(second);
  await waitFor(() => t.ctx.registry.store.exists('mini'), { what: "the registry rebuilt from the manifests after Redis came back empty ('mini' exists)" });
  assert.deepEqual((await t.ctx.registry.store.get('mini'))?.loaded_subset, 'training');
  assert.equal(await t.ctx.registry.store.hasMarker(), true);
});

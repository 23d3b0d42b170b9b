/**
 * The registry store: atomic creation (one winner per name), compare-and-set updates on
 * the record's revision, the registry marker, and the per-process read cache: a store
 * sees its own writes at once and another replica's within cacheMs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from '../../store/redis.ts';
import { RegistryStore } from '../../store/registry-store.ts';
import { deleteKeys, testRedisUrl } from '../helpers/app.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';

let redis: Redis;
const prefix = `afstore-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;

before(async () => {
  redis = createRedis((await testRedisUrl()).url);
});
after(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const record = (id: string, summary: string) =>
  ({ id, created_at: new Date().toISOString(), summary }) as unknown as DatasetRecord;

test('two stores racing to create one name: exactly one wins', async () => {
  const a = new RegistryStore(redis, prefix);
  const b = new RegistryStore(redis, prefix);
  const results = await Promise.all([a.create(record('race', 'a'), {}), b.create(record('race', 'b'), {})]);
  assert.deepEqual(results.sort(), [false, true]);
});

test("a store sees its own writes at once and another replica's after cacheMs", async () => {
  const a = new RegistryStore(redis, prefix, 200);
  const b = new RegistryStore(redis, prefix, 200);
  assert.equal(await a.create(record('cached', 'v1'), {}), true);
  assert.equal((await b.get('cached'))?.summary, 'v1');
  assert.equal(await a.update(record('cached', 'v2'), undefined, 0), 'updated');
  assert.equal((await a.get('cached'))?.summary, 'v2', 'own write visible at once');
  assert.equal((await b.get('cached'))?.summary, 'v1', 'replica still within its cache window');
  await new Promise((r) => setTimeout(r, 250));
  assert.equal((await b.get('cached'))?.summary, 'v2', 'replica sees it after cacheMs');
  await a.delete('cached');
  assert.equal(await a.get('cached'), null);
});

test('an update is compare-and-set on the revision: a stale writer gets conflict and writes nothing', async () => {
  const a = new RegistryStore(redis, prefix, 0);
  const b = new RegistryStore(redis, prefix, 0);
  const base = { ...record('cas', 'v0'), revision: 1 } as DatasetRecord;
  assert.equal(await a.create(base, { training: { entries: ['a.wav'], labels: [0] } }), true);
  // Both read revision 1; a writes first.
  assert.equal(await a.update({ ...base, revision: 2, summary: 'from a' }, { training: { entries: ['x.wav'], labels: [0] } }, 1), 'updated');
  assert.equal(await b.update({ ...base, revision: 2, summary: 'from b' }, { training: { entries: ['y.wav'], labels: [0] } }, 1), 'conflict');
  assert.equal((await b.get('cas'))?.summary, 'from a');
  assert.deepEqual((await b.getSubsets('cas'))?.training?.entries, ['x.wav']);
  // A record stored before revisions existed counts as revision 0.
  assert.equal(await a.create(record('old', 'v0'), {}), true);
  assert.equal(await a.update({ ...record('old', 'v1'), revision: 1 }, undefined, 1), 'conflict');
  assert.equal(await a.update({ ...record('old', 'v1'), revision: 1 }, undefined, 0), 'updated');
  assert.equal(await a.update(record('gone', 'v1'), undefined, 0), 'missing');
});

test('the registry marker: absent on an empty store, set once', async () => {
  const p = `${prefix}-marker`;
  const a = new RegistryStore(redis, p);
  try {
    assert.equal(await a.hasMarker(), false);
    await a.setMarker();
    assert.equal(await a.hasMarker(), true);
  } finally {
    await deleteKeys(redis, p);
  }
});

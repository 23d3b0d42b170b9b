/**
 * Feature planning (src/services/features/plan.ts) and the job ids derived from it
 * (jobs/queues.ts): shards are runs of SHARD_SIZE consecutive entries, their keys and
 * the subset's key derive from content only (so replicas and repeated requests name the
 * same files and jobs), and the ids the API accepts are the ids the queue makes.
 */
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { resolveFrontendSettings, settingsHash } from '../../src/core/frontend/settings.ts';
import { InvalidSettingsError } from '../../src/core/errors.ts';
import {
  FEATURE_VERSION,
  SHARD_SIZE,
  deliveredDtype,
  featureHash,
  featureSpecOf,
  layoutSeedOf,
  planList,
  planSubset,
  positionAt,
  rowOf,
  shardEntries,
  shardOf,
  type FeatureSpec,
} from '../../src/services/features/plan.ts';
import { batchIndices } from '../../src/core/datasets/index.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';
import { FeatureQueues, connectionFromUrl, parentJobId, shardJobId } from '../../jobs/queues.ts';
import { JobParams } from '../../routes/jobs/schemas.ts';
import { Compile } from 'typebox/compile';

const FEATURES = '/data/features';
const DIR = '/datasets/corpus';
const spec = (over: Partial<FeatureSpec> = {}): FeatureSpec => ({
  frontendEnabled: true,
  frontendSettings: resolveFrontendSettings({}),
  trimThresholdDb: 20,
  ...over,
});
const entries = (n: number, prefix = 'yes/clip'): (string | null)[] => Array.from({ length: n }, (_, i) => `${prefix}${i}.wav`);

test('plan: shards are runs of SHARD_SIZE consecutive entries; the last one holds the rest', () => {
  assert.equal(SHARD_SIZE, 64);
  assert.deepEqual(planSubset(DIR, [], spec(), FEATURES).shards, []);
  for (const [n, bounds] of [
    [1, [[0, 1]]],
    [64, [[0, 64]]],
    [65, [[0, 64], [64, 65]]],
    [200, [[0, 64], [64, 128], [128, 192], [192, 200]]],
  ] as [number, [number, number][]][]) {
    const plan = planSubset(DIR, entries(n), spec(), FEATURES);
    assert.deepEqual(plan.shards.map((s) => [s.start, s.end]), bounds, `n = ${n}`);
    assert.deepEqual(plan.shards.map((s) => s.index), bounds.map((_, i) => i));
  }
});

test('plan: keys follow the documented derivation (sha256 of feature hash, directory and entries)', () => {
  const list = [...entries(70), null];
  const s = spec();
  const plan = planSubset(DIR, list, s, FEATURES);
  const fh = featureHash(s);
  // The feature hash covers the code version, the frontend settings (when the frontend runs), rate, length and trim.
  assert.equal(
    fh,
    crypto
      .createHash('sha256')
      .update(JSON.stringify({ v: FEATURE_VERSION, frontend: settingsHash(s.frontendSettings), rate: 16000, length: 1000, trim: 20 }))
      .digest('hex'),
  );
  const line = (e: string | null) => (e === null ? '\u0000silence' : e);
  const keyOf = (part: (string | null)[]) => {
    const h = crypto.createHash('sha256').update(fh).update('\0').update(DIR);
    for (const e of part) h.update('\n').update(line(e));
    return h.digest('hex').slice(0, 32);
  };
  assert.equal(plan.featureHash, fh);
  assert.equal(plan.key, keyOf(list));
  assert.deepEqual(plan.shards.map((sh) => sh.key), [keyOf(list.slice(0, 64)), keyOf(list.slice(64))]);
  assert.deepEqual(plan.shards.map((sh) => sh.file), plan.shards.map((sh) => path.join(FEATURES, fh.slice(0, 16), `${sh.key}.afs`)));
});

test('plan: the same content gives the same keys; any change of content changes exactly what it touches', () => {
  const base = planSubset(DIR, entries(130), spec(), FEATURES);
  assert.deepEqual(planSubset(DIR, entries(130), spec(), FEATURES), base, 'a second planner (another replica) agrees');

  const oneChanged = entries(130);
  oneChanged[100] = 'no/other.wav';
  const changed = planSubset(DIR, oneChanged, spec(), FEATURES);
  assert.notEqual(changed.key, base.key);
  assert.deepEqual(changed.shards.map((s, i) => s.key === base.shards[i]!.key), [true, false, true], 'only the shard holding entry 100 changes');

  const swapped = entries(130);
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  assert.notEqual(planSubset(DIR, swapped, spec(), FEATURES).shards[0]!.key, base.shards[0]!.key, 'order is content');

  const silence = entries(130);
  silence[5] = null;
  assert.notEqual(planSubset(DIR, silence, spec(), FEATURES).shards[0]!.key, base.shards[0]!.key, 'a _silence_ sample is content');

  const elsewhere = planSubset('/datasets/copy', entries(130), spec(), FEATURES);
  assert.ok(elsewhere.shards.every((s, i) => s.key !== base.shards[i]!.key), 'another directory is other clips');

  const otherFrontend = planSubset(DIR, entries(130), spec({ frontendSettings: resolveFrontendSettings({ window_step_ms: 20 }) }), FEATURES);
  assert.notEqual(otherFrontend.featureHash, base.featureHash);
  assert.ok(otherFrontend.shards.every((s, i) => s.key !== base.shards[i]!.key && path.dirname(s.file) !== path.dirname(base.shards[i]!.file)));

  const noTrim = planSubset(DIR, entries(130), spec({ trimThresholdDb: 0 }), FEATURES);
  assert.notEqual(noTrim.featureHash, base.featureHash);
  // Where the cache lives is not content: the keys stay, only the files move.
  const moved = planSubset(DIR, entries(130), spec(), '/elsewhere/features');
  assert.deepEqual(moved.shards.map((s) => s.key), base.shards.map((s) => s.key));
  assert.equal(moved.key, base.key);
});

test('plan: without the frontend the frontend settings do not matter, only rate, length and trim', () => {
  const off = (fe: Record<string, number>) => spec({ frontendEnabled: false, frontendSettings: resolveFrontendSettings(fe) });
  assert.equal(featureHash(off({ window_step_ms: 20 })), featureHash(off({})));
  assert.notEqual(featureHash(off({ sample_length_ms: 500 })), featureHash(off({})));
  assert.notEqual(featureHash(off({})), featureHash(spec()));
});

test('job ids: derived from the plan, stable across queue facades, and the ones the API accepts', () => {
  const plan = planSubset(DIR, entries(130), spec(), FEATURES);
  // Building the facade opens no connection: its queues are made on first use.
  const a = new FeatureQueues(connectionFromUrl('redis://127.0.0.1:1'), 'replica-a');
  const b = new FeatureQueues(connectionFromUrl('redis://127.0.0.1:1'), 'replica-b');
  assert.equal(a.featurizeJobId(plan), `featurize-${plan.key}`);
  assert.equal(a.featurizeJobId(plan), b.featurizeJobId(planSubset(DIR, entries(130), spec(), FEATURES)));
  assert.equal(parentJobId(plan), a.featurizeJobId(plan));
  assert.ok(Compile(JobParams).Check({ id: a.featurizeJobId(plan) }), 'GET /v1/jobs/{id} accepts the id');

  const shardIds = plan.shards.map((s) => shardJobId(plan, s.key));
  assert.equal(new Set(shardIds).size, plan.shards.length);
  shardIds.forEach((id, i) => assert.equal(id, `shard-${plan.shards[i]!.key}-${plan.key.slice(0, 12)}`));
  // The same shard content in another subset is another job (its parent differs), but the same file.
  const other = planSubset(DIR, [...entries(64), 'no/extra.wav'], spec(), FEATURES);
  assert.equal(other.shards[0]!.key, plan.shards[0]!.key);
  assert.equal(other.shards[0]!.file, plan.shards[0]!.file);
  assert.notEqual(shardJobId(other, other.shards[0]!.key), shardJobId(plan, plan.shards[0]!.key));
});

test("layout: a registered list's shards follow its first shuffled epoch, so that epoch reads them one after the other", () => {
  const list = [...entries(200), null];
  const n = list.length;
  const seed = 1234;
  const plan = planSubset(DIR, list, spec(), FEATURES, seed);
  assert.equal(plan.layoutSeed, seed);
  // Epoch 0 with the default shuffle, in batches of 8: batch k is rows 8k … 8k+7 of the layout.
  const epoch0 = batchIndices(n, 8, { shuffle: true, seed, epoch: 0 }).flatMap((b) => [...b]).slice(0, n);
  assert.deepEqual([...plan.order!], epoch0);
  epoch0.forEach((p, slot) => {
    assert.equal(shardOf(plan, p), Math.floor(slot / SHARD_SIZE));
    assert.equal(rowOf(plan, p), slot % SHARD_SIZE);
    assert.equal(positionAt(plan, shardOf(plan, p), rowOf(plan, p)), p);
  });
  // Every position is in exactly one row of one shard; keys hash the entries in row order.
  const seen = new Set<number>();
  for (const s of plan.shards) for (let r = 0; r < s.end - s.start; r++) seen.add(positionAt(plan, s.index, r));
  assert.equal(seen.size, n);
  const line = (e: string | null) => (e === null ? '\u0000silence' : e);
  const fh = featureHash(spec());
  for (const s of plan.shards) {
    const h = crypto.createHash('sha256').update(fh).update('\0').update(DIR);
    for (const e of shardEntries(plan, list, s)) h.update('\n').update(line(e));
    assert.equal(s.key, h.digest('hex').slice(0, 32));
  }
  assert.deepEqual(shardEntries(plan, list, plan.shards[0]!), epoch0.slice(0, SHARD_SIZE).map((p) => list[p]));
  // Another seed is another layout (other shards); no seed is subset order.
  assert.notEqual(planSubset(DIR, list, spec(), FEATURES, seed + 1).shards[0]!.key, plan.shards[0]!.key);
  const plain = planSubset(DIR, list, spec(), FEATURES);
  assert.equal(plain.order, null);
  assert.equal(plain.layoutSeed, null);
  assert.equal(shardOf(plain, 130), 2);
  assert.equal(rowOf(plain, 130), 2);
  assert.equal(positionAt(plain, 2, 2), 130);
});

test("plan: keys are computed when first read, so a stream's first batch hashes only its own shards", () => {
  const list = entries(1000);
  const plan = planSubset(DIR, list, spec(), FEATURES, 43);
  const hashes = mock.method(crypto, 'createHash');
  try {
    assert.equal(plan.shards.length, 16);
    assert.match(plan.shards[3]!.file, /[0-9a-f]{32}\.afs$/);
    assert.equal(hashes.mock.callCount(), 1, 'one shard read, one hash');
    void plan.shards[3]!.key;
    assert.equal(hashes.mock.callCount(), 1, 'kept');
    void plan.key;
    assert.equal(hashes.mock.callCount(), 1 + 1 + 15, "the subset's key, with the 15 shard keys not read yet, in one pass");
    void plan.shards[7]!.file;
    assert.equal(hashes.mock.callCount(), 17, 'all kept');
  } finally {
    hashes.mock.restore();
  }
  // The same values as computed all at once by another planner.
  const other = planSubset(DIR, list, spec(), FEATURES, 43);
  assert.deepEqual(plan.shards.map((s) => [s.key, s.file]), other.shards.map((s) => [s.key, s.file]));
  assert.equal(plan.key, other.key);
});

test("layout: planList lays a registered list out by the dataset's seed (43 when none is set)", () => {
  const settings = { frontend_enabled: true, frontend_settings: resolveFrontendSettings({}), trim_threshold_db: 20, seed: null };
  const rec = { dataset_dir: DIR, data_root: '/datasets', settings } as unknown as DatasetRecord;
  const list = { entries: entries(100), labels: [] };
  assert.equal(layoutSeedOf(rec), 43);
  assert.deepEqual(planList(rec, list, FEATURES), planSubset(DIR, list.entries, spec(), FEATURES, 43));
  const seeded = { ...rec, settings: { ...settings, seed: 7 } } as unknown as DatasetRecord;
  assert.deepEqual(planList(seeded, list, FEATURES), planSubset(DIR, list.entries, spec(), FEATURES, 7));
  // A list with its own dir (validation_data) is planned under that dir.
  assert.deepEqual(planList(rec, { ...list, datasetDir: '/datasets/val' }, FEATURES), planSubset('/datasets/val', list.entries, spec(), FEATURES, 43));
});

test('spec: a dataset record gives its feature spec; audio features are float32 only', () => {
  const settings = { frontend_enabled: true, frontend_settings: resolveFrontendSettings({}), trim_threshold_db: 15, dtype: 'int8' };
  const rec = { settings } as unknown as DatasetRecord;
  assert.deepEqual(featureSpecOf(rec), { frontendEnabled: true, frontendSettings: settings.frontend_settings, trimThresholdDb: 15 });
  assert.equal(deliveredDtype(rec), 'int8');
  assert.equal(deliveredDtype(rec, 'uint16'), 'uint16');
  const audio = { settings: { ...settings, frontend_enabled: false, dtype: 'float32' } } as unknown as DatasetRecord;
  assert.equal(deliveredDtype(audio), 'float32');
  assert.throws(() => deliveredDtype(audio, 'int8'), (err: unknown) => err instanceof InvalidSettingsError && err.extra.field === 'dtype');
});

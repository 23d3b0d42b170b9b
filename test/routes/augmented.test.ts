/**
 * Augmented epochs: computed by the workers, seeded per (seed, epoch, batch, position) so
 * an augmented epoch is reproducible (MLTK's is not, Q-20), equal to the augmentation
 * computed directly from src/, different between epochs, and never applied to evaluation
 * batches. How they are computed ahead and shared: ./augmented-ahead.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { batchIndices } from '../../src/core/datasets/index.ts';
import { decodeWav } from '../../src/core/audio/wav.ts';
import { toInt16 } from '../../src/core/audio/pcm.ts';
import { applyTransform, augmentRng, drawTransformParams, loadBackgroundNoises, resolveAugmentation } from '../../src/core/audio/augment/index.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { npyXs } from '../helpers/npy-stream.ts';
import { closeAll } from '../helpers/cleanup.ts';

let t: TestApp;
let workers: RunningWorkers;
const augmentation = {
  offset_range: [0, 1] as [number, number],
  loudness_range: [0.6, 1.2] as [number, number],
  noise_colors: 'all' as const,
  noise_color_range: [0, 0.05] as [number, number],
  bg_noise_range: [0, 0.1] as [number, number],
  bg_noise_dir: '_background_noise_',
  speed_range: [0.9, 1.1] as [number, number],
  validation_augmentation_enabled: false,
};

before(async () => {
  t = await startTestApp();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  workers = startTestWorkers(t);
  await registerDataset(t, {
    name: 'aug',
    source: { type: 'directory', path: 'mini' },
    classes: ['yes', 'no', '_silence_'],
    validation_split: 0.25,
    batch_size: 8,
    augmentation,
  });
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

describe('augmented training epochs', () => {
  test('equal the augmentation computed directly from src/', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=0&format=npy' });
    assert.equal(res.statusCode, 200, res.body);
    const got = npyXs(res.rawPayload);
    const items = (await t.app.inject({ url: '/v1/datasets/aug/samples?limit=1000' })).json().items as { entry: string | null }[];
    const order = batchIndices(items.length, 8, { shuffle: true, seed: null, epoch: 0 });
    const resolved = resolveAugmentation({ ...augmentation, bg_noise_dir: path.join(t.root, 'mini', '_background_noise_') });
    const bg = await loadBackgroundNoises(resolved.bg_noise_dir!, 16000);
    const settings = resolveFrontendSettings({});
    assert.equal(got.length, order.length);
    for (let b = 0; b < order.length; b++) {
      const want = new Float32Array(order[b]!.length * 98 * 32);
      for (let i = 0; i < order[b]!.length; i++) {
        const entry = items[order[b]![i]!]!.entry;
        const decoded = entry === null ? { samples: new Float32Array(16000), sampleRate: 16000 } : decodeWav(fs.readFileSync(path.join(t.root, 'mini', entry)));
        const rng = augmentRng(43, 0, b, i);
        const params = drawTransformParams(resolved, rng, bg.length);
        const audio = applyTransform(decoded, params, { sampleRateHz: 16000, sampleLengthMs: 1000, trimThresholdDb: 20, bgNoises: bg });
        want.set(computeSpectrogram(settings, toInt16(audio)).uint16, i * 98 * 32);
      }
      assert.ok(got[b]!.equals(Buffer.from(want.buffer)), `batch ${b}`);
    }
  });

  test('are reproducible, differ between epochs and from the plain features', async () => {
    const a = npyXs((await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=2&format=npy' })).rawPayload);
    const b = npyXs((await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=2&format=npy' })).rawPayload);
    const c = npyXs((await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=3&format=npy' })).rawPayload);
    const plain = npyXs((await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=2&format=npy&augment=false' })).rawPayload);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, plain);
  });

  test('from_batch resumes an augmented epoch exactly', async () => {
    const full = npyXs((await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=1&format=npy' })).rawPayload);
    const tail = npyXs((await t.app.inject({ url: '/v1/datasets/aug/batches?epoch=1&format=npy&from_batch=2' })).rawPayload);
    assert.deepEqual(tail, full.slice(2));
  });
});

describe('what is not augmented', () => {
  test('validation batches with validation_augmentation_enabled false, and evaluation batches', async () => {
    for (const subset of ['validation', 'evaluation']) {
      const aug = npyXs((await t.app.inject({ url: `/v1/datasets/aug/batches?subset=${subset}&format=npy&shuffle=false` })).rawPayload);
      const plain = npyXs((await t.app.inject({ url: `/v1/datasets/aug/batches?subset=${subset}&format=npy&shuffle=false&augment=false` })).rawPayload);
      assert.deepEqual(aug, plain, subset);
    }
  });
});

describe('augmentation settings are validated at registration', () => {
  const register = (aug: object) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no'], augmentation: aug },
    });
  test('a missing bg_noise_dir → 422 with MLTK’s message', async () => {
    const res = await register({ bg_noise_range: [0, 0.1], bg_noise_dir: 'nope' });
    assert.equal(res.statusCode, 422);
    assert.match(res.json().detail, /^bg_noise_dir not found: nope/);
  });
  test('a bg_noise_dir outside the data root → 403', async () => {
    const res = await register({ bg_noise_range: [0, 0.1], bg_noise_dir: '/usr/share' });
    assert.equal(res.statusCode, 403);
  });
  test('an inverted range → 422 naming the field', async () => {
    const res = await register({ loudness_range: [1.5, 0.5] });
    assert.equal(res.statusCode, 422);
    assert.match(res.json().detail, /loudness_range/);
  });
  test("noise_color_level: 'mltk' by default, 'peak' on request, anything else refused naming the field", async () => {
    const mltk = await register({ noise_colors: 'all', noise_color_range: [0, 0.1] });
    assert.equal(mltk.statusCode, 201, mltk.body);
    const peak = await register({ noise_colors: 'all', noise_color_range: [0, 0.1], noise_color_level: 'peak' });
    assert.equal(peak.statusCode, 201, peak.body);
    const levelOf = async (id: string) => (await t.app.inject({ url: `/v1/datasets/${id}/datagen` })).json().augmentation.noise_color_level;
    assert.equal(await levelOf(mltk.json().id), 'mltk');
    assert.equal(await levelOf(peak.json().id), 'peak');
    const bad = await register({ noise_color_level: 'loud' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(bad.json().detail, /noise_color_level/);
  });
});

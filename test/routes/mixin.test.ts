/**
 * Issue #14 over HTTP: `validation_data` (a registered dataset or a directory source),
 * the `speech_commands_lists` split through the built-in loader, the evaluation knobs and
 * GET …/datagen. Trees and hand-worked expectations are those of
 * test/datasets/validation-data.test.ts and test/datasets/split-lists.test.ts (the working
 * is repeated in the comments); the clips are real WAVs so every subset also streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { makeTree, toneWav } from '../helpers/wav.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';
import { closeAll } from '../helpers/cleanup.ts';

const PROBLEM = 'https://audiofeed.dev/problems/';
let t: TestApp;
let workers: RunningWorkers;

function tree(root: string, files: string[]): void {
  makeTree(root, Object.fromEntries(files.map((f, i) => [f, f.endsWith('.wav') ? toneWav(1600, 200 + 37 * i) : 'not audio'])));
}

// ---- validation_data (test/datasets/validation-data.test.ts) ----
const VD_CLASSES = ['on', 'off', '_unknown_', '_silence_'];
const TRAIN_TREE = [
  ...'abcdef'.split('').map((c) => `on/${c}.wav`),
  ...'abcde'.split('').map((c) => `off/${c}.wav`),
  ...[1, 2, 3, 4].map((i) => `dog/${i}.wav`),
  'fox/1.wav',
  'fox/2.wav',
  '_background_noise_/n.wav',
];
const VAL_TREE = [
  ...'ghi'.split('').map((c) => `on/${c}.wav`),
  'off/f.wav',
  'off/g.wav',
  ...[5, 6, 7].map((i) => `dog/${i}.wav`),
  ...[1, 2, 3, 4].map((i) => `owl/${i}.wav`),
];
/*
 * No seed → RandomState(43) per candidate: [a,b] → [b,a]; [a,b,c] → [b,c,a]; [a,b,c,d] → [c,b,d,a].
 * Training = the whole training dir: known 6 + 5 = 11, avg = 5 = U; dog, fox: per 2 →
 * dog [3 2 4 1] take 3, 2; fox [2 1] take 2, 1. _silence_ = floor(5 × 0.6) = 3.
 */
const VD_TRAINING = {
  entries: [
    'on/a.wav', 'on/b.wav', 'on/c.wav', 'on/d.wav', 'on/e.wav', 'on/f.wav',
    'off/a.wav', 'off/b.wav', 'off/c.wav', 'off/d.wav', 'off/e.wav',
    'dog/3.wav', 'dog/2.wav', 'fox/2.wav', 'fox/1.wav',
    null, null, null,
  ],
  labels: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3],
  counts: { on: 6, off: 5, _unknown_: 4, _silence_: 3 },
};
/*
 * Validation = the whole validation dir (its own candidates dog 5–7, owl 1–4): known 3 + 2 = 5,
 * avg = 2 = U, per 1: dog [6 7 5] take 6; owl [3 2 4 1] take 3. _silence_ = max(1, floor(1.2)) = 1.
 */
const VD_VALIDATION = {
  entries: ['on/g.wav', 'on/h.wav', 'on/i.wav', 'off/f.wav', 'off/g.wav', 'dog/6.wav', 'owl/3.wav', null],
  labels: [0, 0, 0, 1, 1, 2, 2, 3],
  counts: { on: 3, off: 2, _unknown_: 2, _silence_: 1 },
};

// ---- speech_commands_lists (test/datasets/split-lists.test.ts) ----
const clip = (dir: string, i: number): string => `${dir}/s${i}_nohash_0.wav`;
const range = (dir: string, n: number): string[] => Array.from({ length: n }, (_, i) => clip(dir, i + 1));
const SL_TREE = [...range('yes', 9), 'yes/readme.txt', ...range('no', 7), ...range('up', 6), ...range('bed', 8), ...range('cat', 4), '_background_noise_/white.wav'];
const VALIDATION_LIST = ['yes/s2', 'yes/s3', 'no/s1', 'up/s6', 'bed/s1', 'bed/s2', 'bed/s3', 'cat/s4'].map((s) => `${s}_nohash_0.wav`);
const TESTING_LIST = ['yes/s7', 'yes/s8', 'no/s6', 'no/s7', 'up/s1', 'up/s2', 'cat/s1', 'cat/s2', 'dog/s1'].map((s) => `${s}_nohash_0.wav`);
const SL_CLASSES = ['yes', 'no', 'up', '_unknown_', '_silence_'];
const w = (d: string, ss: string[]) => ss.map((s) => `${d}/${s}_nohash_0.wav`);
/*
 * Training: yes s1 s4 s5 s6 s9, no s2–s5, up s3–s5: 12 known, avg 4 = U; bed [s4..s8] →
 * [s7 s6 s5 s4 s8] take s7 s6; cat [s3] take s3. _silence_ = floor(4 × 0.6) = 2.
 * Validation: 4 known, U = 1; bed [s1 s2 s3] → [s2 s3 s1] take s2. _silence_ 1.
 * Evaluation: 6 known, U = 2; only cat has evaluation clips: [s1 s2] → [s2 s1]. _silence_ 1.
 */
const SL_TRAINING = {
  entries: [...w('yes', ['s1', 's4', 's5', 's6', 's9']), ...w('no', ['s2', 's3', 's4', 's5']), ...w('up', ['s3', 's4', 's5']), 'bed/s7_nohash_0.wav', 'bed/s6_nohash_0.wav', 'cat/s3_nohash_0.wav', null, null],
  labels: [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4],
  counts: { yes: 5, no: 4, up: 3, _unknown_: 3, _silence_: 2 },
};
const SL_VALIDATION = {
  entries: ['yes/s2_nohash_0.wav', 'yes/s3_nohash_0.wav', 'no/s1_nohash_0.wav', 'up/s6_nohash_0.wav', 'bed/s2_nohash_0.wav', null],
  labels: [0, 0, 1, 2, 3, 4],
  counts: { yes: 2, no: 1, up: 1, _unknown_: 1, _silence_: 1 },
};
const SL_EVALUATION = {
  entries: [...w('yes', ['s7', 's8']), ...w('no', ['s6', 's7']), ...w('up', ['s1', 's2']), 'cat/s2_nohash_0.wav', 'cat/s1_nohash_0.wav', null],
  labels: [0, 0, 1, 1, 2, 2, 3, 3, 4],
  counts: { yes: 2, no: 2, up: 2, _unknown_: 2, _silence_: 1 },
};

before(async () => {
  t = await startTestApp();
  tree(path.join(t.root, 'train'), TRAIN_TREE);
  tree(path.join(t.root, 'val'), VAL_TREE);
  tree(path.join(t.root, 'val-no-off'), ['on/a.wav', 'dog/1.wav']);
  const sl = path.join(t.base, 'sl-src');
  tree(sl, SL_TREE);
  fs.writeFileSync(path.join(sl, 'validation_list.txt'), VALIDATION_LIST.join('\n') + '\n');
  fs.writeFileSync(path.join(sl, 'testing_list.txt'), TESTING_LIST.join('\r\n') + '\r\n');
  await tarCreate({ gzip: true, cwd: sl, file: path.join(t.root, 'sc.tar.gz'), portable: true }, fs.readdirSync(sl).sort());
  workers = startTestWorkers(t);
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

async function samples(id: string, subset: string) {
  const res = await t.app.inject({ url: `/v1/datasets/${id}/samples?subset=${subset}&limit=10000` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().items as { entry: string | null; label: number }[];
}

/** The labels a stream sends, in order (npy stream, sparse labels). */
async function streamedLabels(id: string, query: string): Promise<{ labels: number[]; batches: number }> {
  const res = await t.app.inject({ url: `/v1/datasets/${id}/batches?format=npy&class_mode=sparse&${query}` });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.rawPayload;
  const labels: number[] = [];
  let at = 0;
  let batches = 0;
  while (at < body.length) {
    const x = decodeNpy(body.subarray(at));
    at += x.byteLength;
    const y = decodeNpy(body.subarray(at));
    at += y.byteLength;
    assert.equal(x.shape[0], y.shape[0]);
    labels.push(...Array.from(y.data as ArrayLike<number>, Number));
    batches++;
  }
  assert.equal(batches, Number(res.headers['x-audiofeed-batches']));
  return { labels, batches };
}

async function problemOf(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, code: string) {
  assert.equal(res.statusCode, status);
  assert.match(String(res.headers['content-type']), /application\/problem\+json/);
  const body = res.json();
  assert.equal(body.type, PROBLEM + code, JSON.stringify(body));
  return body;
}

describe('validation_data over HTTP', () => {
  let train: any;
  before(async () => {
    await registerDataset(t, { name: 'val', source: { type: 'directory', path: 'val' }, classes: VD_CLASSES });
    train = await registerDataset(t, {
      name: 'train',
      source: { type: 'directory', path: 'train' },
      classes: VD_CLASSES,
      validation_data: 'val',
      class_weights: 'balanced',
      batch_size: 4,
    });
  });

  test('class counts of both subsets, weights from training, summary text', async () => {
    assert.deepEqual(train.class_counts, { training: VD_TRAINING.counts, validation: VD_VALIDATION.counts });
    assert.equal(train.validation_data.dataset_id, 'val');
    assert.equal(train.validation_data.dataset_dir, fs.realpathSync(path.join(t.root, 'val')));
    // N = 18, K = 4: 18/24, 18/20, 18/16, 18/12.
    assert.deepEqual(train.class_weights.value, { 0: 0.75, 1: 0.9, 2: 1.125, 3: 1.5 });
    const summary = await t.app.inject({ url: '/v1/datasets/train/summary' });
    assert.equal(
      summary.body,
      [
        'Training dataset: Found 18 samples belonging to 4 classes:',
        '        on = 6',
        '       off = 5',
        ' _unknown_ = 4',
        ' _silence_ = 3',
        'Validation dataset: Found 8 samples belonging to 4 classes:',
        '        on = 3',
        '       off = 2',
        ' _unknown_ = 2',
        ' _silence_ = 1',
      ].join('\n'),
    );
  });

  test('subset lists: training from the training dir, validation from validation_data', async () => {
    for (const [subset, want] of [['training', VD_TRAINING], ['validation', VD_VALIDATION]] as const) {
      const items = await samples('train', subset);
      assert.deepEqual(items.map((i) => i.entry), want.entries, subset);
      assert.deepEqual(items.map((i) => i.label), want.labels, subset);
    }
  });

  test('the validation subset streams from the validation dir, in subset order without shuffle', async () => {
    const { labels, batches } = await streamedLabels('train', 'subset=validation&shuffle=false');
    assert.deepEqual(labels, VD_VALIDATION.labels);
    assert.equal(batches, 2); // ceil(8 / 4)
    // validation_batch_size and validation_steps apply as for a split dataset.
    const steps = await streamedLabels('train', 'subset=validation&shuffle=false&validation_batch_size=3&validation_steps=2');
    assert.deepEqual(steps.labels, VD_VALIDATION.labels.slice(0, 6));
    // evaluation reads the validation files too (MLTK), unshuffled by default (eval_shuffle off).
    const ev = await streamedLabels('train', 'subset=evaluation');
    assert.deepEqual(ev.labels, VD_VALIDATION.labels);
    // a clip of the validation dir previews from that dir
    const wav = await t.app.inject({ url: '/v1/datasets/train/samples/6/audio.wav?subset=validation' });
    assert.equal(wav.statusCode, 200);
    assert.ok(wav.rawPayload.equals(fs.readFileSync(path.join(t.root, 'val', 'owl', '3.wav'))));
  });

  test('the index download holds both dirs\' index files', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/train/index', headers: { accept: 'application/json' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body.files).sort(), ['dog.txt', 'fox.txt', 'off.txt', 'on.txt']);
    assert.deepEqual(Object.keys(body.validation_data.files).sort(), ['dog.txt', 'off.txt', 'on.txt', 'owl.txt']);
    assert.deepEqual(body.validation_data.files['off.txt'].split('\n').filter(Boolean), ['off/f.wav', 'off/g.wav']);
    const tar = await t.app.inject({ url: '/v1/datasets/train/index' });
    assert.equal(tar.statusCode, 200);
    const names: string[] = [];
    const { Parser } = await import('tar');
    await new Promise<void>((resolve, reject) => {
      const p = new Parser({ onReadEntry: (e) => (names.push(e.path), e.resume()) });
      p.on('end', resolve).on('error', reject);
      p.end(tar.rawPayload);
    });
    assert.ok(names.includes('.index/on.txt'), names.join());
    assert.ok(names.includes('validation_data/.index/owl.txt'), names.join());
  });

  test('a validation_data registration loaded as validation downloads the validation dir\'s index', async () => {
    // The validation load lists the validation dir only: the index is that dir's, alone.
    const rec: any = await registerDataset(t, {
      name: 'val-only',
      source: { type: 'directory', path: 'train' },
      classes: VD_CLASSES,
      validation_data: 'val',
      load: 'validation',
    });
    assert.deepEqual(rec.loaded_subsets, ['validation']);
    const res = await t.app.inject({ url: '/v1/datasets/val-only/index', headers: { accept: 'application/json' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().files, {});
    assert.deepEqual(Object.keys(res.json().validation_data.files).sort(), ['dog.txt', 'off.txt', 'on.txt', 'owl.txt']);
    const tar = await t.app.inject({ url: '/v1/datasets/val-only/index' });
    assert.equal(tar.statusCode, 200, tar.body);
    const names: string[] = [];
    const { Parser } = await import('tar');
    await new Promise<void>((resolve, reject) => {
      const p = new Parser({ onReadEntry: (e) => (names.push(e.path), e.resume()) });
      p.on('end', resolve).on('error', reject);
      p.end(tar.rawPayload);
    });
    assert.deepEqual(names.sort(), ['validation_data/.index/dog.txt', 'validation_data/.index/off.txt', 'validation_data/.index/on.txt', 'validation_data/.index/owl.txt']);
    // A training load added later lists the training dir too: both dirs' index files.
    await t.app.inject({ method: 'POST', url: '/v1/datasets/val-only/load', payload: { subset: 'training' } });
    const both = (await t.app.inject({ url: '/v1/datasets/val-only/index', headers: { accept: 'application/json' } })).json();
    assert.deepEqual(Object.keys(both.files).sort(), ['dog.txt', 'fox.txt', 'off.txt', 'on.txt']);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/datasets/val-only' })).statusCode, 204);
  });

  test('a shuffled index of both dirs goes back with PUT …/index and gives the same subsets', async () => {
    await registerDataset(t, {
      name: 'shuf',
      source: { type: 'directory', path: 'train' },
      classes: VD_CLASSES,
      validation_data: 'val',
      shuffle_dataset_enabled: true,
      seed: 5,
    });
    const before = { training: await samples('shuf', 'training'), validation: await samples('shuf', 'validation') };
    const tar = await t.app.inject({ url: '/v1/datasets/shuf/index' });
    assert.equal(tar.statusCode, 200);
    const res = await t.app.inject({ method: 'PUT', url: '/v1/datasets/shuf/index', headers: { 'content-type': 'application/x-tar' }, payload: tar.rawPayload });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await samples('shuf', 'training'), before.training);
    assert.deepEqual(await samples('shuf', 'validation'), before.validation);
    // the validation dir's entries are its own (owl exists only there)
    assert.ok(before.validation.some((i) => i.entry?.startsWith('owl/')));
    const bad = await t.app.inject({ method: 'PUT', url: '/v1/datasets/train/index', headers: { 'content-type': 'application/x-tar' }, payload: tar.rawPayload });
    await problemOf(bad, 422, 'invalid-settings'); // train uses the alphabetical index
  });

  test('a directory source works as validation_data; reindex and reload keep both subsets', async () => {
    const rec: any = await registerDataset(t, {
      name: 'train-dir',
      source: { type: 'directory', path: 'train' },
      classes: VD_CLASSES,
      validation_data: { type: 'directory', path: 'val' },
    });
    assert.deepEqual(rec.class_counts.validation, VD_VALIDATION.counts);
    assert.equal(rec.validation_data.dataset_id, null);
    const re = await t.app.inject({ method: 'POST', url: '/v1/datasets/train-dir/reindex' });
    assert.equal(re.statusCode, 200, re.body);
    assert.deepEqual(re.json().class_counts, { training: VD_TRAINING.counts, validation: VD_VALIDATION.counts });
  });

  test('422s: validation_split with validation_data, class mismatch, unknown dataset, outside the roots', async () => {
    const base = { source: { type: 'directory', path: 'train' }, classes: VD_CLASSES };
    let res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base, validation_data: 'val', validation_split: 0.2 } });
    let p = await problemOf(res, 422, 'invalid-settings');
    assert.equal(p.field, 'validation_split');
    assert.match(p.detail, /validation_split must be 0 or absent with validation_data/);
    res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base, validation_data: { type: 'directory', path: 'val-no-off' } } });
    p = await problemOf(res, 422, 'class-mismatch');
    assert.deepEqual(p.missingInValidation, ['off']);
    assert.deepEqual(p.missingInTraining, []);
    assert.match(p.detail, /missing in the validation data .*: off/);
    // the core's own check (the same files on both sides), named by `field` as every registry error
    res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base, validation_data: { type: 'directory', path: 'train' } } });
    p = await problemOf(res, 422, 'invalid-settings');
    assert.equal(p.field, 'validation_data');
    assert.equal(p.setting, undefined);
    res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base, validation_data: 'no-such' } });
    p = await problemOf(res, 422, 'invalid-settings');
    assert.equal(p.field, 'validation_data');
    res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base, validation_data: { type: 'directory', path: '/etc' } } });
    assert.equal(res.statusCode, 403, res.body);
    // nothing was registered by the failures
    const list = (await t.app.inject({ url: '/v1/datasets' })).json().datasets.map((d: { id: string }) => d.id).sort();
    assert.ok(!list.some((id: string) => !['train', 'train-dir', 'val', 'knobs', 'sc', 'shuf'].includes(id)), list.join());
  });
});

describe('evaluation knobs and GET …/datagen', () => {
  before(async () => {
    await registerDataset(t, {
      name: 'knobs',
      source: { type: 'directory', path: 'train' },
      classes: VD_CLASSES,
      validation_data: 'val',
      batch_size: 4,
      seed: 7,
      eval_shuffle: true,
      eval_augment: true,
      eval_max_samples_per_class: 1,
      augmentation: { loudness_range: [0.5, 1.5] },
    });
  });

  test('datagen of each subset (MLTK datagen_context)', async () => {
    const get = async (q: string) => {
      const res = await t.app.inject({ url: `/v1/datasets/train/datagen?${q}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const shape = (await t.app.inject({ url: '/v1/datasets/train' })).json().audio_input_shape;
    const tr = await get('subset=training');
    assert.deepEqual(tr, {
      subset: 'training',
      batch_size: 4,
      shuffle: true,
      seed: null,
      effective_seed: 43,
      augmentation: null,
      class_mode: 'categorical',
      dtype: 'float32',
      rescale: null,
      samplewise_center: false,
      samplewise_std_normalization: false,
      samplewise_normalize_range: null,
      samples: 18,
      batches_per_epoch: 5, // ceil(18 / 4)
      steps_per_epoch: null,
      batches: 5,
      x_shape: shape,
      classes: VD_CLASSES,
      validation_freq: 1,
      epoch: null,
      validation_after_epoch: null,
    });
    const tr2 = await get('subset=training&batch_size=5&steps_per_epoch=2&class_mode=sparse&dtype=uint16');
    assert.equal(tr2.batch_size, 5);
    assert.equal(tr2.batches_per_epoch, 4); // ceil(18 / 5)
    assert.equal(tr2.steps_per_epoch, 2);
    assert.equal(tr2.batches, 2);
    assert.equal(tr2.class_mode, 'sparse');
    assert.equal(tr2.dtype, 'uint16');
    const va = await get('subset=validation&validation_batch_size=3&validation_steps=2');
    assert.equal(va.samples, 8);
    assert.equal(va.batch_size, 3);
    assert.equal(va.batches_per_epoch, 3); // ceil(8 / 3)
    assert.equal(va.steps_per_epoch, 2);
    assert.equal(va.batches, 2);
    const ev = await get('subset=evaluation');
    assert.equal(ev.samples, 8);
    assert.equal(ev.shuffle, false);
    // validation_freq=2: Keras validates after epochs 2, 4, … (1-based) = 0-based 1, 3, …
    assert.equal((await get('subset=training&epoch=0&validation_freq=2')).validation_after_epoch, false);
    assert.equal((await get('subset=training&epoch=1&validation_freq=2')).validation_after_epoch, true);
    assert.equal((await get('subset=training&epoch=2&validation_epochs=1,3')).validation_after_epoch, true);
    assert.equal((await get('subset=training&epoch=1&validation_epochs=1,3')).validation_after_epoch, false);
  });

  test('eval_shuffle and eval_augment are the evaluation defaults; the request overrides them', async () => {
    const get = async (q: string) => (await t.app.inject({ url: `/v1/datasets/knobs/datagen?${q}` })).json();
    const ev = await get('subset=evaluation');
    assert.equal(ev.shuffle, true);
    assert.equal(ev.seed, 7);
    assert.deepEqual(ev.augmentation.loudness_range, [0.5, 1.5]);
    const off = await get('subset=evaluation&shuffle=false&augment=false');
    assert.equal(off.shuffle, false);
    assert.equal(off.augmentation, null);
    // validation follows validation_augmentation_enabled (resolved default: true), training is augmented
    assert.equal((await get('subset=validation')).augmentation.validation_augmentation_enabled, true);
    assert.notEqual((await get('subset=training')).augmentation, null);
    assert.equal((await get('subset=validation&augment=false')).augmentation, null);
    // shuffled evaluation stream: the same multiset of labels, in another order than the subset's
    const shuffled = await streamedLabels('knobs', 'subset=evaluation&augment=false');
    const plain = await streamedLabels('knobs', 'subset=evaluation&augment=false&shuffle=false');
    assert.deepEqual(plain.labels, VD_VALIDATION.labels);
    assert.deepEqual([...shuffled.labels].sort(), [...VD_VALIDATION.labels].sort());
    assert.notDeepEqual(shuffled.labels, plain.labels);
  });

  test('eval_max_samples_per_class limits the evaluation load only', async () => {
    const rec = (await t.app.inject({ url: '/v1/datasets/knobs' })).json();
    assert.deepEqual(rec.class_counts.training, VD_TRAINING.counts);
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/knobs/load', payload: { subset: 'evaluation' } });
    assert.equal(res.statusCode, 200, res.body);
    const counts = res.json().class_counts.validation;
    // one clip per known class of the validation dir: on g, off f
    assert.equal(counts.on, 1);
    assert.equal(counts.off, 1);
    const summary = (await t.app.inject({ url: '/v1/datasets/knobs/summary' })).body;
    assert.match(summary, /^Evaluation dataset: Found \d+ samples belonging to 4 classes:\n {8}on = 1\n {7}off = 1\n/);
  });

  test('datagen errors are problem+json', async () => {
    await problemOf(await t.app.inject({ url: '/v1/datasets/nope/datagen' }), 404, 'dataset-not-found');
    const bad = await t.app.inject({ url: '/v1/datasets/train/datagen?subset=testing' });
    assert.equal(bad.statusCode, 400);
    assert.match(String(bad.headers['content-type']), /application\/problem\+json/);
  });
});

describe('speech_commands_lists through the speech_commands_v2 loader', () => {
  let sc: any;
  before(async () => {
    sc = await registerDataset(t, {
      name: 'sc',
      source: { type: 'loader', name: 'speech_commands_v2', options: { archive: 'sc.tar.gz', split: 'lists' } },
      classes: SL_CLASSES,
      batch_size: 4,
    });
  });

  test('training and validation subsets from the list files', async () => {
    assert.equal(sc.listing, 'speech_commands_lists');
    assert.deepEqual(sc.class_counts, { training: SL_TRAINING.counts, validation: SL_VALIDATION.counts });
    for (const [subset, want] of [['training', SL_TRAINING], ['validation', SL_VALIDATION]] as const) {
      const items = await samples('sc', subset);
      assert.deepEqual(items.map((i) => i.entry), want.entries, subset);
      assert.deepEqual(items.map((i) => i.label), want.labels, subset);
    }
    // Unshuffled, the last batch is filled up from the start of the subset (MLTK's fixed batch size):
    // validation 6 → 2 batches of 4, + positions 0 1; training 17 → 5 batches, + positions 0 1 2.
    assert.deepEqual((await streamedLabels('sc', 'subset=validation&shuffle=false')).labels, [...SL_VALIDATION.labels, 0, 0]);
    assert.deepEqual((await streamedLabels('sc', 'subset=training&shuffle=false')).labels, [...SL_TRAINING.labels, 0, 0, 0]);
    // with the list split, evaluation is testing_list.txt: not loaded by a training load
    assert.equal((await t.app.inject({ url: '/v1/datasets/sc/samples?subset=evaluation' })).statusCode, 404);
    await problemOf(await t.app.inject({ url: '/v1/datasets/sc/batches?subset=evaluation' }), 409, 'subset-not-loaded');
  });

  test('the evaluation load is testing_list.txt, and streams', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/sc/load', payload: { subset: 'evaluation' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().class_counts, { evaluation: SL_EVALUATION.counts });
    const summary = (await t.app.inject({ url: '/v1/datasets/sc/summary' })).body;
    assert.equal(summary, 'Evaluation dataset: Found 9 samples belonging to 5 classes:\n       yes = 2\n        no = 2\n        up = 2\n _unknown_ = 2\n _silence_ = 1');
    const items = await samples('sc', 'evaluation');
    assert.deepEqual(items.map((i) => i.entry), SL_EVALUATION.entries);
    assert.deepEqual(items.map((i) => i.label), SL_EVALUATION.labels);
    // 9 → 3 batches of 4, + positions 0 1 2 (labels 0 0 1)
    assert.deepEqual((await streamedLabels('sc', 'subset=evaluation')).labels, [...SL_EVALUATION.labels, 0, 0, 1]);
    const dg = (await t.app.inject({ url: '/v1/datasets/sc/datagen?subset=evaluation' })).json();
    assert.equal(dg.samples, 9);
    assert.equal(dg.batches_per_epoch, 3);
    // The evaluation load is added: the training load's validation list is still served.
    const validation = (await t.app.inject({ url: '/v1/datasets/sc/datagen?subset=validation' })).json();
    assert.equal(validation.samples, SL_VALIDATION.entries.length);
    // Once the training load is gone, it is not: "not loaded", not "validation_split = 0".
    const unloaded = await t.app.inject({ method: 'POST', url: '/v1/datasets/sc/unload', payload: { subset: 'training' } });
    assert.deepEqual(unloaded.json().loaded_subsets, ['evaluation']);
    await problemOf(await t.app.inject({ url: '/v1/datasets/sc/datagen?subset=validation' }), 409, 'subset-not-loaded');
  });

  test('422s: validation_split with the lists, missing list files, a bad split option', async () => {
    let res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'directory', path: 'train' }, classes: VD_CLASSES, listing: 'speech_commands_lists', validation_split: 0.1 },
    });
    const p = await problemOf(res, 422, 'invalid-settings');
    assert.equal(p.field, 'validation_split');
    res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'directory', path: 'train' }, classes: VD_CLASSES, listing: 'speech_commands_lists' },
    });
    await problemOf(res, 422, 'list-file-missing');
    res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'loader', name: 'speech_commands_v2', options: { archive: 'sc.tar.gz', split: 'paper' } }, classes: SL_CLASSES },
    });
    await problemOf(res, 422, 'loader-options');
    // the MLTK split of the same loader still refuses a shuffled index; the lists do not
    res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'loader', name: 'speech_commands_v2', options: { archive: 'sc.tar.gz' } }, classes: SL_CLASSES, shuffle_dataset_enabled: true },
    });
    await problemOf(res, 422, 'invalid-settings');
  });
});

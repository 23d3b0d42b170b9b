/**
 * `validation_data` (src/core/datasets/validation-data.ts): a second dataset dir is the
 * validation subset. Expected subsets are worked out by hand from MLTK's rules (spec §6)
 * and written as literals; the working is in the comments.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatasetError, InvalidSettingsError } from '../../src/core/errors.ts';
import {
  compareClassDirectories,
  computeClassWeights,
  listSubset,
  loadDataset,
  loadedSubset,
  reindex,
  summarizeDataset,
  type DatasetDirs,
  type DatasetOptions,
} from '../../src/core/datasets/index.ts';
import { datasetOptions, plain } from '../helpers/datasets.ts';

const CLASSES = ['on', 'off', '_unknown_', '_silence_'];
/** Training dir: on a–f, off a–e; unknown candidates dog 1–4, fox 1–2; `_background_noise_` is never one. */
const TRAIN_TREE = [
  ...'abcdef'.split('').map((c) => `on/${c}.wav`),
  ...'abcde'.split('').map((c) => `off/${c}.wav`),
  ...[1, 2, 3, 4].map((i) => `dog/${i}.wav`),
  'fox/1.wav',
  'fox/2.wav',
  '_background_noise_/n.wav',
];
/** Validation dir: on g–i, off f–g; unknown candidates dog 5–7, owl 1–4 (a different set from training). */
const VAL_TREE = [
  ...'ghi'.split('').map((c) => `on/${c}.wav`),
  'off/f.wav',
  'off/g.wav',
  ...[5, 6, 7].map((i) => `dog/${i}.wav`),
  ...[1, 2, 3, 4].map((i) => `owl/${i}.wav`),
];
/*
 * n_known = 4 − 2 active pseudo-classes = 2; percentages 1.0 / 0.6; no seed → RandomState(43)
 * for every candidate of every subset (MLTK's validation subset uses the same seed). Draws of
 * RandomState(43): 494155588 (low bits …00), 2134003008 (…00), 2615920895 (…11), so
 *   [a,b]     → [b,a]
 *   [a,b,c]   → i=2 mask 3: 0 → [c,b,a]; i=1 mask 1: 0 → [b,c,a]
 *   [a,b,c,d] → i=3 mask 3: 0 → [d,b,c,a]; i=2 mask 3: 0 → [c,b,d,a]; i=1 mask 1: 1 → stays
 * (checked against numpy in test/datasets/split-lists.test.ts for the 2-, 3- and 5-element cases;
 * the 4-element case is numpy's [c, b, d, a] too).
 *
 * Training = the whole training dir: known 6 + 5 = 11, avg = floor(11/2) = 5, U = 5;
 * candidates dog (4), fox (2): per = floor(5/2) = 2. dog: [1 2 3 4] → [3 2 4 1], take 3, 2;
 * fox: [1 2] → [2 1], take 2, 1; total 4, candidates exhausted. _silence_: max(1, floor(3)) = 3.
 */
const TRAINING = {
  entries: [
    'on/a.wav', 'on/b.wav', 'on/c.wav', 'on/d.wav', 'on/e.wav', 'on/f.wav',
    'off/a.wav', 'off/b.wav', 'off/c.wav', 'off/d.wav', 'off/e.wav',
    'dog/3.wav', 'dog/2.wav', 'fox/2.wav', 'fox/1.wav',
    null, null, null,
  ],
  labels: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3],
  classCounts: { on: 6, off: 5, _unknown_: 4, _silence_: 3 },
};
/*
 * Validation = the whole validation dir: known 3 + 2 = 5, avg = 2, U = 2; candidates dog (3),
 * owl (4): per = 1. dog: [5 6 7] → [6 7 5], take 6 (total 1); owl: [1 2 3 4] → [3 2 4 1],
 * take 3 (total 2 = U). _silence_: max(1, floor(1.2)) = 1.
 */
const VALIDATION = {
  entries: ['on/g.wav', 'on/h.wav', 'on/i.wav', 'off/f.wav', 'off/g.wav', 'dog/6.wav', 'owl/3.wav', null],
  labels: [0, 0, 0, 1, 1, 2, 2, 3],
  classCounts: { on: 3, off: 2, _unknown_: 2, _silence_: 1 },
};

interface Dirs extends DatasetDirs {
  validationData: NonNullable<DatasetDirs['validationData']>;
}

async function makeTrees(t: TestContext, train: string[] = TRAIN_TREE, val: string[] = VAL_TREE): Promise<Dirs> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'audiofeed-ds-valdata-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const write = async (dir: string, files: string[]): Promise<void> => {
    await fs.mkdir(dir, { recursive: true });
    for (const f of files) {
      await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await fs.writeFile(path.join(dir, f), 'x');
    }
  };
  await write(path.join(root, 'train'), train);
  await write(path.join(root, 'val'), val);
  return {
    datasetDir: path.join(root, 'train'),
    fallbackIndexDir: path.join(root, 'fallback', 'train'),
    shuffleIndexDir: path.join(root, 'log', 'dataset'),
    validationData: {
      datasetDir: path.join(root, 'val'),
      fallbackIndexDir: path.join(root, 'fallback', 'val'),
      shuffleIndexDir: path.join(root, 'log', 'validation_data'),
    },
  };
}

const options = (over: Partial<DatasetOptions> = {}): DatasetOptions =>
  datasetOptions({ classes: CLASSES, validationSplit: 0, listing: 'generic', ...over });

const core = (s: { entries: unknown; labels: unknown; classCounts: unknown }) => ({
  entries: s.entries,
  labels: s.labels,
  classCounts: plain(s.classCounts),
});

test('validation_data: training load = whole training dir + whole validation dir, _unknown_/_silence_ in each', async (t) => {
  const dirs = await makeTrees(t);
  const r = await loadDataset(dirs, options(), 'training');
  assert.deepEqual(core(r.training!), TRAINING);
  assert.deepEqual(core(r.validation!), VALIDATION);
  assert.equal(r.training!.datasetDir, dirs.datasetDir);
  assert.equal(r.validation!.datasetDir, dirs.validationData.datasetDir);
  assert.deepEqual(plain(r.classCounts), { training: TRAINING.classCounts, validation: VALIDATION.classCounts });
  assert.equal(
    summarizeDataset(r, CLASSES),
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
  // Weights from the training subset: N = 18, K = 4 → 18/24, 18/20, 18/16, 18/12.
  const w = computeClassWeights('balanced', CLASSES, r.classCounts.training!);
  assert.deepEqual(w.value, { 0: 0.75, 1: 0.9, 2: 1.125, 3: 1.5 });
  assert.equal(w.log, 'Class weights:\n       on = 0.75\n      off = 0.90\n_unknown_ = 1.12\n_silence_ = 1.50');
  // Each dir has its own index files.
  const idx = (dir: string, names: string[]) => names.map((n) => path.join(dir, '.index', `${n}.txt`));
  assert.deepEqual(r.indexFiles, idx(dirs.datasetDir, ['on', 'off', 'dog', 'fox']));
  assert.deepEqual(r.validationDataIndex, {
    datasetDir: dirs.validationData.datasetDir,
    location: 'dataset',
    files: idx(dirs.validationData.datasetDir, ['on', 'off', 'dog', 'owl']),
  });
  assert.equal(await fs.readFile(path.join(dirs.validationData.datasetDir, '.index/dog.txt'), 'utf8'), 'dog/5.wav\ndog/6.wav\ndog/7.wav\n');
});

test('validation_data: validation load lists only the validation dir', async (t) => {
  const dirs = await makeTrees(t);
  const r = await loadDataset(dirs, options(), 'validation');
  assert.equal(r.training, undefined);
  assert.deepEqual(core(r.validation!), VALIDATION);
  assert.deepEqual(plain(r.classCounts), { validation: VALIDATION.classCounts });
  assert.deepEqual(r.indexFiles, []);
  await assert.rejects(fs.access(path.join(dirs.datasetDir, '.index')));
  assert.equal(
    summarizeDataset(r, CLASSES),
    'Validation dataset: Found 8 samples belonging to 4 classes:\n        on = 3\n       off = 2\n _unknown_ = 2\n _silence_ = 1',
  );
});

test('validation_data: evaluation load = the validation dir, with eval_max_samples_per_class', async (t) => {
  const dirs = await makeTrees(t);
  const r = await loadDataset(dirs, options({ maxSamplesPerClass: 1 }), 'evaluation');
  // max_samples_per_class does not apply to an evaluation load (MLTK): all of it.
  assert.deepEqual(core(r.validation!), VALIDATION);
  assert.equal(loadedSubset(r, 'evaluation'), r.validation);
  assert.equal(
    summarizeDataset(r, CLASSES),
    'Evaluation dataset: Found 8 samples belonging to 4 classes:\n        on = 3\n       off = 2\n _unknown_ = 2\n _silence_ = 1',
  );
  /*
   * eval max 1: on g, off f → total 2, avg 1, U = 1, per = max(floor(1/2), 1) = 1: dog → 6
   * (total 1 = U, owl unused); _silence_: max(1, floor(0.6)) = 1.
   */
  const e = await loadDataset(dirs, options({ evalMaxSamplesPerClass: 1 }), 'evaluation');
  assert.deepEqual(core(e.validation!), {
    entries: ['on/g.wav', 'off/f.wav', 'dog/6.wav', null],
    labels: [0, 1, 2, 3],
    classCounts: { on: 1, off: 1, _unknown_: 1, _silence_: 1 },
  });
  assert.deepEqual((await listSubset(dirs, options({ evalMaxSamplesPerClass: 1 }), 'evaluation')).entries, e.validation!.entries);
});

test('validation_data: the seed replaces 43 in the validation subset too', async (t) => {
  const dirs = await makeTrees(t);
  /*
   * seed 42, RandomState(42) first draws 1608637542 (…110), 3421126067 (…011), 4083286876 (…100),
   * 787846414 (…110), 3143890026 (…010): dog [5 6 7]: i=2 mask 3: 2 → stays; i=1 mask 1: 1 →
   * stays → [5 6 7], take 5. numpy agrees: RandomState(42).shuffle(['5','6','7']) → ['5','6','7'].
   */
  const r = await loadDataset(dirs, options({ seed: 42 }), 'validation');
  assert.equal(r.validation!.entries[5], 'dog/5.wav');
});

test('validation_data: reindex regenerates both dirs', async (t) => {
  const dirs = await makeTrees(t);
  await loadDataset(dirs, options(), 'training');
  await fs.writeFile(path.join(dirs.validationData.datasetDir, 'on/a.wav'), 'x');
  await fs.writeFile(path.join(dirs.datasetDir, 'on/0.wav'), 'x');
  await reindex(dirs, options());
  assert.equal(await fs.readFile(path.join(dirs.validationData.datasetDir, '.index/on.txt'), 'utf8'), 'on/a.wav\non/g.wav\non/h.wav\non/i.wav\n');
  assert.match(await fs.readFile(path.join(dirs.datasetDir, '.index/on.txt'), 'utf8'), /^on\/0\.wav\n/);
});

test('errors: classes missing in either dir → class-mismatch listing both sides', async (t) => {
  const dirs = await makeTrees(
    t,
    TRAIN_TREE,
    VAL_TREE.filter((f) => !f.startsWith('off/')),
  );
  const classes = ['on', 'off', 'up', '_unknown_'];
  await fs.mkdir(path.join(dirs.validationData.datasetDir, 'up'));
  const err = await loadDataset(dirs, options({ classes }), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof DatasetError);
  assert.equal(err.code, 'class-mismatch');
  assert.equal(err.status, 422);
  assert.equal(
    err.message,
    `validation_data must hold the same classes as the training data; missing in the validation data ${dirs.validationData.datasetDir}: off; missing in the training data ${dirs.datasetDir}: up`,
  );
  assert.deepEqual(err.extra, {
    missingInTraining: ['up'],
    missingInValidation: ['off'],
    trainingDir: dirs.datasetDir,
    validationDir: dirs.validationData.datasetDir,
  });
  // Every load kind checks it, before anything is listed.
  await assert.rejects(loadDataset(dirs, options({ classes }), 'evaluation'), (e: unknown) => e instanceof DatasetError && e.code === 'class-mismatch');
  await assert.rejects(fs.access(path.join(dirs.validationData.datasetDir, '.index')));
  assert.deepEqual(await compareClassDirectories(dirs.datasetDir, dirs.validationData.datasetDir, ['on', '_silence_']), {
    missingInTraining: [],
    missingInValidation: [],
  });
});

test('errors: validation_split other than 0 with validation_data → invalid-settings saying why', async (t) => {
  const dirs = await makeTrees(t);
  const err = await loadDataset(dirs, options({ validationSplit: 0.2 }), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof InvalidSettingsError);
  assert.equal(err.status, 422);
  assert.equal(err.extra.setting, 'validation_split');
  assert.equal(
    err.message,
    'validation_split must be 0 or absent with validation_data (got 0.2): the validation subset is the whole validation_data directory, so no part of the training data is split off',
  );
});

test('errors: validation_data with speech_commands_lists, or naming the training dir → invalid-settings', async (t) => {
  const dirs = await makeTrees(t);
  const lists = await loadDataset(dirs, options({ listing: 'speech_commands_lists' }), 'training').catch((e: unknown) => e);
  assert.ok(lists instanceof InvalidSettingsError);
  assert.equal(lists.extra.setting, 'validation_data');
  const same = { ...dirs, validationData: { ...dirs.validationData, datasetDir: dirs.datasetDir + '/' } };
  const err = await loadDataset(same, options(), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof InvalidSettingsError);
  assert.match(err.message, /names the training dataset directory itself/);
});

test('errors: a missing validation_data dir → dataset-dir-not-found with role', async (t) => {
  const dirs = await makeTrees(t);
  const gone = { ...dirs, validationData: { ...dirs.validationData, datasetDir: dirs.validationData.datasetDir + '-gone' } };
  const err = await loadDataset(gone, options(), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof DatasetError);
  assert.equal(err.code, 'dataset-dir-not-found');
  assert.equal(err.message, `validation_data directory not found: ${gone.validationData.datasetDir}`);
  assert.equal(err.extra.role, 'validation_data');
});

test('errors: validation_data without unknown candidates → no-unknown-candidates naming that dir', async (t) => {
  const dirs = await makeTrees(t, TRAIN_TREE, VAL_TREE.filter((f) => f.startsWith('on/') || f.startsWith('off/')));
  await assert.rejects(
    loadDataset(dirs, options(), 'training'),
    (e: unknown) =>
      e instanceof DatasetError &&
      e.code === 'no-unknown-candidates' &&
      e.message === `Failed to find 'unknown' classes in ${dirs.validationData.datasetDir}`,
  );
});

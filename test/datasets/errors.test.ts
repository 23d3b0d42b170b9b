/** Spec §15: every failure condition maps to a stable DatasetError code and MLTK's message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatasetError, InvalidSettingsError } from '../../src/core/errors.ts';
import { batchIndices, buildLabels, loadDataset, type DatasetOptions } from '../../src/core/datasets/index.ts';
import { datasetDirs, datasetOptions } from '../helpers/datasets.ts';

const setup = (t: { after: (fn: () => Promise<void>) => void }, files: string[]) => datasetDirs(t, files, 'audiofeed-ds-errors-');
const options = (over: Partial<DatasetOptions>): DatasetOptions => datasetOptions({ classes: ['yes', 'no'], ...over });

function datasetError(code: string, message?: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected DatasetError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  };
}

test('errors: a class with no samples → no-samples-for-class, one line per class in class order', async (t) => {
  const dirs = await setup(t, ['yes/a.wav', 'yes/b.wav', 'maybe/']);
  await assert.rejects(
    loadDataset(dirs, options({ classes: ['no', 'yes', 'maybe'] }), 'training'),
    datasetError('no-samples-for-class', 'No samples found for class: no\nNo samples found for class: maybe'),
  );
});

test('errors: the error carries the subset and the counts computed so far', async (t) => {
  const dirs = await setup(t, ['yes/a.wav', 'yes/b.wav', 'no/c.wav']);
  // v = 0.5: "no" has ceil(0.5) = 1 validation file and 0 training files.
  const err = await loadDataset(dirs, options({}), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof DatasetError);
  assert.equal(err.message, 'No samples found for class: no');
  // classCounts is a null-prototype table (names are data): compared by its own entries.
  assert.deepEqual({ ...err.extra, classCounts: { ...(err.extra.classCounts as object) } }, { classes: ['no'], subset: 'training', classCounts: { yes: 1, no: 0 } });
  assert.equal(err.status, 422);
});

test('errors: an inactive pseudo-class still listed is empty (percentage 0)', async (t) => {
  const dirs = await setup(t, ['yes/a.wav', 'yes/b.wav', 'no/c.wav', 'no/d.wav', 'cat/e.wav']);
  await assert.rejects(
    loadDataset(dirs, options({ classes: ['yes', 'no', '_unknown_', '_silence_'], unknownClassPercentage: 0, silenceClassPercentage: 0 }), 'training'),
    datasetError('no-samples-for-class', 'No samples found for class: _unknown_\nNo samples found for class: _silence_'),
  );
});

test('errors: _unknown_ without candidate directories → no-unknown-candidates', async (t) => {
  const dirs = await setup(t, ['yes/a.wav', 'no/b.wav', '_background_noise_/n.wav', '.git/x.wav', '~old/y.wav', 'cow.wav']);
  await assert.rejects(
    loadDataset(dirs, options({ classes: ['yes', 'no', '_unknown_'] }), 'training'),
    datasetError('no-unknown-candidates', `Failed to find 'unknown' classes in ${dirs.datasetDir}`),
  );
});

test('errors: all unknown candidates empty in the subset → _unknown_ reported empty (Q-11 fix; MLTK: ZeroDivisionError)', async (t) => {
  // cat has one file: with v = 0.5 it goes to validation, so training has no unknown samples.
  const dirs = await setup(t, ['yes/a.wav', 'yes/b.wav', 'no/c.wav', 'no/d.wav', 'cat/e.wav', 'empty/']);
  await assert.rejects(
    loadDataset(dirs, options({ classes: ['yes', 'no', '_unknown_'] }), 'training'),
    datasetError('no-samples-for-class', 'No samples found for class: _unknown_'),
  );
});

test('errors: speech-commands split point = n does not crash (Q-09 fix; MLTK: IndexError)', async (t) => {
  const files = Array.from({ length: 9 }, (_, i) => `yes/${String(i).padStart(8, '0')}_nohash_0.wav`);
  const noFiles = Array.from({ length: 20 }, (_, i) => `no/${String(i).padStart(8, '0')}_nohash_0.wav`);
  const dirs = await setup(t, [...files, ...noFiles]);
  // v = 0.9, n = 9: ceil(8.1) = 9 = n → validation = all of "yes", training empty.
  await assert.rejects(
    loadDataset(dirs, options({ listing: 'speech_commands_v2', validationSplit: 0.9 }), 'training'),
    datasetError('no-samples-for-class', 'No samples found for class: yes'),
  );
  const r = await loadDataset(dirs, options({ listing: 'speech_commands_v2', validationSplit: 0.9 }), 'validation');
  assert.deepEqual({ ...r.validation!.classCounts }, { yes: 9, no: 18 });
});

test('errors: speech-commands listing refuses a shuffled index', async (t) => {
  const dirs = await setup(t, ['yes/a_nohash_0.wav', 'no/b_nohash_0.wav']);
  await assert.rejects(
    loadDataset(dirs, options({ listing: 'speech_commands_v2', shuffleDatasetEnabled: true }), 'training'),
    datasetError('shuffle-not-supported', 'Shuffling the index is not supported by this dataset'),
  );
});

test('errors: speech-commands listing fails on the first empty class directory, unknown candidates included', async (t) => {
  const dirs = await setup(t, ['yes/a_nohash_0.wav', 'yes/b_nohash_0.wav', 'no/c_nohash_0.wav', 'no/d_nohash_0.wav', 'stray/readme.txt']);
  await assert.rejects(
    loadDataset(dirs, options({ listing: 'speech_commands_v2', classes: ['yes', 'no', '_unknown_'] }), 'training'),
    datasetError('no-samples-for-class', 'No samples found for class: stray'),
  );
});

test('errors: invalid class_mode → invalid-class-mode', () => {
  assert.throws(
    () => buildLabels([0], 'onehot' as never, 2, 'float32'),
    (err: unknown) => err instanceof DatasetError && err.code === 'invalid-class-mode' && /^Invalid class_mode: onehot/.test(err.message),
  );
});

test('errors: padding wider than the subset cycles instead of hanging (Q-14 fix)', () => {
  // n = 2, B = 5: w = 3 > n.
  assert.deepEqual(batchIndices(2, 5, { shuffle: false, epoch: 0 }).map((b) => Array.from(b)), [[0, 1, 0, 1, 0]]);
  const shuffled = Array.from(batchIndices(2, 5, { shuffle: true, seed: 3, epoch: 0 })[0]!);
  assert.equal(shuffled.length, 5);
  assert.ok(shuffled.every((i) => i === 0 || i === 1));
});

test('errors: validation/evaluation load with validation_split = 0 → no-validation-subset (Q-12 fix)', async (t) => {
  const dirs = await setup(t, ['yes/a.wav', 'no/b.wav']);
  for (const kind of ['validation', 'evaluation'] as const) {
    await assert.rejects(loadDataset(dirs, options({ validationSplit: 0 }), kind), datasetError('no-validation-subset'));
  }
});

test('errors: a missing dataset dir → dataset-dir-not-found', async (t) => {
  const dirs = await setup(t, []);
  await assert.rejects(
    loadDataset({ ...dirs, datasetDir: path.join(dirs.datasetDir, 'nope') }, options({}), 'training'),
    datasetError('dataset-dir-not-found'),
  );
});

test('errors: bad option values → InvalidSettingsError', async (t) => {
  const dirs = await setup(t, ['yes/a.wav', 'no/b.wav']);
  const bad: Partial<DatasetOptions>[] = [
    { validationSplit: -0.1 },
    { validationSplit: 1.5 },
    { validationSplit: Number.NaN },
    { unknownClassPercentage: -1 },
    { silenceClassPercentage: -0.5 },
    { silenceClassPercentage: Number.POSITIVE_INFINITY },
    { classes: [] },
    { classes: ['yes', 'yes'] },
    { classes: ['_unknown_', '_silence_'] },
    { classes: ['a/b'] },
    { maxSamplesPerClass: -2 },
    { maxSamplesPerClass: 1.5 },
    { evalMaxSamplesPerClass: -2 },
    { evalMaxSamplesPerClass: 0.5 },
    { listing: 'speech_commands_lists', validationSplit: 0.5 },
    { seed: -1 },
    { seed: 2 ** 32 },
    { listing: 'other' as never },
    { followLinks: 'yes' as never },
  ];
  for (const over of bad) {
    await assert.rejects(loadDataset(dirs, options(over), 'training'), InvalidSettingsError, JSON.stringify(over));
  }
  const dup = await loadDataset(dirs, options({ classes: ['yes', 'no', 'yes'] }), 'training').catch((e: unknown) => e);
  assert.ok(dup instanceof InvalidSettingsError);
  assert.deepEqual(dup.extra.duplicates, ['yes']);
  assert.equal(dup.status, 422);
});

test('errors: bad batch arguments → InvalidSettingsError', () => {
  assert.throws(() => batchIndices(10, 0, { shuffle: false, epoch: 0 }), InvalidSettingsError);
  assert.throws(() => batchIndices(10, 4, { shuffle: false, epoch: -1 }), InvalidSettingsError);
  assert.throws(() => batchIndices(10, 4, { shuffle: false, epoch: 0, stepsPerEpoch: 0 }), InvalidSettingsError);
  assert.throws(() => batchIndices(10, 4, { shuffle: true, seed: -5, epoch: 0 }), InvalidSettingsError);
});

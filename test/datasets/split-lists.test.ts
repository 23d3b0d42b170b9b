/**
 * `speech_commands_lists` (src/core/datasets/split-lists.ts) on a generated tree with both list
 * files. Expected subsets are worked out by hand from MLTK's rules (spec §6) and written
 * as literals; the working is in the comments.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatasetError, InvalidSettingsError } from '../../src/core/errors.ts';
import {
  listSubset,
  loadDataset,
  loadedSubset,
  parseSplitList,
  RandomState,
  summarizeDataset,
  type DatasetDirs,
  type DatasetOptions,
} from '../../src/core/datasets/index.ts';
import { datasetOptions, plain } from '../helpers/datasets.ts';

const clip = (dir: string, i: number): string => `${dir}/s${i}_nohash_0.wav`;
const range = (dir: string, n: number): string[] => Array.from({ length: n }, (_, i) => clip(dir, i + 1));

/**
 * Tree: yes s1–s9, no s1–s7, up s1–s6 (requested classes); bed s1–s8, cat s1–s4 (unknown
 * candidates, in code-point order); `_background_noise_` (never a candidate); a non-wav
 * file in yes/ (not a sample).
 */
const TREE = [
  ...range('yes', 9),
  'yes/readme.txt',
  ...range('no', 7),
  ...range('up', 6),
  ...range('bed', 8),
  ...range('cat', 4),
  '_background_noise_/white.wav',
];
const VALIDATION_LIST = ['yes/s2', 'yes/s3', 'no/s1', 'up/s6', 'bed/s1', 'bed/s2', 'bed/s3', 'cat/s4'].map((s) => `${s}_nohash_0.wav`);
// dog/ does not exist and is not listed by the load: its line is ignored.
const TESTING_LIST = ['yes/s7', 'yes/s8', 'no/s6', 'no/s7', 'up/s1', 'up/s2', 'cat/s1', 'cat/s2', 'dog/s1'].map(
  (s) => `${s}_nohash_0.wav`,
);
/*
 * Parts of each class list (index order s1, s2, …):
 *   yes: validation s2 s3        evaluation s7 s8   training s1 s4 s5 s6 s9
 *   no:  validation s1           evaluation s6 s7   training s2 s3 s4 s5
 *   up:  validation s6           evaluation s1 s2   training s3 s4 s5
 *   bed: validation s1 s2 s3     evaluation —       training s4 s5 s6 s7 s8
 *   cat: validation s4           evaluation s1 s2   training s3
 * classes = yes, no, up, _unknown_, _silence_; percentages 1.0 / 0.6; no seed → 43;
 * n_known = 5 − 2 active pseudo-classes = 3.
 * RandomState(43) draws: 494155588 (low bits …100), 2134003008 (…000), 2615920895 (…111),
 * 442015537 (…001), 572909845 (…101). Fisher–Yates from the end, masked rejection:
 *   [a,b]       → i=1 mask 1: 0 → swap → [b,a]
 *   [a,b,c]     → i=2 mask 3: 0 → [c,b,a]; i=1 mask 1: 0 → [b,c,a]
 *   [a,b,c,d,e] → i=4 mask 7: 4 → stays; i=3 mask 3: 0 → [d,b,c,a,e];
 *                 i=2 mask 3: 3 rejected, then 1 → [d,c,b,a,e]; i=1 mask 1: 1 → stays
 */
const CLASSES = ['yes', 'no', 'up', '_unknown_', '_silence_'];

/*
 * Training: known 5 + 4 + 3 = 12, avg = floor(12/3) = 4, U = 4; kept candidates bed (5),
 * cat (1): m = 2, per = floor(4/2) = 2. bed: shuffle [s4 s5 s6 s7 s8] → [s7 s6 s5 s4 s8],
 * take s7 s6 (total 2 < 4); cat: [s3] → s3 (total 3); candidates exhausted (U not reached).
 * _silence_: max(1, floor(4 × 0.6)) = 2.
 */
const TRAINING = {
  entries: [
    ...['s1', 's4', 's5', 's6', 's9'].map((s) => `yes/${s}_nohash_0.wav`),
    ...['s2', 's3', 's4', 's5'].map((s) => `no/${s}_nohash_0.wav`),
    ...['s3', 's4', 's5'].map((s) => `up/${s}_nohash_0.wav`),
    'bed/s7_nohash_0.wav',
    'bed/s6_nohash_0.wav',
    'cat/s3_nohash_0.wav',
    null,
    null,
  ],
  labels: [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4],
  classCounts: { yes: 5, no: 4, up: 3, _unknown_: 3, _silence_: 2 },
};
/*
 * Validation: known 2 + 1 + 1 = 4, avg = 1, U = 1; kept bed (3), cat (1): per = max(floor(1/2), 1) = 1.
 * bed: shuffle [s1 s2 s3] → [s2 s3 s1], take s2 → total 1 = U, stop (cat not used).
 * _silence_: max(1, floor(0.6)) = 1.
 */
const VALIDATION = {
  entries: ['yes/s2_nohash_0.wav', 'yes/s3_nohash_0.wav', 'no/s1_nohash_0.wav', 'up/s6_nohash_0.wav', 'bed/s2_nohash_0.wav', null],
  labels: [0, 0, 1, 2, 3, 4],
  classCounts: { yes: 2, no: 1, up: 1, _unknown_: 1, _silence_: 1 },
};
/*
 * Evaluation: known 2 + 2 + 2 = 6, avg = 2, U = 2; bed has no evaluation clip, so only cat
 * is kept: m = 1, per = 2. cat: shuffle [s1 s2] → [s2 s1], take both. _silence_: max(1, floor(1.2)) = 1.
 */
const EVALUATION = {
  entries: [
    'yes/s7_nohash_0.wav',
    'yes/s8_nohash_0.wav',
    'no/s6_nohash_0.wav',
    'no/s7_nohash_0.wav',
    'up/s1_nohash_0.wav',
    'up/s2_nohash_0.wav',
    'cat/s2_nohash_0.wav',
    'cat/s1_nohash_0.wav',
    null,
  ],
  labels: [0, 0, 1, 1, 2, 2, 3, 3, 4],
  classCounts: { yes: 2, no: 2, up: 2, _unknown_: 2, _silence_: 1 },
};

async function makeTree(
  t: TestContext,
  files: string[],
  lists: { validation?: string | null; testing?: string | null } = {},
): Promise<DatasetDirs> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'audiofeed-ds-lists-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const datasetDir = path.join(root, 'sc');
  await fs.mkdir(datasetDir);
  for (const f of files) {
    await fs.mkdir(path.dirname(path.join(datasetDir, f)), { recursive: true });
    await fs.writeFile(path.join(datasetDir, f), 'x');
  }
  const validation = lists.validation === undefined ? VALIDATION_LIST.join('\n') + '\n' : lists.validation;
  const testing = lists.testing === undefined ? TESTING_LIST.join('\n') + '\n' : lists.testing;
  if (validation !== null) await fs.writeFile(path.join(datasetDir, 'validation_list.txt'), validation);
  if (testing !== null) await fs.writeFile(path.join(datasetDir, 'testing_list.txt'), testing);
  return { datasetDir, fallbackIndexDir: path.join(root, 'fallback'), shuffleIndexDir: path.join(root, 'log', 'dataset') };
}

const options = (over: Partial<DatasetOptions> = {}): DatasetOptions =>
  datasetOptions({ classes: CLASSES, validationSplit: 0, listing: 'speech_commands_lists', ...over });

function datasetError(code: string, message?: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected DatasetError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, 422);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  };
}

test('lists: the RandomState(43) shuffles the hand working relies on', () => {
  for (const [input, want] of [
    [['a', 'b'], ['b', 'a']],
    [['a', 'b', 'c'], ['b', 'c', 'a']],
    [['a', 'b', 'c', 'd', 'e'], ['d', 'c', 'b', 'a', 'e']],
  ] as const) {
    const got = [...input];
    new RandomState(43).shuffle(got);
    assert.deepEqual(got, want);
  }
});

test('lists: training load = clips in neither list + validation_list.txt, _unknown_/_silence_ per subset', async (t) => {
  const dirs = await makeTree(t, TREE);
  const r = await loadDataset(dirs, options(), 'training');
  assert.equal(r.kind, 'training');
  assert.deepEqual(
    { entries: r.training!.entries, labels: r.training!.labels, classCounts: plain(r.training!.classCounts) },
    TRAINING,
  );
  assert.deepEqual(
    { entries: r.validation!.entries, labels: r.validation!.labels, classCounts: plain(r.validation!.classCounts) },
    VALIDATION,
  );
  assert.equal(r.evaluation, undefined);
  assert.deepEqual(plain(r.classCounts), { training: TRAINING.classCounts, validation: VALIDATION.classCounts });
  assert.equal(r.training!.datasetDir, dirs.datasetDir);
  assert.equal(
    summarizeDataset(r, CLASSES),
    [
      'Training dataset: Found 17 samples belonging to 5 classes:',
      '       yes = 5',
      '        no = 4',
      '        up = 3',
      ' _unknown_ = 3',
      ' _silence_ = 2',
      'Validation dataset: Found 6 samples belonging to 5 classes:',
      '       yes = 2',
      '        no = 1',
      '        up = 1',
      ' _unknown_ = 1',
      ' _silence_ = 1',
    ].join('\n'),
  );
  // Generic index rules: one alphabetical index per listed class dir, candidates included.
  assert.equal(r.indexLocation, 'dataset');
  assert.deepEqual(
    r.indexFiles,
    ['yes', 'no', 'up', 'bed', 'cat'].map((c) => path.join(dirs.datasetDir, '.index', `${c}.txt`)),
  );
  assert.equal(await fs.readFile(path.join(dirs.datasetDir, '.index/cat.txt'), 'utf8'), range('cat', 4).join('\n') + '\n');
  assert.deepEqual(r.warnings, []);
});

test('lists: validation load = validation_list.txt only', async (t) => {
  const dirs = await makeTree(t, TREE);
  const r = await loadDataset(dirs, options(), 'validation');
  assert.equal(r.training, undefined);
  assert.equal(r.evaluation, undefined);
  assert.deepEqual(
    { entries: r.validation!.entries, labels: r.validation!.labels, classCounts: plain(r.validation!.classCounts) },
    VALIDATION,
  );
  assert.deepEqual(plain(r.classCounts), { validation: VALIDATION.classCounts });
  assert.equal(
    summarizeDataset(r, CLASSES),
    'Validation dataset: Found 6 samples belonging to 5 classes:\n       yes = 2\n        no = 1\n        up = 1\n _unknown_ = 1\n _silence_ = 1',
  );
});

test('lists: evaluation load = testing_list.txt, an evaluation subset of its own', async (t) => {
  const dirs = await makeTree(t, TREE);
  const r = await loadDataset(dirs, options(), 'evaluation');
  assert.equal(r.kind, 'evaluation');
  assert.equal(r.training, undefined);
  assert.equal(r.validation, undefined);
  assert.equal(r.evaluation!.name, 'evaluation');
  assert.deepEqual(
    { entries: r.evaluation!.entries, labels: r.evaluation!.labels, classCounts: plain(r.evaluation!.classCounts) },
    EVALUATION,
  );
  assert.deepEqual(plain(r.classCounts), { evaluation: EVALUATION.classCounts });
  assert.equal(loadedSubset(r, 'evaluation'), r.evaluation);
  assert.equal(loadedSubset(r, 'validation'), undefined);
  assert.equal(
    summarizeDataset(r, CLASSES),
    'Evaluation dataset: Found 9 samples belonging to 5 classes:\n       yes = 2\n        no = 2\n        up = 2\n _unknown_ = 2\n _silence_ = 1',
  );
  assert.deepEqual((await listSubset(dirs, options(), 'evaluation')).entries, EVALUATION.entries);
});

test('lists: max_samples_per_class applies to training and validation loads, eval_max_samples_per_class to evaluation', async (t) => {
  const dirs = await makeTree(t, TREE);
  /*
   * max 2, training: known clamped first: yes s1 s4, no s2 s3, up s3 s4 → total 6, avg 2,
   * U = 2, per = 1: bed → s7 (first of [s7 s6 s5 s4 s8]), cat → s3, total 2 = U.
   * _silence_: max(1, floor(1.2)) = 1. Every list ≤ 2 after the final clamp.
   * Validation: every class already ≤ 2 → unchanged.
   */
  const r = await loadDataset(dirs, options({ maxSamplesPerClass: 2 }), 'training');
  assert.deepEqual(r.training!.entries, [
    'yes/s1_nohash_0.wav',
    'yes/s4_nohash_0.wav',
    'no/s2_nohash_0.wav',
    'no/s3_nohash_0.wav',
    'up/s3_nohash_0.wav',
    'up/s4_nohash_0.wav',
    'bed/s7_nohash_0.wav',
    'cat/s3_nohash_0.wav',
    null,
  ]);
  assert.deepEqual(plain(r.training!.classCounts), { yes: 2, no: 2, up: 2, _unknown_: 2, _silence_: 1 });
  assert.deepEqual(r.validation!.entries, VALIDATION.entries);
  // MLTK: an evaluation load uses eval_max_samples_per_class instead (default -1 = all).
  const e = await loadDataset(dirs, options({ maxSamplesPerClass: 2 }), 'evaluation');
  assert.deepEqual(e.evaluation!.entries, EVALUATION.entries);
  /*
   * eval max 1: yes s7, no s6, up s1 → total 3, avg 1, U = 1, only cat kept, per 1: [s2 s1] → s2.
   * _silence_: 1.
   */
  const e1 = await loadDataset(dirs, options({ evalMaxSamplesPerClass: 1 }), 'evaluation');
  assert.deepEqual(e1.evaluation!.entries, ['yes/s7_nohash_0.wav', 'no/s6_nohash_0.wav', 'up/s1_nohash_0.wav', 'cat/s2_nohash_0.wav', null]);
  assert.deepEqual(plain(e1.classCounts), { evaluation: { yes: 1, no: 1, up: 1, _unknown_: 1, _silence_: 1 } });
});

test('lists: list lines are normalised (BOM, CRLF, whitespace, blank lines, backslashes, ./ and //, duplicates)', async (t) => {
  const messyValidation =
    '\ufeff' +
    ['yes/s2_nohash_0.wav', '', '  yes\\s3_nohash_0.wav\t', './no/s1_nohash_0.wav', 'up//s6_nohash_0.wav', 'yes/s2_nohash_0.wav']
      .concat(VALIDATION_LIST.slice(4))
      .join('\r\n');
  const dirs = await makeTree(t, TREE, { validation: messyValidation, testing: TESTING_LIST.join('\r') });
  const r = await loadDataset(dirs, options(), 'training');
  assert.deepEqual(r.training!.entries, TRAINING.entries);
  assert.deepEqual(r.validation!.entries, VALIDATION.entries);

  assert.deepEqual(parseSplitList('\ufeffa/x.wav\r\n\r\n  b\\y.wav \n./c//z.wav\na/x.wav\n\n'), {
    entries: [
      { line: 1, entry: 'a/x.wav' },
      { line: 3, entry: 'b/y.wav' },
      { line: 4, entry: 'c/z.wav' },
    ],
    invalid: [],
  });
  assert.deepEqual(parseSplitList('/etc/passwd\n../up.wav\ntop.wav\nyes/\nC:\\x\\y.wav\nyes/../no/a.wav').invalid.map((l) => l.line), [
    1, 2, 3, 4, 5,
  ]);
  assert.deepEqual(parseSplitList('yes/../no/a.wav').entries, [{ line: 1, entry: 'no/a.wav' }]);
});

test('lists: a shuffled index keeps its order inside every subset', async (t) => {
  const dirs = await makeTree(t, TREE);
  const r = await loadDataset(dirs, options({ shuffleDatasetEnabled: true, seed: 5, classes: ['yes', 'no'] }), 'training');
  assert.equal(r.indexLocation, 'shuffle_index_dir');
  const yes = range('yes', 9);
  new RandomState(5).shuffle(yes);
  const inList = new Set(VALIDATION_LIST);
  const inTesting = new Set(TESTING_LIST);
  assert.deepEqual(
    r.validation!.entries.filter((e) => e!.startsWith('yes/')),
    yes.filter((e) => inList.has(e)),
  );
  assert.deepEqual(
    r.training!.entries.filter((e) => e!.startsWith('yes/')),
    yes.filter((e) => !inList.has(e) && !inTesting.has(e)),
  );
});

test('lists: a subset with no clip of a class → no-samples-for-class naming the subset', async (t) => {
  // up/s1 and up/s2 are the only evaluation clips of "up".
  const dirs = await makeTree(t, TREE, { testing: TESTING_LIST.filter((l) => !l.startsWith('up/')).join('\n') });
  const err = await loadDataset(dirs, options(), 'evaluation').catch((e: unknown) => e);
  assert.ok(err instanceof DatasetError);
  assert.equal(err.code, 'no-samples-for-class');
  assert.equal(err.message, 'No samples found for class: up');
  assert.equal(err.extra.subset, 'evaluation');
});

test('errors: a missing list file → list-file-missing naming it, before any index is written', async (t) => {
  const dirs = await makeTree(t, TREE, { testing: null });
  const file = path.join(dirs.datasetDir, 'testing_list.txt');
  for (const kind of ['training', 'validation', 'evaluation'] as const) {
    await assert.rejects(
      loadDataset(dirs, options(), kind),
      datasetError(
        'list-file-missing',
        `listing speech_commands_lists needs validation_list.txt and testing_list.txt in the dataset dir; not found: ${file}`,
      ),
    );
  }
  await assert.rejects(fs.access(path.join(dirs.datasetDir, '.index')));
  const both = await makeTree(t, TREE, { validation: null, testing: null });
  const err = await loadDataset(both, options(), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof DatasetError);
  assert.deepEqual(err.extra.missingFiles, [
    path.join(both.datasetDir, 'validation_list.txt'),
    path.join(both.datasetDir, 'testing_list.txt'),
  ]);
});

test('errors: list lines naming clips that do not exist → list-entry-not-found with file, line numbers, at most 10 lines', async (t) => {
  const ghosts = Array.from({ length: 12 }, (_, i) => `no/ghost${String(i).padStart(2, '0')}_nohash_0.wav`);
  const dirs = await makeTree(t, TREE, {
    validation: [...VALIDATION_LIST, 'yes/s10_nohash_0.wav'].join('\n'),
    // Line 1 exists; lines 2–13 do not; dog/ lines are ignored (dog is not listed).
    testing: ['yes/s7_nohash_0.wav', ...ghosts, 'dog/s9_nohash_0.wav'].join('\n'),
  });
  const v = path.join(dirs.datasetDir, 'validation_list.txt');
  const te = path.join(dirs.datasetDir, 'testing_list.txt');
  const shown = ghosts.slice(0, 10).map((g, i) => `line ${i + 2}: ${g}`).join(', ');
  await assert.rejects(
    loadDataset(dirs, options(), 'training'),
    datasetError(
      'list-entry-not-found',
      `${v} names 1 clip that does not exist: line 9: yes/s10_nohash_0.wav; ${te} names 12 clips that do not exist: ${shown}, and 2 more`,
    ),
  );
  const err = (await loadDataset(dirs, options(), 'evaluation').catch((e: unknown) => e)) as DatasetError;
  const files = err.extra.listFiles as { file: string; count: number; lines: { line: number; entry: string }[] }[];
  assert.deepEqual(files.map((f) => [f.file, f.count, f.lines.length]), [
    [v, 1, 1],
    [te, 12, 10],
  ]);
  assert.deepEqual(files[0]!.lines[0], { line: 9, entry: 'yes/s10_nohash_0.wav' });
});

test('errors: a dangling symlink named by a list does not exist', async (t) => {
  const dirs = await makeTree(t, TREE, { validation: [...VALIDATION_LIST, 'yes/gone_nohash_0.wav'].join('\n') });
  await fs.symlink('nowhere.wav', path.join(dirs.datasetDir, 'yes/gone_nohash_0.wav'));
  await assert.rejects(loadDataset(dirs, options(), 'validation'), datasetError('list-entry-not-found'));
});

test('errors: lines that are no clip path inside a class dir → list-entry-invalid', async (t) => {
  const dirs = await makeTree(t, TREE, { validation: [...VALIDATION_LIST, '/etc/passwd', '../outside.wav', 'top.wav'].join('\n') });
  const v = path.join(dirs.datasetDir, 'validation_list.txt');
  await assert.rejects(
    loadDataset(dirs, options(), 'training'),
    datasetError(
      'list-entry-invalid',
      `${v} has 3 lines that are not the path of a clip inside a class directory: line 9: "/etc/passwd", line 10: "../outside.wav", line 11: "top.wav"`,
    ),
  );
});

test('errors: a clip in both list files → list-entries-overlap', async (t) => {
  const dirs = await makeTree(t, TREE, { testing: [...TESTING_LIST, 'yes/s2_nohash_0.wav'].join('\n') });
  const v = path.join(dirs.datasetDir, 'validation_list.txt');
  const te = path.join(dirs.datasetDir, 'testing_list.txt');
  const err = await loadDataset(dirs, options(), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof DatasetError);
  assert.equal(err.code, 'list-entries-overlap');
  assert.equal(err.message, `1 clip is named by both ${v} and ${te}: yes/s2_nohash_0.wav (lines 1 and 10)`);
  assert.deepEqual(err.extra.entries, [{ entry: 'yes/s2_nohash_0.wav', validationLine: 1, testingLine: 10 }]);
});

test('errors: validation_split other than 0 with speech_commands_lists → invalid-settings', async (t) => {
  const dirs = await makeTree(t, TREE);
  const err = await loadDataset(dirs, options({ validationSplit: 0.1 }), 'training').catch((e: unknown) => e);
  assert.ok(err instanceof InvalidSettingsError);
  assert.equal(err.status, 422);
  assert.equal(err.extra.setting, 'validation_split');
  assert.match(err.message, /validation_list\.txt and testing_list\.txt decide the subsets/);
});

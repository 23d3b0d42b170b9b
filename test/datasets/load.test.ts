/** Index-file rules (§4), loads (§8), epochs (§9) and labels (§9.1) beyond what the fixtures cover. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  batchIndices,
  batchesPerEpoch,
  buildLabels,
  epochIndexArray,
  findFirstMissing,
  loadDataset,
  readSeedRecord,
  reindex,
  RandomState,
  speechCommandsSplitPoint,
  type DatasetOptions,
} from '../../src/core/datasets/index.ts';
import { chooseIndexPlace, parseIndex } from '../../src/core/datasets/index-files.ts';
import { datasetDirs, datasetOptions, plain } from '../helpers/datasets.ts';

const setup = (t: { after: (fn: () => Promise<void>) => void }, files: string[]) => datasetDirs(t, files, 'audiofeed-ds-load-');
const options = (over: Partial<DatasetOptions> = {}): DatasetOptions => datasetOptions({ classes: ['cat', 'dog'], ...over });

const CATS = ['cat/c1.wav', 'cat/c2.wav', 'cat/c3.wav', 'cat/c4.wav'];
const DOGS = ['dog/d1.wav', 'dog/d2.wav', 'dog/d3.wav', 'dog/d4.wav'];

test('load: training load with validation_split = 0 has no validation subset (Q-12 fix)', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  const r = await loadDataset(dirs, options({ validationSplit: 0 }), 'training');
  assert.deepEqual(r.training!.entries, [...CATS, ...DOGS]);
  assert.equal(r.validation, undefined);
  assert.deepEqual(plain(r.classCounts), { training: { cat: 4, dog: 4 } });
  assert.ok(r.warnings.some((w) => w.includes('no validation subset')));
});

test('load: validation_split = 1 puts everything in validation', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  const r = await loadDataset(dirs, options({ validationSplit: 1 }), 'evaluation');
  assert.deepEqual(r.validation!.entries, [...CATS, ...DOGS]);
  assert.equal(r.kind, 'evaluation');
});

test('load: IEEE double ceil split (0.28 × 25 → 8)', async (t) => {
  const files = Array.from({ length: 25 }, (_, i) => `cat/c${String(i).padStart(2, '0')}.wav`);
  const dirs = await setup(t, [...files, ...DOGS]);
  const r = await loadDataset(dirs, options({ validationSplit: 0.28 }), 'training');
  assert.equal(r.validation!.classCounts.cat, 8);
  assert.equal(r.training!.classCounts.cat, 17);
});

test('load: counts are fresh per load (Q-23 fix)', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS, 'bird/b1.wav', 'bird/b2.wav']);
  await loadDataset(dirs, options({ classes: ['cat', 'dog', 'bird'] }), 'training');
  const r = await loadDataset(dirs, options(), 'training');
  assert.deepEqual(Object.keys(r.classCounts.training!), ['cat', 'dog']);
});

test('load: max_samples_per_class clamps every class, pseudo-classes included', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS, 'bird/b1.wav', 'bird/b2.wav', 'bird/b3.wav', 'bird/b4.wav']);
  const r = await loadDataset(
    dirs,
    options({ classes: ['cat', 'dog', '_unknown_', '_silence_'], validationSplit: 0, maxSamplesPerClass: 1, silenceClassPercentage: 3 }),
    'training',
  );
  assert.deepEqual(plain(r.training!.classCounts), { cat: 1, dog: 1, _unknown_: 1, _silence_: 1 });
  assert.deepEqual(r.training!.entries.slice(0, 2), ['cat/c1.wav', 'dog/d1.wav']);
  assert.equal(r.training!.entries[3], null);
});

test('load: an evaluation load uses eval_max_samples_per_class instead of max_samples_per_class (spec §8)', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  // v = 0.5: validation = cat c1 c2, dog d1 d2.
  const validation = await loadDataset(dirs, options({ maxSamplesPerClass: 1 }), 'validation');
  assert.deepEqual(validation.validation!.entries, ['cat/c1.wav', 'dog/d1.wav']);
  const evaluation = await loadDataset(dirs, options({ maxSamplesPerClass: 1 }), 'evaluation');
  assert.deepEqual(evaluation.validation!.entries, ['cat/c1.wav', 'cat/c2.wav', 'dog/d1.wav', 'dog/d2.wav']);
  const clamped = await loadDataset(dirs, options({ evalMaxSamplesPerClass: 1 }), 'evaluation');
  assert.deepEqual(clamped.validation!.entries, ['cat/c1.wav', 'dog/d1.wav']);
  assert.deepEqual(plain(clamped.classCounts), { validation: { cat: 1, dog: 1 } });
  const training = await loadDataset(dirs, options({ evalMaxSamplesPerClass: 1 }), 'training');
  assert.deepEqual(plain(training.classCounts), { training: { cat: 2, dog: 2 }, validation: { cat: 2, dog: 2 } });
});

test('load: the unknown shuffle uses a fresh RandomState(seed or 43) per candidate', async (t) => {
  const birds = Array.from({ length: 10 }, (_, i) => `bird/b${i}.wav`);
  const dirs = await setup(t, [...CATS, ...DOGS, ...birds]);
  const opts = options({ classes: ['cat', 'dog', '_unknown_'], validationSplit: 0 });
  const r = await loadDataset(dirs, opts, 'training');
  const sorted = [...birds].sort();
  const want = [...sorted];
  new RandomState(43).shuffle(want);
  assert.deepEqual(r.training!.entries.slice(8), want.slice(0, 4)); // U = avg = 4
  const seeded = await loadDataset(dirs, { ...opts, seed: 9 }, 'training');
  const want9 = [...sorted];
  new RandomState(9).shuffle(want9);
  assert.deepEqual(seeded.training!.entries.slice(8), want9.slice(0, 4));
  // MLTK: `seed if seed else 43`, so seed 0 selects like 43.
  const zero = await loadDataset(dirs, { ...opts, seed: 0 }, 'training');
  assert.deepEqual(zero.training!.entries, r.training!.entries);
});

test('index: alphabetical index written in the dataset dir, reused verbatim, regenerated when an entry is missing', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  const first = await loadDataset(dirs, options(), 'training');
  assert.equal(first.indexLocation, 'dataset');
  assert.deepEqual(first.indexFiles, [path.join(dirs.datasetDir, '.index/cat.txt'), path.join(dirs.datasetDir, '.index/dog.txt')]);
  assert.equal(await fs.readFile(path.join(dirs.datasetDir, '.index/cat.txt'), 'utf8'), CATS.join('\n') + '\n');
  // New files are ignored while every indexed entry exists.
  await fs.writeFile(path.join(dirs.datasetDir, 'cat/c0.wav'), 'x');
  const again = await loadDataset(dirs, options(), 'training');
  assert.deepEqual(again.training!.entries.slice(0, 2), ['cat/c3.wav', 'cat/c4.wav']);
  assert.deepEqual(again.warnings, []);
  // A missing entry regenerates (and picks the new file up).
  await fs.rm(path.join(dirs.datasetDir, 'cat/c4.wav'));
  const regen = await loadDataset(dirs, options(), 'training');
  assert.equal(regen.warnings.length, 1);
  assert.match(regen.warnings[0]!, /^File .*cat\/c4\.wav not found in existing index, re-generating index$/);
  assert.equal(
    await fs.readFile(path.join(dirs.datasetDir, '.index/cat.txt'), 'utf8'),
    'cat/c0.wav\ncat/c1.wav\ncat/c2.wav\ncat/c3.wav\n',
  );
});

test('index: blank lines in a reused index are ignored (Q-08 fix), CRLF and whitespace stripped', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  await fs.mkdir(path.join(dirs.datasetDir, '.index'));
  await fs.writeFile(path.join(dirs.datasetDir, '.index/cat.txt'), 'cat/c2.wav\r\n\r\n  cat/c1.wav \n\n');
  const r = await loadDataset(dirs, options({ validationSplit: 0 }), 'training');
  assert.deepEqual(r.training!.entries.slice(0, 2), ['cat/c2.wav', 'cat/c1.wav']);
  assert.equal(r.training!.classCounts.cat, 2);
  assert.deepEqual(parseIndex('a\n\n \nb'), ['a', 'b']);
});

test('index: index files are UTF-8 (Q-07 fix)', async (t) => {
  const dirs = await setup(t, ['cat/ünï😀.wav', ...DOGS]);
  await loadDataset(dirs, options({ validationSplit: 0 }), 'training');
  const bytes = await fs.readFile(path.join(dirs.datasetDir, '.index/cat.txt'));
  assert.deepEqual(bytes, Buffer.from('cat/ünï😀.wav\n', 'utf8'));
});

test('index: a read-only dataset dir sends the alphabetical index to the fallback dir', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  const place = await chooseIndexPlace(dirs.datasetDir, dirs.fallbackIndexDir, dirs.shuffleIndexDir, false, async () => false);
  assert.deepEqual(place, { location: 'fallback', dir: dirs.fallbackIndexDir });
  const shuffled = await chooseIndexPlace(dirs.datasetDir, dirs.fallbackIndexDir, dirs.shuffleIndexDir, true, async () => false);
  assert.deepEqual(shuffled, { location: 'shuffle_index_dir', dir: dirs.shuffleIndexDir });
});

// Runs as root too: a directory without write bits counts as read-only for everyone.
test('index: a real read-only dataset dir uses the fallback dir end to end', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  await fs.chmod(dirs.datasetDir, 0o555);
  let r;
  try {
    r = await loadDataset(dirs, options(), 'training');
  } finally {
    await fs.chmod(dirs.datasetDir, 0o755);
  }
  assert.equal(r.indexLocation, 'fallback');
  await assert.rejects(fs.access(path.join(dirs.datasetDir, '.index')));
  assert.equal(await fs.readFile(path.join(dirs.fallbackIndexDir, '.index/cat.txt'), 'utf8'), CATS.join('\n') + '\n');
});

test('index: shuffled index is the seeded permutation of the sorted list, recorded and reused', async (t) => {
  const files = Array.from({ length: 12 }, (_, i) => `cat/c${String(i).padStart(2, '0')}.wav`);
  const dirs = await setup(t, [...files, ...DOGS]);
  const r = await loadDataset(dirs, options({ shuffleDatasetEnabled: true, seed: 11 }), 'training');
  assert.equal(r.indexLocation, 'shuffle_index_dir');
  const want = [...files];
  new RandomState(11).shuffle(want);
  assert.equal(await fs.readFile(path.join(dirs.shuffleIndexDir, '.index/cat.txt'), 'utf8'), want.join('\n') + '\n');
  assert.deepEqual(r.validation!.entries.slice(0, 6), want.slice(0, 6));
  const record = await readSeedRecord(dirs.shuffleIndexDir);
  assert.equal(record?.seed, 11);
  assert.deepEqual(record?.classes.cat, { seed: 11, count: 12 });
  await fs.access(path.join(dirs.datasetDir, '.index')).then(
    () => assert.fail('the dataset dir must not get an index when shuffling'),
    () => undefined,
  );
  // Reused as is by a later load with another seed.
  const later = await loadDataset(dirs, options({ shuffleDatasetEnabled: true, seed: 99 }), 'evaluation');
  assert.deepEqual(later.validation!.entries.slice(0, 6), want.slice(0, 6));
});

test('index: without a seed the shuffled index gets a random seed that is recorded', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS]);
  await loadDataset(dirs, options({ shuffleDatasetEnabled: true }), 'training');
  const record = await readSeedRecord(dirs.shuffleIndexDir);
  assert.ok(record && Number.isInteger(record.seed));
  const want = [...CATS];
  new RandomState(record.seed).shuffle(want);
  assert.equal(await fs.readFile(path.join(dirs.shuffleIndexDir, '.index/cat.txt'), 'utf8'), want.join('\n') + '\n');
});

test('index: reindex regenerates stale indexes, including unknown candidates', async (t) => {
  const dirs = await setup(t, [...CATS, ...DOGS, 'bird/b1.wav']);
  const opts = options({ classes: ['cat', 'dog', '_unknown_'], validationSplit: 0 });
  await loadDataset(dirs, opts, 'training');
  await fs.writeFile(path.join(dirs.datasetDir, 'cat/c9.wav'), 'x');
  await fs.writeFile(path.join(dirs.datasetDir, 'bird/b0.wav'), 'x');
  await reindex(dirs, opts);
  assert.equal(await fs.readFile(path.join(dirs.datasetDir, '.index/cat.txt'), 'utf8'), [...CATS, 'cat/c9.wav'].join('\n') + '\n');
  assert.equal(await fs.readFile(path.join(dirs.datasetDir, '.index/bird.txt'), 'utf8'), 'bird/b0.wav\nbird/b1.wav\n');
});

test('index: speech-commands listing trusts a stale index and writes none for a missing class dir', async (t) => {
  const dirs = await setup(t, ['yes/a_nohash_0.wav', 'yes/a_nohash_1.wav', 'yes/b_nohash_0.wav', 'yes/c_nohash_0.wav', 'no/x_nohash_0.wav', 'no/y_nohash_0.wav']);
  await fs.mkdir(path.join(dirs.datasetDir, '.index'));
  await fs.writeFile(path.join(dirs.datasetDir, '.index/no.txt'), 'no/gone_nohash_0.wav\nno/y_nohash_0.wav\n');
  const opts = options({ classes: ['yes', 'no'], listing: 'speech_commands_v2', validationSplit: 0.5 });
  const r = await loadDataset(dirs, opts, 'training');
  // yes: ceil(0.5 × 4) = 2, a_nohash_1 and b share no speaker → b = 2; speaker "a" stays whole.
  assert.deepEqual(r.validation!.entries, ['yes/a_nohash_0.wav', 'yes/a_nohash_1.wav', 'no/gone_nohash_0.wav']);
  assert.deepEqual(r.training!.entries, ['yes/b_nohash_0.wav', 'yes/c_nohash_0.wav', 'no/y_nohash_0.wav']);
  await assert.rejects(loadDataset(dirs, { ...opts, classes: ['yes', 'maybe'] }, 'training'));
  await fs.access(path.join(dirs.datasetDir, '.index/maybe.txt')).then(
    () => assert.fail('no index for a missing class dir'),
    () => undefined,
  );
});

test('split: speech-commands grouping moves the split back to a speaker boundary', () => {
  const list = ['y/a_nohash_0.wav', 'y/b_nohash_0.wav', 'y/b_nohash_1.wav', 'y/b_nohash_2.wav', 'y/c_nohash_0.wav'];
  assert.equal(speechCommandsSplitPoint(list, 0.4), 1); // ceil(2) = 2 splits speaker b → back to 1
  assert.equal(speechCommandsSplitPoint(list, 0.2), 1);
  assert.equal(speechCommandsSplitPoint(list, 0.8), 4);
  assert.equal(speechCommandsSplitPoint(list, 1), 5); // Q-09 fix
  assert.equal(speechCommandsSplitPoint(list, 0), 0);
  assert.equal(speechCommandsSplitPoint(['y/b_nohash_0.wav', 'y/b_nohash_1.wav'], 0.5), 0);
});

test('index: existence check by directory listing agrees with per-entry stat (dangling links do not exist)', async (t) => {
  const dirs = await setup(t, [...CATS, 'cat/sub/s.wav']);
  await fs.symlink('nowhere.wav', path.join(dirs.datasetDir, 'cat/dangling.wav'));
  await fs.symlink('c1.wav', path.join(dirs.datasetDir, 'cat/link.wav'));
  const cases: [string[], string | null][] = [
    [[...CATS, 'cat/sub/s.wav', 'cat/link.wav'], null],
    [[...CATS, 'cat/dangling.wav', 'cat/c9.wav'], 'cat/dangling.wav'],
    [['cat/c1.wav', 'cat/./c2.wav', 'cat/sub/../c3.wav'], null],
    [['cat/c1.wav', 'nope/x.wav'], 'nope/x.wav'],
  ];
  for (const [entries, first] of cases) {
    assert.equal(await findFirstMissing(dirs.datasetDir, entries, 'listing'), first);
    assert.equal(await findFirstMissing(dirs.datasetDir, entries, 'stat'), first);
  }
});

test('epoch: batches per epoch and the index array with shuffle off (padding from the head, Q-13)', () => {
  assert.equal(batchesPerEpoch(5, 4), 2);
  assert.equal(batchesPerEpoch(16, 4), 4);
  assert.equal(batchesPerEpoch(7, -1), 1);
  assert.equal(batchesPerEpoch(0, 4), 0);
  assert.deepEqual(batchIndices(5, 4, { shuffle: false, epoch: 3 }).map((b) => Array.from(b)), [[0, 1, 2, 3], [4, 0, 1, 2]]);
  assert.deepEqual(batchIndices(3, -1, { shuffle: false, epoch: 0 }).map((b) => Array.from(b)), [[0, 1, 2]]);
});

test('epoch: shuffled epochs reseed with seed + e·L; null seed means 43', () => {
  const n = 10;
  const b = 4; // L = 3, w = 2
  for (const e of [0, 1, 5]) {
    const rng = new RandomState(7 + e * 3);
    const want = [...rng.permutation(n), ...rng.permutation(2)];
    assert.deepEqual(Array.from(epochIndexArray(n, b, true, 7, e)), want);
    assert.deepEqual(batchIndices(n, b, { shuffle: true, seed: 7, epoch: e }).flatMap((x) => Array.from(x)), want);
  }
  assert.deepEqual(batchIndices(n, b, { shuffle: true, seed: null, epoch: 2 }), batchIndices(n, b, { shuffle: true, seed: 43, epoch: 2 }));
});

test('epoch: steps_per_epoch slices the continuous stream of epochs', () => {
  const n = 10;
  const b = 4; // L = 3
  const stream = [0, 1, 2, 3].flatMap((e) => batchIndices(n, b, { shuffle: true, seed: 5, epoch: e }).map((x) => Array.from(x)));
  for (const s of [1, 2, 4, 5]) {
    for (let e = 0; e * s + s <= stream.length; e++) {
      const got = batchIndices(n, b, { shuffle: true, seed: 5, epoch: e, stepsPerEpoch: s }).map((x) => Array.from(x));
      assert.deepEqual(got, stream.slice(e * s, e * s + s), `steps ${s} epoch ${e}`);
    }
  }
});

test('labels: categorical one-hot, binary = sparse class ids (Q-15), input signalled, none → null', () => {
  const cat = buildLabels([0, 2, 1], 'categorical', 3, 'float32')!;
  assert.equal(cat.kind, 'labels');
  if (cat.kind !== 'labels') return;
  assert.deepEqual(cat.shape, [3, 3]);
  assert.ok(cat.data instanceof Float32Array);
  assert.deepEqual(Array.from(cat.data), [1, 0, 0, 0, 0, 1, 0, 1, 0]);
  for (const mode of ['binary', 'sparse'] as const) {
    const y = buildLabels([0, 3, 2], mode, 4, 'float32')!;
    assert.ok(y.kind === 'labels');
    if (y.kind !== 'labels') return;
    assert.deepEqual(y.shape, [3]);
    assert.deepEqual(Array.from(y.data), [0, 3, 2]);
  }
  const i8 = buildLabels([1, 0], 'categorical', 2, 'int8')!;
  assert.ok(i8.kind === 'labels' && i8.data instanceof Int8Array);
  assert.deepEqual(buildLabels([1], 'input', 2, 'int8'), { kind: 'input', dtype: 'int8' });
  assert.equal(buildLabels([1], null, 2, 'float32'), null);
  assert.throws(() => buildLabels([5], 'sparse', 2, 'float32'), RangeError);
});

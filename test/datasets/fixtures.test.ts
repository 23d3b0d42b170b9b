/**
 * Replays every run of every fixture in shared/testdata/datasets/ following its
 * README "Procedure" and compares against the outputs MLTK produced. Where a recorded
 * outcome is an MLTK bug that spec §16 says to fix (Q-09, Q-11, Q-12, Q-14, marked in
 * the run description), our fixed behaviour is asserted instead and the test name says so.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testdata } from '../helpers/paths.ts';
import { wavBytes } from '../helpers/wav.ts';
import { DatasetError } from '../../src/core/errors.ts';
import {
  assertClassMode,
  batchIndices,
  batchesPerEpoch,
  buildLabels,
  compareCodePoints,
  computeClassWeights,
  listSubset,
  loadDataset,
  readSeedRecord,
  sortByCodePoint,
  splitPoint,
  summarizeDataset,
  type ClassMode,
  type DatasetDirs,
  type DatasetOptions,
  type LoadKind,
  type LoadResult,
  type Subset,
} from '../../src/core/datasets/index.ts';
import { shuffledOrder } from '../../src/core/datasets/index-files.ts';

// ---------------------------------------------------------------------------------------
// Fixture model (see shared/testdata/datasets/README.md)

interface TreeEntry {
  path: string;
  type: 'wav' | 'file' | 'dir' | 'symlink';
  text?: string;
  target?: string;
  sample_rate?: number;
  channels?: number;
  samples?: number;
}
interface WavDefaults {
  sample_rate: number;
  channels: number;
  samples: number;
  freq?: number;
  amplitude?: number;
}
interface Settings {
  classes: string[];
  validation_split: number;
  unknown_class_percentage: number;
  silence_class_percentage: number;
  follow_links: boolean;
  shuffle_dataset_enabled: boolean;
  class_mode: ClassMode;
  batch_size: number;
  max_samples_per_class: number;
  class_weights: unknown;
  dtype: 'float32' | 'int8' | 'uint16' | 'int32';
}
interface ExpError {
  type: string;
  message?: string;
  note?: string;
}
interface ExpY {
  dtype: string;
  shape: number[];
  values?: unknown;
}
interface ExpSubset {
  filenames: (string | null)[];
  labels: number[];
  n_samples: number;
  batch_size: number;
  batches_per_epoch: number;
  class_counts: Record<string, number>;
  epoch_multiset?: [string | null, number][] | ExpError;
  batches?: { filenames: (string | null)[]; labels: number[]; y: ExpY | null }[] | ExpError;
  epochs?: { filenames: (string | null)[]; labels: number[] }[][];
}
interface ExpWeights {
  value: Record<string, number> | null;
  log: string | null;
  warning_logged: boolean;
}
interface Run {
  name: string;
  description: string;
  dataset_source: { kind: string; listing?: string };
  settings: Settings;
  preexisting_files?: { location: 'dataset' | 'shuffle_index_dir'; path: string; text: string }[];
  class_weight_variants?: unknown[];
  seeded_flow?: { seed: number; epochs: number };
  random_outputs?: boolean;
  expected: {
    training_load: {
      training?: ExpSubset;
      validation?: ExpSubset;
      summary?: string;
      class_weights?: ExpWeights;
      error?: ExpError;
    };
    training_subset_alone?: { error?: ExpError; training?: ExpSubset } & Partial<ExpSubset>;
    validation_load?: { validation?: ExpSubset; summary?: string; error?: ExpError };
    evaluation_load: { evaluation?: ExpSubset; summary?: string; error?: ExpError };
    index_files_after_training_load: Record<string, string>;
    index_files_after_evaluation_load: Record<string, string>;
    class_weight_variants?: ({ input: unknown; input_keys_are_ints: boolean } & ExpWeights)[];
    seeded_flow?: { seed: number; training: ExpSubset; validation: ExpSubset };
    audio_input_shape: number[];
  };
}
interface Fixture {
  id: string;
  tree?: TreeEntry[];
  tree_ref?: string;
  wav_defaults?: WavDefaults;
  runs: Run[];
}

const FIXTURE_DIR = testdata('datasets');

// ---------------------------------------------------------------------------------------
// Materialisation

/** A sine tone, the same in every channel, as 16-bit PCM WAV. */
function toneBytes(sampleRate: number, channels: number, frames: number, freq: number, amplitude: number): Buffer {
  const samples = new Int16Array(frames * channels);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / sampleRate));
    for (let c = 0; c < channels; c++) samples[i * channels + c] = v;
  }
  return wavBytes(samples, sampleRate, channels);
}

async function materialiseTree(dir: string, tree: TreeEntry[], defaults: WavDefaults): Promise<void> {
  for (const e of tree) {
    const p = path.join(dir, e.path);
    await fs.mkdir(path.dirname(p), { recursive: true });
    switch (e.type) {
      case 'wav':
        await fs.writeFile(
          p,
          toneBytes(
            e.sample_rate ?? defaults.sample_rate,
            e.channels ?? defaults.channels,
            e.samples ?? defaults.samples,
            defaults.freq ?? 440,
            defaults.amplitude ?? 8192,
          ),
        );
        break;
      case 'file':
        await fs.writeFile(p, e.text ?? '', 'utf8');
        break;
      case 'dir':
        await fs.mkdir(p, { recursive: true });
        break;
      case 'symlink':
        await fs.symlink(e.target!, p);
        break;
    }
  }
}

/** Copies a checked-in corpus, leaving out any `.index/`, with writable modes. */
async function copyCorpus(src: string, dst: string): Promise<void> {
  await fs.mkdir(dst, { recursive: true });
  for (const d of await fs.readdir(src, { withFileTypes: true })) {
    if (d.name === '.index') continue;
    const s = path.join(src, d.name);
    const t = path.join(dst, d.name);
    if (d.isDirectory()) await copyCorpus(s, t);
    else if (d.isSymbolicLink()) await fs.symlink(await fs.readlink(s), t);
    else {
      await fs.copyFile(s, t);
      await fs.chmod(t, 0o644);
    }
  }
}

async function copyDir(src: string, dst: string): Promise<void> {
  await fs.cp(src, dst, { recursive: true, verbatimSymlinks: true });
}

type Locations = Record<string, string>;

async function snapshotIndexes(locations: Locations): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [loc, dir] of Object.entries(locations)) {
    let names: string[];
    try {
      names = await fs.readdir(path.join(dir, '.index'));
    } catch {
      continue;
    }
    for (const n of names.filter((x) => x.endsWith('.txt')).sort()) {
      out[`${loc}:.index/${n}`] = await fs.readFile(path.join(dir, '.index', n), 'utf8');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Outcome helpers

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function capture<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

/** MLTK exception → our DatasetError code and message. */
function mapMltkError(e: ExpError, datasetDir: string): { code: string; message: string } {
  const message = e.message ?? '';
  if (message.startsWith('No samples found for class: ')) return { code: 'no-samples-for-class', message };
  if (message.startsWith("Failed to find 'unknown' classes in ")) {
    return { code: 'no-unknown-candidates', message: `Failed to find 'unknown' classes in ${datasetDir}` };
  }
  if (e.type === 'AssertionError' && message.includes('Shuffling the index is not supported')) {
    return { code: 'shuffle-not-supported', message };
  }
  if (message.startsWith('Invalid class_mode')) return { code: 'invalid-class-mode', message: '' };
  throw new Error(`fixture error without a mapping: ${JSON.stringify(e)}`);
}

function assertMappedError(outcome: Outcome<unknown>, e: ExpError, datasetDir: string): void {
  assert.equal(outcome.ok, false, `expected MLTK's ${e.type}: ${e.message}`);
  const err = (outcome as { error: unknown }).error;
  assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
  const want = mapMltkError(e, datasetDir);
  assert.equal(err.code, want.code);
  if (want.code === 'invalid-class-mode') assert.match(err.message, /^Invalid class_mode: /);
  else assert.equal(err.message, want.message);
}

function assertOk<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

function isError(v: unknown): v is ExpError {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as ExpError).type === 'string';
}

function sortKey(a: [string | null, number], b: [string | null, number]): number {
  return compareCodePoints(a[0] ?? '', b[0] ?? '') || a[1] - b[1];
}

function epochMultiset(s: Subset, batchSize: number): [string | null, number][] {
  const out: [string | null, number][] = [];
  for (const batch of batchIndices(s.entries.length, batchSize, { shuffle: false, epoch: 0 })) {
    for (const i of batch) out.push([s.entries[i]!, s.labels[i]!]);
  }
  return out.sort(sortKey);
}

/** Q-14 fix: the padding cycles through the list (`i mod n`). */
function cyclingMultiset(filenames: (string | null)[], labels: number[], batchSize: number): [string | null, number][] {
  const n = filenames.length;
  const total = batchesPerEpoch(n, batchSize) * batchSize;
  const out: [string | null, number][] = [];
  for (let i = 0; i < total; i++) out.push([filenames[i % n]!, labels[i % n]!]);
  return out.sort(sortKey);
}

function toNested(data: ArrayLike<number>, shape: number[]): unknown {
  if (shape.length === 1) return Array.from(data);
  const [rows, cols] = shape as [number, number];
  return Array.from({ length: rows }, (_, r) => Array.from(data).slice(r * cols, (r + 1) * cols));
}

function assertSubsetCore(actual: Subset, exp: ExpSubset, settings: Settings): void {
  assert.deepEqual(actual.entries, exp.filenames, 'filenames in order');
  assert.deepEqual(actual.labels, exp.labels, 'labels in order');
  assert.equal(actual.entries.length, exp.n_samples, 'n_samples');
  assert.equal(settings.batch_size, exp.batch_size, 'batch_size');
  assert.equal(batchesPerEpoch(actual.entries.length, settings.batch_size), exp.batches_per_epoch, 'batches_per_epoch');
  assert.deepEqual(Object.entries(actual.classCounts), Object.entries(exp.class_counts), 'class_counts with key order');
}

function assertEpochMultiset(actual: Subset, exp: ExpSubset, settings: Settings): void {
  if (isError(exp.epoch_multiset)) {
    // MLTK's batch thread dies (IndexError); we pad by cycling.
    assert.deepEqual(
      epochMultiset(actual, settings.batch_size),
      cyclingMultiset(exp.filenames, exp.labels, settings.batch_size),
    );
  } else {
    assert.deepEqual(epochMultiset(actual, settings.batch_size), exp.epoch_multiset);
  }
}

function assertEvaluationBatches(actual: Subset, exp: ExpSubset, settings: Settings, audioShape: number[]): void {
  const batches = batchIndices(actual.entries.length, settings.batch_size, { shuffle: false, epoch: 0 });
  const got = batches.map((idx) => {
    const labels = Array.from(idx, (i) => actual.labels[i]!);
    const y = buildLabels(labels, settings.class_mode, settings.classes.length, settings.dtype);
    let yOut: ExpY | null = null;
    if (y?.kind === 'labels') yOut = { dtype: y.dtype, shape: y.shape, values: toNested(y.data, y.shape) };
    else if (y?.kind === 'input') yOut = { dtype: y.dtype, shape: [labels.length, ...audioShape] };
    return { filenames: Array.from(idx, (i) => actual.entries[i]!), labels, y: yOut };
  });
  if (isError(exp.batches)) {
    // MLTK hangs; our batches pad by cycling through the list.
    const n = exp.filenames.length;
    const want = batches.map((_, bi) => {
      const pos = Array.from({ length: settings.batch_size }, (_, j) => (bi * settings.batch_size + j) % n);
      return { filenames: pos.map((i) => exp.filenames[i]!), labels: pos.map((i) => exp.labels[i]!) };
    });
    assert.deepEqual(
      got.map(({ filenames, labels }) => ({ filenames, labels })),
      want,
    );
    return;
  }
  assert.deepEqual(got, exp.batches);
}

function assertWeights(actual: ReturnType<typeof computeClassWeights>, exp: ExpWeights): void {
  assert.deepEqual(actual.value, exp.value, 'class weight values');
  assert.equal(actual.log, exp.log, 'class weights log');
  assert.equal(actual.warning !== null, exp.warning_logged, 'warning logged');
}

function fixesOf(run: Run): Set<string> {
  const fixes = new Set([...run.description.matchAll(/Q-(09|11|12|14)\b/g)].map((m) => `Q-${m[1]}`));
  if (run.settings.validation_split === 0) fixes.add('Q-12');
  return fixes;
}

// ---------------------------------------------------------------------------------------
// The replay

const fixtureFiles = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('fixtures are present', () => {
  assert.ok(fixtureFiles.length >= 6, `found ${fixtureFiles.length} fixture files`);
});

for (const file of fixtureFiles) {
  const fixture = JSON.parse(readFileSync(path.join(FIXTURE_DIR, file), 'utf8')) as Fixture;
  for (const run of fixture.runs) {
    const label = `${fixture.id}/${run.name}`;
    test(label, async (t) => {
      const root = await fs.mkdtemp(path.join(os.tmpdir(), 'audiofeed-ds-fixture-'));
      t.after(() => fs.rm(root, { recursive: true, force: true }));
      await replay(t, label, fixture, run, root);
    });
  }
}

async function replay(t: TestContext, label: string, fixture: Fixture, run: Run, root: string): Promise<void> {
  const s = run.settings;
  const exp = run.expected;
  const fixes = fixesOf(run);
  const datasetDir = path.join(root, 'dataset');
  const shuffleDir = path.join(root, 'log', 'dataset');
  const archiveDir = path.join(root, 'archive', 'dataset');
  const fallbackDir = path.join(root, 'fallback');
  await fs.mkdir(datasetDir, { recursive: true });
  if (fixture.tree) await materialiseTree(datasetDir, fixture.tree, fixture.wav_defaults!);
  else await copyCorpus(path.resolve(FIXTURE_DIR, fixture.tree_ref!), datasetDir);
  for (const pf of run.preexisting_files ?? []) {
    const base = pf.location === 'dataset' ? datasetDir : shuffleDir;
    await fs.mkdir(path.dirname(path.join(base, pf.path)), { recursive: true });
    await fs.writeFile(path.join(base, pf.path), pf.text, 'utf8');
  }

  const opts: DatasetOptions = {
    classes: s.classes,
    validationSplit: s.validation_split,
    unknownClassPercentage: s.unknown_class_percentage,
    silenceClassPercentage: s.silence_class_percentage,
    followLinks: s.follow_links,
    shuffleDatasetEnabled: s.shuffle_dataset_enabled,
    listing: run.dataset_source.listing === 'speech_commands_v2' ? 'speech_commands_v2' : 'generic',
    maxSamplesPerClass: s.max_samples_per_class,
    seed: null,
  };
  const trainDirs: DatasetDirs = { datasetDir, fallbackIndexDir: fallbackDir, shuffleIndexDir: shuffleDir };
  const load = (dirs: DatasetDirs, o: DatasetOptions, kind: LoadKind): Promise<LoadResult> => {
    assertClassMode(s.class_mode); // MLTK validates class_mode when the generator is built
    return loadDataset(dirs, o, kind);
  };

  // --- 2. training load ---
  const training = await capture(load(trainDirs, opts, 'training'));
  const tl = exp.training_load;
  // --- 3. training subset alone / validation-only load, when MLTK's training load failed ---
  const alone = exp.training_subset_alone ? await capture(listSubset(trainDirs, opts, 'training')) : null;
  const validationOnly = exp.validation_load ? await capture(load(trainDirs, opts, 'validation')) : null;
  // --- 4. snapshot ---
  const afterTraining = await snapshotIndexes({ dataset: datasetDir, shuffle_index_dir: shuffleDir, fallback: fallbackDir });
  // --- 5. evaluation load from an archived copy of the shuffle index dir ---
  await fs.mkdir(path.dirname(archiveDir), { recursive: true });
  try {
    await copyDir(shuffleDir, archiveDir);
  } catch {
    await fs.mkdir(archiveDir, { recursive: true });
  }
  const evalDirs: DatasetDirs = { ...trainDirs, shuffleIndexDir: archiveDir };
  const evaluation = await capture(load(evalDirs, opts, 'evaluation'));
  const afterEvaluation = await snapshotIndexes({
    dataset: datasetDir,
    archive_shuffle_index_dir: archiveDir,
    fallback: fallbackDir,
  });

  const random = run.random_outputs === true;

  if (fixes.has('Q-12')) {
    await t.test(`${label}: training load succeeds without a validation subset (Q-12 fix; MLTK: ${tl.error?.type})`, () => {
      const r = assertOk(training);
      assert.equal(r.validation, undefined);
      assert.equal(r.classCounts.validation, undefined);
      const want = exp.training_subset_alone?.training ?? (exp.training_subset_alone as ExpSubset | undefined);
      assert.ok(want && !isError(want), 'fixture records the training subset alone');
      assertSubsetCore(r.training!, want, s);
      assert.match(summarizeDataset(r, s.classes), /^Training dataset: Found \d+ samples/);
      assert.doesNotMatch(summarizeDataset(r, s.classes), /Validation dataset/);
    });
    await t.test(`${label}: validation and evaluation loads fail with no-validation-subset (Q-12 fix)`, () => {
      for (const o of [validationOnly, evaluation]) {
        if (!o) continue;
        assert.equal(o.ok, false);
        assert.ok((o as { error: unknown }).error instanceof DatasetError);
        assert.equal(((o as { error: DatasetError }).error).code, 'no-validation-subset');
      }
    });
  } else if (tl.error && (tl.error.type === 'ZeroDivisionError' || fixes.has('Q-11'))) {
    await t.test(`${label}: no unknown samples reports _unknown_ as empty (Q-11 fix; MLTK: ZeroDivisionError)`, () => {
      assert.equal(training.ok, false);
      const err = (training as { error: unknown }).error;
      assert.ok(err instanceof DatasetError);
      assert.equal(err.code, 'no-samples-for-class');
      assert.ok(err.message.split('\n').includes('No samples found for class: _unknown_'), err.message);
    });
  } else if (tl.error && (tl.error.type === 'IndexError' || fixes.has('Q-09'))) {
    await t.test(`${label}: split point at n keeps all in validation, no IndexError (Q-09 fix)`, () => {
      if (!training.ok) {
        const err = training.error;
        assert.ok(err instanceof DatasetError, String(err));
        assert.equal(err.code, 'no-samples-for-class');
        for (const line of err.message.split('\n')) assert.match(line, /^No samples found for class: /);
      }
    });
  } else if (tl.error) {
    await t.test(`${label}: training load fails like MLTK (${tl.error.type})`, () => {
      assertMappedError(training, tl.error!, datasetDir);
    });
  } else {
    const r = assertOk(training);
    await t.test(`${label}: training subset`, () => {
      if (random) assertRandomSubset(r.training!, tl.training!, afterTraining, s, 'training');
      else assertSubsetCore(r.training!, tl.training!, s);
      assertEpochMultiset(r.training!, random ? randomMultisetExp(r.training!, tl.training!) : tl.training!, s);
    });
    await t.test(`${label}: validation subset`, () => {
      if (random) assertRandomSubset(r.validation!, tl.validation!, afterTraining, s, 'validation');
      else assertSubsetCore(r.validation!, tl.validation!, s);
      assertEpochMultiset(r.validation!, random ? randomMultisetExp(r.validation!, tl.validation!) : tl.validation!, s);
    });
    await t.test(`${label}: training summary verbatim`, () => {
      assert.equal(summarizeDataset(r, s.classes), tl.summary);
    });
    await t.test(`${label}: class weights`, () => {
      assertWeights(computeClassWeights(s.class_weights, s.classes, r.classCounts.training!), tl.class_weights!);
    });
    if (exp.class_weight_variants) {
      await t.test(`${label}: class weight variants`, () => {
        for (const v of exp.class_weight_variants!) {
          const got = computeClassWeights(v.input, s.classes, r.classCounts.training!);
          assertWeights(got, v);
          assert.equal(got.inputKeysAreInts, v.input_keys_are_ints);
        }
      });
    }
  }

  if (alone && exp.training_subset_alone && !fixes.has('Q-12')) {
    const want = exp.training_subset_alone;
    await t.test(`${label}: training subset alone`, () => {
      if (want.error) {
        if (want.error.type === 'ZeroDivisionError' || want.error.type === 'IndexError') {
          if (!alone.ok) assert.ok(alone.error instanceof DatasetError);
        } else assertMappedError(alone, want.error, datasetDir);
      } else assertSubsetCore(assertOk(alone), want.training ?? (want as ExpSubset), s);
    });
  }
  if (validationOnly && exp.validation_load && !fixes.has('Q-12')) {
    const want = exp.validation_load;
    await t.test(`${label}: validation-only load`, () => {
      if (want.error) {
        if (want.error.type === 'ZeroDivisionError' || want.error.type === 'IndexError') {
          if (!validationOnly.ok) assert.ok(validationOnly.error instanceof DatasetError);
        } else assertMappedError(validationOnly, want.error, datasetDir);
      } else {
        const r = assertOk(validationOnly);
        assertSubsetCore(r.validation!, want.validation!, s);
        assert.equal(summarizeDataset(r, s.classes), want.summary);
      }
    });
  }

  await t.test(`${label}: index files after the training load`, async () => {
    if (random) await assertRandomIndexes(afterTraining, exp.index_files_after_training_load, shuffleDir);
    else assert.deepEqual(afterTraining, exp.index_files_after_training_load);
  });

  const el = exp.evaluation_load;
  if (!fixes.has('Q-12')) {
    await t.test(`${label}: evaluation load`, () => {
      if (el.error) {
        if (el.error.type === 'ZeroDivisionError' || el.error.type === 'IndexError') {
          if (!evaluation.ok) assert.ok(evaluation.error instanceof DatasetError);
          return;
        }
        assertMappedError(evaluation, el.error, datasetDir);
        return;
      }
      const r = assertOk(evaluation);
      assert.equal(r.training, undefined);
      const ev = el.evaluation!;
      if (random) {
        // The evaluation subset is the validation subset of the training run's (archived) index.
        const trainingValidation = assertOk(training).validation!;
        assert.deepEqual(r.validation!.entries, trainingValidation.entries);
        assert.deepEqual(r.validation!.labels, ev.labels);
        assert.deepEqual(Object.entries(r.validation!.classCounts), Object.entries(ev.class_counts));
        assertEvaluationBatches(r.validation!, { ...ev, batches: randomBatchesExp(r.validation!, ev) }, s, exp.audio_input_shape);
      } else {
        assertSubsetCore(r.validation!, ev, s);
        assertEvaluationBatches(r.validation!, ev, s, exp.audio_input_shape);
      }
      assert.equal(summarizeDataset(r, s.classes), el.summary);
    });
  }

  await t.test(`${label}: index files after the evaluation load`, async () => {
    if (random) await assertRandomIndexes(afterEvaluation, exp.index_files_after_evaluation_load, archiveDir);
    else assert.deepEqual(afterEvaluation, exp.index_files_after_evaluation_load);
  });

  if (run.seeded_flow && exp.seeded_flow) {
    const sf = exp.seeded_flow;
    await t.test(`${label}: seeded flow (seed ${sf.seed}) epochs`, async () => {
      const r = await load(trainDirs, { ...opts, seed: sf.seed }, 'training');
      for (const [subset, want] of [
        [r.training!, sf.training],
        [r.validation!, sf.validation],
      ] as const) {
        assertSubsetCore(subset, want, s);
        assert.equal(want.epochs!.length, run.seeded_flow!.epochs);
        want.epochs!.forEach((epochBatches, epoch) => {
          const got = batchIndices(subset.entries.length, s.batch_size, { shuffle: true, seed: sf.seed, epoch }).map((idx) => ({
            filenames: Array.from(idx, (i) => subset.entries[i]!),
            labels: Array.from(idx, (i) => subset.labels[i]!),
          }));
          assert.deepEqual(got, epochBatches, `${subset.name} epoch ${epoch}`);
        });
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// random_outputs comparison (README "Comparing")

function indexLines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Each of our shuffled index files is a permutation of the alphabetical list and is exactly the recorded seed's permutation. */
async function assertRandomIndexes(actual: Record<string, string>, expected: Record<string, string>, dir: string): Promise<void> {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  const record = await readSeedRecord(dir);
  assert.ok(record, 'shuffled index records its seed');
  for (const [key, text] of Object.entries(actual)) {
    const ours = indexLines(text);
    const alphabetical = sortByCodePoint(indexLines(expected[key]!));
    assert.deepEqual(sortByCodePoint([...ours]), alphabetical, `${key} is a permutation of the alphabetical index`);
    const cls = key.slice(key.lastIndexOf('/') + 1, -'.txt'.length);
    assert.deepEqual(ours, shuffledOrder(alphabetical, record.classes[cls]!.seed), `${key} is the seeded permutation`);
  }
}

/** Known-class blocks must be the §5 head/tail slices of our own index. */
function assertRandomSubset(
  actual: Subset,
  exp: ExpSubset,
  snapshot: Record<string, string>,
  s: Settings,
  name: 'training' | 'validation',
): void {
  assert.deepEqual(actual.labels, exp.labels);
  assert.equal(batchesPerEpoch(actual.entries.length, s.batch_size), exp.batches_per_epoch);
  assert.deepEqual(Object.entries(actual.classCounts), Object.entries(exp.class_counts));
  let offset = 0;
  for (const cls of s.classes) {
    const count = actual.classCounts[cls]!;
    const block = actual.entries.slice(offset, offset + count);
    offset += count;
    const key = Object.keys(snapshot).find((k) => k.endsWith(`:.index/${cls}.txt`));
    if (!key) continue; // pseudo-classes have no index file
    const lines = indexLines(snapshot[key]!);
    const k = splitPoint(s.validation_split, lines.length);
    assert.deepEqual(block, name === 'validation' ? lines.slice(0, k) : lines.slice(k), `${name} slice of ${cls}`);
  }
}

/** Our epoch multiset for a random run is derived from our subset with the spec's padding rule. */
function randomMultisetExp(actual: Subset, exp: ExpSubset): ExpSubset {
  const n = actual.entries.length;
  const b = exp.batch_size;
  const w = batchesPerEpoch(n, b) * b - n;
  const pairs: [string | null, number][] = actual.entries.map((e, i) => [e, actual.labels[i]!]);
  for (let i = 0; i < w; i++) pairs.push([actual.entries[i % n]!, actual.labels[i % n]!]);
  assert.equal(pairs.length, (exp.epoch_multiset as unknown[]).length);
  return { ...exp, epoch_multiset: pairs.sort(sortKey) };
}

/** Labels and y are deterministic in a random run; filenames follow our own subset order. */
function randomBatchesExp(actual: Subset, exp: ExpSubset): ExpSubset['batches'] {
  const batches = exp.batches as Exclude<ExpSubset['batches'], ExpError | undefined>;
  const n = actual.entries.length;
  return batches.map((b, bi) => ({
    ...b,
    filenames: b.filenames.map((_, j) => actual.entries[(bi * exp.batch_size + j) % n]!),
  }));
}

/**
 * Issue #21 item 6: names are data, never object keys. Class directories named like
 * Object.prototype's members (`__proto__`, `constructor`, `toString`, `hasOwnProperty`)
 * are counted, summarized and weighted like any other name: the registration, the
 * class counts of every subset, the summary text and balanced class weights.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, registerDataset, type TestApp } from '../helpers/app.ts';
import { makeTree, toneWav } from '../helpers/wav.ts';
import { datasetDirs, datasetOptions } from '../helpers/datasets.ts';
import { computeClassWeights } from '../../src/core/datasets/class-weights.ts';
import { loadDataset } from '../../src/core/datasets/index.ts';

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
// Training / validation counts with validation_split 0.25: 8 → 6/2, 4 → 3/1 (ceil of 0.25 × n to validation).
const FILES = new Map([
  ['__proto__', 8],
  ['constructor', 4],
  ['toString', 8],
  ['hasOwnProperty', 4],
]);

describe('class directories named like Object.prototype members', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    const files: Record<string, Buffer> = {};
    for (const name of NAMES) {
      for (let i = 0; i < FILES.get(name)!; i++) files[`protos/${name}/c${i}.wav`] = toneWav(1600, 300 + 50 * i);
    }
    for (let i = 0; i < 4; i++) files[`protos/other/o${i}.wav`] = toneWav(1600, 3000 + 50 * i);
    makeTree(t.root, files);
  });
  after(async () => {
    await t.close();
  });

  test('registration: class counts, summary and balanced weights name every class', async () => {
    const d = (await registerDataset(t, {
      name: 'protos',
      source: { type: 'directory', path: 'protos' },
      classes: [...NAMES, '_unknown_'],
      validation_split: 0.25,
      class_weights: 'balanced',
    })) as Record<string, any>;
    // Entries, not object literals: `{ __proto__: 6 }` would set a prototype.
    const asEntries = (o: Record<string, number>) => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
    const sorted = (e: (readonly [string, number])[]) => e.map(([a, b]) => [a, b]).sort(([a], [b]) => (a! < b! ? -1 : 1));
    const trainingEntries = [...NAMES.map((c) => [c, FILES.get(c)! - Math.ceil(FILES.get(c)! * 0.25)] as const), ['_unknown_', 3] as const];
    const validationEntries = [...NAMES.map((c) => [c, Math.ceil(FILES.get(c)! * 0.25)] as const), ['_unknown_', 1] as const];
    assert.deepEqual(asEntries(d.class_counts.training), sorted(trainingEntries));
    assert.deepEqual(asEntries(d.class_counts.validation), sorted(validationEntries));

    // GET answers the same (the record as stored in Redis and parsed back).
    const got = (await t.app.inject({ url: '/v1/datasets/protos' })).json();
    assert.deepEqual(asEntries(got.class_counts.training), sorted(trainingEntries));
    const counts = (await t.app.inject({ url: '/v1/datasets/protos/class-counts' })).json();
    assert.deepEqual(asEntries(counts.training), sorted(trainingEntries));
    assert.deepEqual(asEntries(counts.validation), sorted(validationEntries));

    // MLTK's summary right-justifies names to 10 characters (longer ones as they are).
    const text = (await t.app.inject({ url: '/v1/datasets/protos/summary' })).body;
    assert.equal(
      text,
      [
        'Training dataset: Found 21 samples belonging to 5 classes:',
        ' __proto__ = 6',
        'constructor = 3',
        '  toString = 6',
        'hasOwnProperty = 3',
        ' _unknown_ = 3',
        'Validation dataset: Found 7 samples belonging to 5 classes:',
        ' __proto__ = 2',
        'constructor = 1',
        '  toString = 2',
        'hasOwnProperty = 1',
        ' _unknown_ = 1',
      ].join('\n'),
    );

    const w = (await t.app.inject({ url: '/v1/datasets/protos/class-weights' })).json();
    assert.equal(w.warning, null, JSON.stringify(w));
    // N = 21, K = 5: 21 / (5 × count)
    assert.deepEqual(w.value, { '0': 0.7, '1': 1.4, '2': 0.7, '3': 1.4, '4': 1.4 });
    assert.match(w.log, /^Class weights:\n {5}__proto__ = 0\.70\n {3}constructor = 1\.40\n/);

    // A batch with class weights streams them (the weights table is keyed by class id).
    const head = await t.app.inject({ method: 'HEAD', url: '/v1/datasets/protos/batches?class_weight=true' });
    assert.equal(head.statusCode, 200, head.body);
  });

  test('an evaluation load (the validation files) counts them too', async () => {
    const ld = await t.app.inject({ method: 'POST', url: '/v1/datasets/protos/load', payload: { subset: 'evaluation' } });
    assert.equal(ld.statusCode, 200, ld.body);
    const counts = (await t.app.inject({ url: '/v1/datasets/protos/class-counts' })).json();
    const subsets = Object.keys(counts);
    assert.ok(subsets.length > 0, JSON.stringify(counts));
    for (const subset of subsets) {
      assert.deepEqual(
        Object.entries(counts[subset]).sort(([a], [b]) => (a < b ? -1 : 1)),
        [...NAMES.map((c) => [c, Math.ceil(FILES.get(c)! * 0.25)]), ['_unknown_', 1]].sort(([a], [b]) => (a! < b! ? -1 : 1)),
        subset,
      );
    }
    const summary = (await t.app.inject({ url: '/v1/datasets/protos/summary' })).body;
    assert.match(summary, /^Evaluation dataset: Found 7 samples belonging to 5 classes:\n __proto__ = 2\nconstructor = 1\n/);
  });
});

test('computeClassWeights: explicit weights by name for prototype-member class names', () => {
  const counts = Object.create(null) as Record<string, number>;
  for (const c of NAMES) counts[c] = 2;
  const byName = JSON.parse('{"__proto__": 1, "constructor": 2, "toString": 3, "hasOwnProperty": 4}');
  const r = computeClassWeights(byName, NAMES, counts);
  assert.deepEqual(r.value, { '0': 1, '1': 2, '2': 3, '3': 4 });
  // A class missing from the dict is "not found", even when its name is inherited by plain objects.
  const missing = computeClassWeights(JSON.parse('{"__proto__": 1, "toString": 3, "hasOwnProperty": 4}'), NAMES, counts);
  assert.equal(missing.value, null);
  assert.equal(missing.reason?.code, 'class-not-found');
  assert.match(missing.reason!.message, /constructor/);
  // Balanced over counts that lack a class: not found (not Object.prototype's function).
  const partial = Object.create(null) as Record<string, number>;
  partial.__proto__ = 2;
  assert.equal(computeClassWeights('balanced', ['__proto__', 'toString'], partial).reason?.code, 'class-not-found');
});

test('loadDataset counts prototype-member class names in its own keys', async (t) => {
  const files = NAMES.flatMap((c) => [0, 1, 2, 3].map((i) => `${c}/f${i}.wav`));
  const dirs = await datasetDirs(t, files);
  const r = await loadDataset(dirs, datasetOptions({ classes: NAMES, validationSplit: 0.5 }), 'training');
  for (const c of NAMES) {
    assert.ok(Object.prototype.hasOwnProperty.call(r.classCounts.training, c), c);
    assert.equal(r.classCounts.training![c], 2, c);
  }
});

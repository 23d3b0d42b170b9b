import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLASS_WEIGHTS_WARNING, computeClassWeights, formatClassWeightsLog } from '../../src/core/datasets/class-weights.ts';
import { formatFixed2, pyFloatRepr, rjust } from '../../src/core/datasets/py-format.ts';
import { summarizeDataset, summaryJson } from '../../src/core/datasets/summary.ts';
import type { LoadResult } from '../../src/core/datasets/types.ts';

test('weights: two-decimal formatting rounds exact ties half-to-even like Python', () => {
  assert.equal(formatFixed2(0.125), '0.12');
  assert.equal(formatFixed2(0.875), '0.88');
  assert.equal(formatFixed2(0.375), '0.38');
  assert.equal(formatFixed2(0.625), '0.62');
  assert.equal(formatFixed2(2.125), '2.12');
  assert.equal(formatFixed2(-0.125), '-0.12');
  assert.equal((0.125).toFixed(2), '0.13'); // why the helper exists
  // Not ties: the exact binary value decides.
  assert.equal(formatFixed2(1.005), '1.00');
  assert.equal(formatFixed2(0.7777777777777778), '0.78');
  assert.equal(formatFixed2(1.3333333333333333), '1.33');
  assert.equal(formatFixed2(3.5), '3.50');
  assert.equal(formatFixed2(-0), '-0.00');
  assert.equal(formatFixed2(Infinity), 'inf');
});

test('weights: Python float repr', () => {
  assert.equal(pyFloatRepr(0.1), '0.1');
  assert.equal(pyFloatRepr(1), '1.0');
  assert.equal(pyFloatRepr(1.3333333333333333), '1.3333333333333333');
  assert.equal(pyFloatRepr(1e16), '1e+16');
  assert.equal(pyFloatRepr(1.5e16), '1.5e+16');
  assert.equal(pyFloatRepr(123456789012345.6), '123456789012345.6');
  assert.equal(pyFloatRepr(0.0001), '0.0001');
  assert.equal(pyFloatRepr(0.00001), '1e-05');
  assert.equal(pyFloatRepr(-2.5e-7), '-2.5e-07');
});

test('weights: balanced, the spec §11 example (counts 7, 6, 5, 3)', () => {
  const classes = ['on', 'off', '_unknown_', '_silence_'];
  const r = computeClassWeights('Balanced', classes, { on: 7, off: 6, _unknown_: 5, _silence_: 3 });
  assert.deepEqual(r.value, { 0: 0.75, 1: 0.875, 2: 1.05, 3: 1.75 });
  assert.equal(r.log, 'Class weights:\n       on = 0.75\n      off = 0.88\n_unknown_ = 1.05\n_silence_ = 1.75');
  assert.equal(r.warning, null);
  assert.equal(r.reason, null);
  assert.deepEqual(computeClassWeights('balance', classes, { on: 7, off: 6, _unknown_: 5, _silence_: 3 }).value, r.value);
});

test('weights: none / empty mean no weights without a warning', () => {
  for (const spec of [null, undefined, 'none', 'NONE', '', {}, []]) {
    assert.deepEqual(computeClassWeights(spec, ['a'], { a: 1 }), {
      value: null,
      log: null,
      warning: null,
      inputKeysAreInts: false,
      reason: null,
    });
  }
});

test('weights: int-keyed dict is used as is; missing ids fall back to the dict repr', () => {
  const r = computeClassWeights({ 0: 0.1, 1: 0.2 }, ['a', 'b', 'c'], { a: 1, b: 1, c: 1 });
  assert.deepEqual(r.value, { 0: 0.1, 1: 0.2 });
  assert.equal(r.inputKeysAreInts, true);
  assert.equal(r.log, 'Class weights: {0: 0.1, 1: 0.2}');
  const full = computeClassWeights({ 0: 1, 1: 2.5 }, ['a', 'b'], { a: 1, b: 1 });
  assert.equal(full.log, 'Class weights:\na = 1.00\nb = 2.50');
});

test('weights: a short list is truncated and logged as a repr', () => {
  const r = computeClassWeights([1, 2], ['a', 'b', 'c'], { a: 1, b: 1, c: 1 });
  assert.deepEqual(r.value, { 0: 1, 1: 2 });
  assert.equal(r.log, 'Class weights: {0: 1.0, 1: 2.0}');
  assert.deepEqual(computeClassWeights([1, 2, 3, 4], ['a', 'b'], { a: 1, b: 1 }).value, { 0: 1, 1: 2 });
});

test('weights: failures give no weights, MLTK\'s warning and the reason (Q-22)', () => {
  const cases: [unknown, Record<string, number>, string][] = [
    ['uniform', { a: 1, b: 1 }, 'invalid-class-weights'],
    [{ a: 1 }, { a: 1, b: 1 }, 'class-not-found'],
    ['balanced', { a: 0, b: 0 }, 'no-training-samples'],
    ['balanced', { a: 0, b: 3 }, 'zero-class-count'],
    [{ a: 'x', b: 1 }, { a: 1, b: 1 }, 'invalid-class-weights'],
    [7, { a: 1, b: 1 }, 'invalid-class-weights'],
  ];
  for (const [spec, counts, code] of cases) {
    const r = computeClassWeights(spec, ['a', 'b'], counts);
    assert.equal(r.value, null);
    assert.equal(r.log, null);
    assert.equal(r.warning, CLASS_WEIGHTS_WARNING);
    assert.equal(r.reason?.code, code, JSON.stringify(spec));
  }
  assert.equal(
    computeClassWeights('uniform', ['a'], { a: 1 }).reason?.message,
    'Invalid my_model.class_weights argument given: uniform',
  );
});

test('weights: log names are right-justified by code points', () => {
  assert.equal(formatClassWeightsLog([[0, 1], [1, 0.5]], ['ünï', 'b']), 'Class weights:\nünï = 1.00\n  b = 0.50');
});

function result(kind: LoadResult['kind'], training?: Record<string, number>, validation?: Record<string, number>): LoadResult {
  return { kind, classCounts: { training, validation }, indexLocation: 'dataset', indexFiles: [], warnings: [] };
}

test('summary: spec §12 training and evaluation text verbatim', () => {
  const classes = ['on', 'off', '_unknown_', '_silence_'];
  const train = { on: 7, off: 6, _unknown_: 5, _silence_: 3 };
  const val = { on: 3, off: 2, _unknown_: 2, _silence_: 1 };
  assert.equal(
    summarizeDataset(result('training', train, val), classes),
    'Training dataset: Found 21 samples belonging to 4 classes:\n        on = 7\n       off = 6\n _unknown_ = 5\n _silence_ = 3\n' +
      'Validation dataset: Found 8 samples belonging to 4 classes:\n        on = 3\n       off = 2\n _unknown_ = 2\n _silence_ = 1',
  );
  assert.equal(
    summarizeDataset(result('evaluation', undefined, val), classes),
    'Evaluation dataset: Found 8 samples belonging to 4 classes:\n        on = 3\n       off = 2\n _unknown_ = 2\n _silence_ = 1',
  );
  assert.equal(
    summarizeDataset(result('validation', undefined, val), classes).split('\n')[0],
    'Validation dataset: Found 8 samples belonging to 4 classes:',
  );
});

test('summary: width 10, never truncated, code points for non-ASCII names', () => {
  const classes = ['alpha_class_long_name', 'b', 'ünïcode'];
  const text = summarizeDataset(result('training', { alpha_class_long_name: 5, b: 10, ünïcode: 3 }), classes);
  assert.equal(
    text,
    'Training dataset: Found 18 samples belonging to 3 classes:\nalpha_class_long_name = 5\n         b = 10\n   ünïcode = 3',
  );
  assert.equal(rjust('ünïcode', 10), '   ünïcode');
});

test('summary: nothing loaded, empty sections omitted, JSON form', () => {
  assert.equal(summarizeDataset(null, ['a']), 'No dataset loaded');
  assert.equal(summarizeDataset(result('training', { a: 2 }, undefined), ['a']), 'Training dataset: Found 2 samples belonging to 1 classes:\n         a = 2');
  const json = summaryJson(result('training', { '1': 2, b: 3 }, undefined), ['b', '1']);
  assert.deepEqual(json.sections, [{ name: 'Training', total: 5, numClasses: 2, counts: [['b', 3], ['1', 2]] }]);
  assert.equal(json.loaded, true);
  assert.deepEqual(summaryJson(null, ['a']), { loaded: false, kind: null, sections: [], text: 'No dataset loaded' });
});

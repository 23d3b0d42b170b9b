/**
 * The dashboard's hash routes (web/src/router.ts): every view's address parses back to the
 * same view, ids and class names with reserved characters survive the round trip, and
 * addresses that name no view say so instead of falling back silently.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SECTIONS, datasetHash, parseRoute, routeHash, type Route } from '../../web/src/router.ts';

test('home: no hash, "#", "#/" and "#/datasets"', () => {
  for (const hash of ['', '#', '#/', '#/datasets', '#/datasets/']) assert.deepEqual(parseRoute(hash), { kind: 'home' }, hash);
  assert.equal(routeHash({ kind: 'home' }), '#/');
});

test('every section of a dataset round-trips; the overview is the dataset address itself', () => {
  for (const section of SECTIONS) {
    const hash = datasetHash('corpus-mini', section);
    assert.equal(hash, section === 'overview' ? '#/datasets/corpus-mini' : `#/datasets/corpus-mini/${section}`);
    const filter = section === 'augmentation' ? { subset: null, cls: null, position: null } : { subset: null, cls: null };
    assert.deepEqual(parseRoute(hash), { kind: 'dataset', id: 'corpus-mini', section, filter });
  }
  assert.deepEqual(parseRoute('#/datasets/corpus-mini/overview'), parseRoute('#/datasets/corpus-mini'));
  assert.deepEqual(parseRoute('#/datasets/corpus-mini/samples/'), parseRoute('#/datasets/corpus-mini/samples'));
});

test('the samples filter: subset and class in the query, encoded', () => {
  const route: Route = { kind: 'dataset', id: 'a.b_c-1', section: 'samples', filter: { subset: 'validation', cls: 'on/off & more?#' } };
  const hash = routeHash(route);
  assert.equal(hash, '#/datasets/a.b_c-1/samples?subset=validation&class=on%2Foff+%26+more%3F%23');
  assert.deepEqual(parseRoute(hash), route);
  assert.equal(datasetHash('x', 'samples', { subset: null, cls: '_unknown_' }), '#/datasets/x/samples?class=_unknown_');
  // Other sections carry no filter.
  assert.deepEqual(parseRoute('#/datasets/x/summary?class=yes'), { kind: 'dataset', id: 'x', section: 'summary', filter: { subset: null, cls: null } });
  assert.deepEqual(parseRoute('#/datasets/x/samples?class='), { kind: 'dataset', id: 'x', section: 'samples', filter: { subset: null, cls: null } });
});

test('the augmentation clip: subset and position in the query; no class; a position that is no number is none', () => {
  const route: Route = { kind: 'dataset', id: 'kws', section: 'augmentation', filter: { subset: 'validation', cls: null, position: 12 } };
  const hash = routeHash(route);
  assert.equal(hash, '#/datasets/kws/augmentation?subset=validation&n=12');
  assert.deepEqual(parseRoute(hash), route);
  assert.equal(datasetHash('kws', 'augmentation', { subset: null, cls: 'yes', position: 0 }), '#/datasets/kws/augmentation?n=0');
  for (const n of ['-1', '1.5', 'x', '']) {
    assert.deepEqual(parseRoute(`#/datasets/kws/augmentation?n=${n}`), { kind: 'dataset', id: 'kws', section: 'augmentation', filter: { subset: null, cls: null, position: null } }, n);
  }
  // The samples section carries no position.
  assert.deepEqual(parseRoute('#/datasets/kws/samples?n=3'), { kind: 'dataset', id: 'kws', section: 'samples', filter: { subset: null, cls: null } });
});

test('ids with reserved characters survive', () => {
  for (const id of ['with space', 'slash/inside', 'ünï', '50%']) {
    const hash = datasetHash(id, 'featurization');
    assert.ok(!hash.slice(2).includes(' ') && hash.split('/').length === 4, hash);
    assert.deepEqual(parseRoute(hash), { kind: 'dataset', id, section: 'featurization', filter: { subset: null, cls: null } });
  }
});

test('addresses that name no view: unknown pages and sections, broken escapes; in-page anchors are no route', () => {
  for (const hash of ['#/nowhere', '#/datasets/x/jobs', '#/datasets/x/samples/3', '#/datasets/%E0%A4%A']) {
    assert.equal(parseRoute(hash)?.kind, 'not-found', hash);
  }
  assert.equal(parseRoute('#main'), null);
});

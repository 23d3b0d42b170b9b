/**
 * The registry over HTTP: registration from a directory, metadata endpoints, index
 * download, unload/load/delete, persistence across app instances, and every kind of bad
 * input answered with the right status and a problem+json body.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { list as tarList } from 'tar';
import { Readable } from 'node:stream';
import { startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { makeTree, smallCorpus, toneWav } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';

let t: TestApp;

before(async () => {
  t = await startTestApp();
  smallCorpus(path.join(t.root, 'small'));
});
after(async () => t?.close());

const register = (body: object) =>
  t.app.inject({ method: 'POST', url: '/v1/datasets', payload: body as Record<string, unknown> });

function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, type: string): any {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.type, `https://audiofeed.dev/problems/${type}`);
  assert.equal(body.status, status);
  assert.ok(typeof body.detail === 'string' && body.detail.length > 0);
  return body;
}

describe('registration from a directory', () => {
  test('answers the mixin properties, MLTK counts and summary', async () => {
    const res = await register({
      name: 'small',
      source: { type: 'directory', path: 'small' },
      classes: ['yes', 'no', '_unknown_', '_silence_'],
      validation_split: 0.2,
      class_weights: 'balanced',
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, '/v1/datasets/small');
    const d = res.json();
    assert.deepEqual(d.audio_classes, ['yes', 'no', '_unknown_', '_silence_']);
    assert.deepEqual(d.audio_input_shape, [98, 32, 1]);
    assert.equal(d.sample_rate_hz, 16000);
    assert.equal(d.sample_length_ms, 1000);
    assert.equal(d.class_mode, 'categorical');
    assert.equal(d.loaded_subset, 'training');
    // yes: 6 → val ceil(1.2)=2; no: 5 → val 1; avg = floor((4+4)/2) = 4; unknown U=4 from maybe (3 → val 1, train 2);
    // silence S = floor(4*0.6) = 2.
    assert.deepEqual(d.class_counts.training, { yes: 4, no: 4, _unknown_: 2, _silence_: 2 });
    assert.deepEqual(d.class_counts.validation, { yes: 2, no: 1, _unknown_: 1, _silence_: 1 });
    assert.equal(d.index.location, 'dataset');
  });

  test('summary is MLTK text by default and JSON on request', async () => {
    const text = await t.app.inject({ url: '/v1/datasets/small/summary' });
    assert.match(String(text.headers['content-type']), /^text\/plain/);
    assert.equal(
      text.body,
      [
        'Training dataset: Found 12 samples belonging to 4 classes:',
        '       yes = 4',
        '        no = 4',
        ' _unknown_ = 2',
        ' _silence_ = 2',
        'Validation dataset: Found 5 samples belonging to 4 classes:',
        '       yes = 2',
        '        no = 1',
        ' _unknown_ = 1',
        ' _silence_ = 1',
      ].join('\n'),
    );
    const json = await t.app.inject({ url: '/v1/datasets/small/summary', headers: { accept: 'application/json' } });
    assert.equal(json.json().text, text.body);
  });

  test('class weights are balanced over the training counts', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/small/class-weights' });
    const w = res.json();
    // N = 12, K = 4: 12 / (4 × count)
    assert.deepEqual(w.value, { '0': 0.75, '1': 0.75, '2': 1.5, '3': 1.5 });
    assert.equal(w.log, 'Class weights:\n      yes = 0.75\n       no = 0.75\n_unknown_ = 1.50\n_silence_ = 1.50');
  });

  test('class counts and samples list the subsets in MLTK order', async () => {
    const counts = (await t.app.inject({ url: '/v1/datasets/small/class-counts' })).json();
    assert.deepEqual(Object.keys(counts), ['training', 'validation']);
    const samples = (await t.app.inject({ url: '/v1/datasets/small/samples?subset=validation' })).json();
    assert.equal(samples.total, 5);
    assert.deepEqual(
      samples.items.map((i: { entry: string | null }) => i.entry),
      ['yes/y0.wav', 'yes/y1.wav', 'no/n0.wav', 'maybe/m0.wav', null],
    );
    assert.deepEqual(samples.items.map((i: { class: string }) => i.class), ['yes', 'yes', 'no', '_unknown_', '_silence_']);
  });

  test('the index downloads as a tar of .index/<class>.txt and as JSON', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/small/index' });
    assert.equal(res.headers['content-type'], 'application/x-tar');
    const names: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const parser = tarList({ onReadEntry: (e) => names.push(e.path) });
      parser.on('end', resolve);
      parser.on('error', reject);
      Readable.from([res.rawPayload]).pipe(parser as unknown as NodeJS.WritableStream);
    });
    assert.deepEqual(names.sort(), ['.index/maybe.txt', '.index/no.txt', '.index/yes.txt']);
    const json = (await t.app.inject({ url: '/v1/datasets/small/index', headers: { accept: 'application/json' } })).json();
    assert.equal(json.files['yes.txt'], 'yes/y0.wav\nyes/y1.wav\nyes/y2.wav\nyes/y3.wav\nyes/y4.wav\nyes/y5.wav\n');
  });

  test('a second app on the same Redis sees the dataset (registry survives a restart)', async () => {
    const other = await startTestApp({}, { config: t.config });
    try {
      const res = await other.app.inject({ url: '/v1/datasets' });
      assert.ok(res.json().datasets.some((d: { id: string }) => d.id === 'small'));
    } finally {
      await other.close();
    }
  });

  test('unload forgets the load, load brings it back', async () => {
    const un = (await t.app.inject({ method: 'POST', url: '/v1/datasets/small/unload' })).json();
    assert.equal(un.status, 'unloaded');
    assert.equal((await t.app.inject({ url: '/v1/datasets/small/summary' })).body, 'No dataset loaded');
    const ld = await t.app.inject({ method: 'POST', url: '/v1/datasets/small/load', payload: { subset: 'evaluation' } });
    assert.equal(ld.statusCode, 200, ld.body);
    const summary = (await t.app.inject({ url: '/v1/datasets/small/summary' })).body;
    assert.match(summary, /^Evaluation dataset: Found 5 samples belonging to 4 classes:/);
  });

  test('a read-only dataset directory gets its index in the artifact directory', async () => {
    const dir = path.join(t.root, 'readonly');
    smallCorpus(dir);
    fs.chmodSync(dir, 0o555);
    try {
      const res = await register({ name: 'ro', source: { type: 'directory', path: dir }, classes: ['yes', 'no'], validation_split: 0.2 });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().index.location, 'fallback');
      assert.equal(fs.existsSync(path.join(dir, '.index')), false);
    } finally {
      fs.chmodSync(dir, 0o755);
    }
  });

  test('delete removes the record', async () => {
    const del = await t.app.inject({ method: 'DELETE', url: '/v1/datasets/ro' });
    assert.equal(del.statusCode, 204);
    assertProblem(await t.app.inject({ url: '/v1/datasets/ro' }), 404, 'dataset-not-found');
  });
});

describe('bad input is refused with problem+json', () => {
  const base = { classes: ['yes', 'no'], validation_split: 0.2 };

  test('nonexistent path → 422', async () => {
    assertProblem(await register({ ...base, source: { type: 'directory', path: 'nope' } }), 422, 'directory-not-found');
  });
  test('path outside every root → 403', async () => {
    assertProblem(await register({ ...base, source: { type: 'directory', path: '/etc' } }), 403, 'path-not-allowed');
  });
  test('.. traversal out of a root → 403', async () => {
    assertProblem(await register({ ...base, source: { type: 'directory', path: '../../..' } }), 403, 'path-not-allowed');
  });
  test('a file instead of a directory → 422', async () => {
    makeTree(t.root, { 'afile.wav': toneWav() });
    assertProblem(await register({ ...base, source: { type: 'directory', path: 'afile.wav' } }), 422, 'not-a-directory');
  });
  test('empty directory → 422', async () => {
    fs.mkdirSync(path.join(t.root, 'empty'));
    assertProblem(await register({ ...base, source: { type: 'directory', path: 'empty' } }), 422, 'empty-directory');
  });
  test('no class directories → 422', async () => {
    makeTree(t.root, { 'flat/a.wav': toneWav(), 'flat/b.wav': toneWav() });
    assertProblem(await register({ ...base, source: { type: 'directory', path: 'flat' } }), 422, 'no-class-directories');
  });
  test('requested class absent → 422 with MLTK message and the missing directory named', async () => {
    const body = assertProblem(await register({ classes: ['yes', 'cat'], source: { type: 'directory', path: 'small' } }), 422, 'no-samples-for-class');
    assert.equal(body.detail, 'No samples found for class: cat');
    assert.deepEqual(body.missing_class_directories, ['cat']);
  });
  test('a symlink leading outside the root → 403', async () => {
    const dir = path.join(t.root, 'escape');
    smallCorpus(dir);
    fs.symlinkSync('/usr/share', path.join(dir, 'yes', 'outside'));
    assertProblem(await register({ ...base, source: { type: 'directory', path: 'escape' } }), 403, 'path-not-allowed');
  });
  for (const v of [1, 1.5, -0.1]) {
    test(`validation_split ${v} → 400`, async () => {
      assertProblem(await register({ ...base, validation_split: v, source: { type: 'directory', path: 'small' } }), 400, 'validation-error');
    });
  }
  test('negative percentages → 400', async () => {
    assertProblem(
      await register({ ...base, unknown_class_percentage: -1, source: { type: 'directory', path: 'small' } }),
      400,
      'validation-error',
    );
    assertProblem(
      await register({ ...base, silence_class_percentage: -0.5, source: { type: 'directory', path: 'small' } }),
      400,
      'validation-error',
    );
  });
  test('malformed JSON → 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'application/json' }, payload: '{"classes": [' });
    assertProblem(res, 400, 'malformed-json');
  });
  test('unknown field → 400 naming it', async () => {
    const body = assertProblem(await register({ ...base, colour: 'red', source: { type: 'directory', path: 'small' } }), 400, 'validation-error');
    assert.equal(body.errors[0].field, 'colour');
  });
  test('duplicate name → 409', async () => {
    assertProblem(await register({ ...base, name: 'small', source: { type: 'directory', path: 'small' } }), 409, 'dataset-exists');
  });
  test('duplicate classes → 422', async () => {
    assertProblem(await register({ classes: ['yes', 'yes'], source: { type: 'directory', path: 'small' } }), 422, 'invalid-settings');
  });
  test('impossible frontend settings → 422', async () => {
    assertProblem(
      await register({ ...base, source: { type: 'directory', path: 'small' }, frontend_settings: { filterbank_upper_band_limit: 9000 } }),
      422,
      'invalid-frontend-settings',
    );
  });
  test('unknown route → 404 problem', async () => {
    assertProblem(await t.app.inject({ url: '/v1/nothing' }), 404, 'route-not-found');
  });
  test('nothing half-registered is left behind by a failed registration', async () => {
    const ids = (await t.app.inject({ url: '/v1/datasets' })).json().datasets.map((d: { id: string }) => d.id);
    assert.deepEqual(ids, ['small']);
  });
});

describe('service endpoints', () => {
  test('/healthz answers; /readyz is 503 until a featurization worker is connected, then ready', async () => {
    assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200);
    const before = await t.app.inject({ url: '/readyz' });
    assert.equal(before.statusCode, 503, before.body);
    assert.equal(before.json().type, 'https://audiofeed.dev/problems/not-ready');
    assert.match(before.json().detail, /worker/);
    const workers = startTestWorkers(t);
    try {
      const res = await waitFor(() => t.app.inject({ url: '/readyz' }), {
        what: '/readyz answering 200 once a worker is connected',
        until: (r) => r.statusCode === 200,
        describe: (r) => `${r.statusCode} ${r.body}`,
      });
      assert.equal(res.json().status, 'ready');
      assert.ok(res.json().workers >= 1);
    } finally {
      await workers.close();
    }
  });
  test('/v1/info names the frontend backend', async () => {
    const info = (await t.app.inject({ url: '/v1/info' })).json();
    assert.ok(['native', 'typescript'].includes(info.frontend_backend));
    assert.ok(info.loaders.includes('speech_commands_v2'));
  });
  test('/docs serves the OpenAPI document', async () => {
    const res = await t.app.inject({ url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    assert.ok(res.json().paths['/v1/datasets/']);
  });
});

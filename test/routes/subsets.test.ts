/**
 * Every subset servable at once (issue #20 item 4): `load` adds a subset, `unload` names
 * one (or, without a body, every one), `reindex` recomputes what is loaded, and a stream
 * finishes on the lists it started with whatever other clients load, unload or reindex
 * meanwhile. Two clients over a real socket: a trainer streaming training and an evaluator.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { cleanups, closeAll } from '../helpers/cleanup.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { npyBatches } from '../helpers/npy-stream.ts';

const PROBLEM = 'https://audiofeed.dev/problems/';
let t: TestApp;
let workers: RunningWorkers;
let base: string;
let registered: any;

before(async () => {
  t = await startTestApp();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  workers = startTestWorkers(t);
  registered = await registerDataset(t, {
    name: 'mini',
    source: { type: 'directory', path: 'mini' },
    classes: ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'],
    validation_split: 0.2,
    batch_size: 8,
    class_weights: 'balanced',
    eval_max_samples_per_class: 2,
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

const inject = (method: 'GET' | 'POST', url: string, payload?: object) => t.app.inject({ method, url, ...(payload ? { payload } : {}) });

function problemOf(res: { statusCode: number; json(): any; body: string }, status: number, type: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().type, PROBLEM + type, res.body);
  return res.json();
}

/** The labels of an npy stream (sparse labels), batch after batch. */
function labelsOf(body: Buffer): number[] {
  return npyBatches(body).flatMap(({ y }) => Array.from(y.data as ArrayLike<number>, Number));
}

async function sampleLabels(subset: string): Promise<number[]> {
  const res = await inject('GET', `/v1/datasets/mini/samples?subset=${subset}&limit=10000`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().items.map((i: { label: number }) => i.label);
}

describe('every subset servable at once', () => {
  test('a trainer streams training while another client loads evaluation, unloads and reindexes: both read their epochs exactly', async (tt) => {
    const defer = cleanups(tt);
    // Far more bytes than a socket buffers (2000 one-row batches), so the trainer's stream
    // is still being produced while the other client works.
    const query = 'subset=training&epoch=3&batch_size=1&steps_per_epoch=2000&dtype=uint16&format=npy&class_mode=sparse';
    const reference = await inject('GET', `/v1/datasets/mini/batches?${query}`);
    assert.equal(reference.statusCode, 200, reference.body);

    // The trainer: reads its first bytes, then stops reading.
    const chunks: Buffer[] = [];
    const req = http.get(`${base}/v1/datasets/mini/batches?${query}`);
    defer(() => req.destroy());
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    assert.equal(res.statusCode, 200);
    const ended = new Promise<void>((resolve, reject) => {
      res.on('end', resolve).on('error', reject).on('aborted', () => reject(new Error('the trainer\'s stream was cut')));
    });
    await new Promise<void>((resolve) =>
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        res.pause();
        resolve();
      }),
    );
    const receivedBefore = chunks.reduce((n, c) => n + c.length, 0);

    // The other client: an evaluation load is added; the trainer's next request still streams.
    const evaluation = await inject('POST', '/v1/datasets/mini/load', { subset: 'evaluation' });
    assert.equal(evaluation.statusCode, 200, evaluation.body);
    assert.deepEqual(evaluation.json().loaded_subsets, ['training', 'evaluation']);
    const again = await inject('GET', '/v1/datasets/mini/batches?subset=training&format=npy');
    assert.equal(again.statusCode, 200, again.body);
    // Its evaluation epoch is its own list (eval_max_samples_per_class 2), unshuffled.
    const evalLabels = await sampleLabels('evaluation');
    // (MLTK names an evaluation load's counts of a split listing `validation`.)
    const evalCounts = evaluation.json().class_counts.validation as Record<string, number>;
    assert.equal(evalLabels.length, Object.values(evalCounts).reduce((a, b) => a + b, 0));
    const evalEpoch = await inject('GET', '/v1/datasets/mini/batches?subset=evaluation&format=npy&class_mode=sparse&batch_size=-1');
    assert.equal(evalEpoch.statusCode, 200, evalEpoch.body);
    assert.deepEqual(labelsOf(evalEpoch.rawPayload), evalLabels);
    // Unload everything, then a new training request is refused ...
    const unloaded = await inject('POST', '/v1/datasets/mini/unload');
    assert.equal(unloaded.statusCode, 200, unloaded.body);
    assert.deepEqual(unloaded.json().loaded_subsets, []);
    problemOf(await inject('GET', '/v1/datasets/mini/batches?subset=training&format=npy'), 409, 'dataset-not-loaded');
    // ... and reindex brings the training load back.
    const reindexed = await inject('POST', '/v1/datasets/mini/reindex');
    assert.equal(reindexed.statusCode, 200, reindexed.body);
    assert.deepEqual(reindexed.json().loaded_subsets, ['training']);

    // The trainer reads the rest: the epoch it started, byte for byte.
    assert.ok(receivedBefore < reference.rawPayload.length);
    res.removeAllListeners('data');
    res.on('data', (c: Buffer) => chunks.push(c));
    res.resume();
    await ended;
    const got = Buffer.concat(chunks);
    assert.equal(got.length, reference.rawPayload.length);
    assert.ok(got.equals(reference.rawPayload), 'the trainer\'s epoch differs from the same request made alone');
  });

  test('training, validation and evaluation are all served while loaded; each load keeps MLTK\'s outputs', async () => {
    await inject('POST', '/v1/datasets/mini/unload');
    const training = await inject('POST', '/v1/datasets/mini/load', { subset: 'training' });
    const evaluation = await inject('POST', '/v1/datasets/mini/load', { subset: 'evaluation' });
    const view = evaluation.json();
    assert.deepEqual(view.loaded_subsets, ['training', 'evaluation']);
    assert.equal(view.loaded_subset, 'evaluation');
    // The most recent load's summary and counts on top (MLTK's after that call), each load's by ?subset=.
    assert.match((await inject('GET', '/v1/datasets/mini/summary')).body, /^Evaluation dataset: Found \d+ samples belonging to 8 classes:/);
    assert.equal((await inject('GET', '/v1/datasets/mini/summary?subset=training')).body, registered.loads.training.summary);
    assert.match(registered.loads.training.summary, /^Training dataset: Found 60 samples belonging to 8 classes:/);
    assert.deepEqual(training.json().loads.training.class_counts, registered.class_counts);
    assert.deepEqual((await inject('GET', '/v1/datasets/mini/class-counts?subset=training')).json(), registered.class_counts);
    assert.deepEqual((await inject('GET', '/v1/datasets/mini/class-counts')).json(), view.loads.evaluation.class_counts);
    // Class weights are the training load's.
    assert.deepEqual((await inject('GET', '/v1/datasets/mini/class-weights')).json().value, registered.class_weights.value);
    for (const subset of ['training', 'validation', 'evaluation']) {
      const res = await inject('GET', `/v1/datasets/mini/batches?subset=${subset}&format=npy`);
      assert.equal(res.statusCode, 200, `${subset}: ${res.body}`);
    }
    // eval_max_samples_per_class: the evaluation list is its own, the validation list the training load's.
    const validation = await sampleLabels('validation');
    const evalList = await sampleLabels('evaluation');
    assert.equal(validation.length, Object.values(registered.class_counts.validation as Record<string, number>).reduce((a, b) => a + b, 0));
    assert.ok(evalList.length < validation.length, `${evalList.length} < ${validation.length}`);
    problemOf(await inject('GET', '/v1/datasets/mini/summary?subset=validation'), 409, 'subset-not-loaded');
  });

  test('unload names one subset; a subset that is not loaded is a 409 that says how to load it', async () => {
    await inject('POST', '/v1/datasets/mini/load', { subset: 'evaluation' });
    const res = await inject('POST', '/v1/datasets/mini/unload', { subset: 'training' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().loaded_subsets, ['evaluation']);
    assert.equal(res.json().class_weights, null);
    const p = problemOf(await inject('GET', '/v1/datasets/mini/batches?subset=training&format=npy'), 409, 'subset-not-loaded');
    assert.match(p.detail, /POST \/v1\/datasets\/mini\/load with \{"subset":"training"\}/);
    problemOf(await inject('GET', '/v1/datasets/mini/datagen?subset=validation'), 409, 'subset-not-loaded');
    assert.equal((await inject('GET', '/v1/datasets/mini/batches?subset=evaluation&format=npy')).statusCode, 200);
    // Unloading what is not loaded changes nothing; a bad name is a 400.
    const same = await inject('POST', '/v1/datasets/mini/unload', { subset: 'training' });
    assert.equal(same.json().updated_at, res.json().updated_at);
    assert.equal((await inject('POST', '/v1/datasets/mini/unload', { subset: 'testing' })).statusCode, 400);
    // A reindex recomputes what is loaded: the evaluation load only.
    const re = await inject('POST', '/v1/datasets/mini/reindex');
    assert.deepEqual(re.json().loaded_subsets, ['evaluation']);
    await inject('POST', '/v1/datasets/mini/load', { subset: 'training' });
  });

  test('a stream whose dataset is deleted meanwhile ends with dataset-deleted (410) when it needs features made, instead of making them', async (tt) => {
    const defer = cleanups(tt);
    // A copy of its own: shard keys derive from the directory, so this stream starts cold.
    copyCorpus(testdata('corpus-mini'), path.join(t.root, 'doomed'));
    await registerDataset(t, {
      name: 'doomed',
      source: { type: 'directory', path: 'doomed' },
      classes: ['yes', 'no', '_unknown_', '_silence_'],
      validation_split: 0.2,
    });
    const rec = await t.ctx.registry.get('doomed');
    const lists = await t.ctx.registry.subsets('doomed');
    const abort = new AbortController();
    defer(() => abort.abort());
    // What the batches route does with the record and lists it read at the start.
    const stream = await t.ctx.epochs.open(rec, lists, { subset: 'training', epoch: 0, batchSize: 1, format: 'npy', requestId: 'doomed', signal: abort.signal });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let written = 0;
    let firstWritten!: () => void;
    const first = new Promise<void>((r) => (firstWritten = r));
    const done = stream.writeTo(async () => {
      if (++written === 1) {
        firstWritten();
        await gate;
      }
    });
    done.catch(() => undefined);
    await first;
    assert.equal((await inject('GET', '/v1/datasets/doomed')).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/datasets/doomed' })).statusCode, 204);
    release();
    await assert.rejects(done, (err: { code?: string; status?: number; message: string }) => {
      assert.equal(err.code, 'dataset-deleted', err.message);
      assert.equal(err.status, 410);
      assert.match(err.message, /dataset doomed was deleted while this stream was running/);
      return true;
    });
    assert.ok(written < stream.batches, `${written} of ${stream.batches} batches written`);
  });

  test('an augmented stream whose dataset is deleted meanwhile ends with dataset-deleted before it queues another batch', async (tt) => {
    const defer = cleanups(tt);
    // Batches only when asked for (no lookahead): what comes after the deletion is not made yet.
    const app = await startTestApp({ AUGMENT_LOOKAHEAD: '0' });
    defer(() => app.close());
    const w = startTestWorkers(app);
    defer(() => w.close());
    await w.ready();
    copyCorpus(testdata('corpus-mini'), path.join(app.root, 'aug'));
    await registerDataset(app, {
      name: 'aug',
      source: { type: 'directory', path: 'aug' },
      classes: ['yes', 'no', '_unknown_', '_silence_'],
      validation_split: 0.2,
      batch_size: 4,
      augmentation: { offset_range: [0, 0.5], loudness_range: [0.8, 1.2] },
    });
    const rec = await app.ctx.registry.get('aug');
    const lists = await app.ctx.registry.subsets('aug');
    const abort = new AbortController();
    defer(() => abort.abort());
    const stream = await app.ctx.epochs.open(rec, lists, { subset: 'training', epoch: 0, format: 'npy', requestId: 'aug-doomed', signal: abort.signal });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstOut!: () => void;
    const first = new Promise<void>((r) => (firstOut = r));
    let written = 0;
    const done = stream.writeTo(async () => {
      if (++written === 1) {
        firstOut();
        await gate;
      }
    });
    done.catch(() => undefined);
    await first;
    assert.equal((await app.app.inject({ method: 'DELETE', url: '/v1/datasets/aug' })).statusCode, 204);
    release();
    await assert.rejects(done, (err: { code?: string; status?: number; message: string }) => {
      assert.equal(err.code, 'dataset-deleted', err.message);
      assert.equal(err.status, 410);
      return true;
    });
    assert.ok(written < stream.batches, `${written} of ${stream.batches} batches written`);
  });
});

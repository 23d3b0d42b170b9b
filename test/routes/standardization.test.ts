/**
 * MLTK's standardization settings (rescale, samplewise_center, samplewise_std_normalization,
 * samplewise_normalize_range) end to end: registered once, shown in the dataset view and in
 * GET …/datagen, applied to every row of streamed batches (npy and Arrow), to
 * POST /v1/features and to what the CLI pulls, equal to numpy float32; the shards stay the
 * raw frontend output (one cache serves a standardized and a plain registration); bad
 * values and dtypes that cannot hold the values are problems.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { RecordBatchReader } from 'apache-arrow';
import { main } from '../../cli/main.ts';
import { SHARD_QUEUE } from '../../jobs/queues.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { decodeWav, loadSample, prepareSample, toInt16 } from '../../src/core/audio/index.ts';
import { batchIndices } from '../../src/core/datasets/index.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';
import { resolveStandardization, standardizeSample, type Standardization } from '../../src/core/tensors/standardize.ts';
import { featurized, registerDataset, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { numpy } from '../helpers/numpy-standardize.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { closeAll } from '../helpers/cleanup.ts';
import { injectForm } from '../helpers/multipart.ts';

const P = 'https://audiofeed.dev/problems/';
const fe = resolveFrontendSettings({});
const ROW = 98 * 32;
const STD = { rescale: 0.001, samplewise_std_normalization: true, samplewise_normalize_range: [-1, 1] as [number, number] };
const std: Standardization = resolveStandardization(STD);
const BASE = { source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', '_unknown_', '_silence_'], validation_split: 0.2, batch_size: 8 };

let t: TestApp;
let workers: RunningWorkers;
before(async () => {
  t = await startTestApp();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  workers = startTestWorkers(t);
  await registerDataset(t, { ...BASE, name: 'plain' });
  await registerDataset(t, { ...BASE, name: 'std', ...STD });
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

/** The uint16 features of a subset's entries (src/ directly), in subset order. */
async function rawFeatures(subset: 'training' | 'validation'): Promise<Uint16Array[]> {
  const items = (await t.app.inject({ url: `/v1/datasets/std/samples?subset=${subset}&limit=10000` })).json().items as { entry: string | null }[];
  const out: Uint16Array[] = [];
  for (const { entry } of items) {
    const audio = await loadSample(entry === null ? null : path.join(t.root, 'mini', entry), { sampleRateHz: 16000, sampleLengthMs: 1000 });
    out.push(computeSpectrogram(fe, toInt16(audio)).uint16);
  }
  return out;
}

function npyX(body: Buffer, columns: number): Float32Array[] {
  const xs: Float32Array[] = [];
  let at = 0;
  while (at < body.length) {
    for (let c = 0; c < columns; c++) {
      const a = decodeNpy(body.subarray(at));
      if (c === 0) {
        assert.equal(a.dtype, 'float32');
        xs.push(a.data as Float32Array);
      }
      at += a.byteLength;
    }
  }
  return xs;
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('standardized batches', () => {
  test('a training epoch (npy) is every row standardized as MLTK normalize() under numpy, and never NaN', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/std/batches?subset=training&epoch=0&format=npy' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['x-audiofeed-dtype'], 'float32');
    const got = npyX(res.rawPayload, 2);
    const raw = await rawFeatures('training');
    const order = batchIndices(raw.length, 8, { shuffle: true, seed: null, epoch: 0 });
    assert.equal(got.length, order.length);
    let silent = 0;
    // numpy's values for every clip of the subset, one reference call.
    const ref = numpy(raw.map((u) => ({ op: 'normalize' as const, x: Float32Array.from(u), shape: [98, 32], settings: std })));
    order.forEach((positions, b) => {
      const x = got[b]!;
      assert.equal(x.length, positions.length * ROW);
      positions.forEach((p, r) => {
        const row = x.subarray(r * ROW, (r + 1) * ROW);
        let want = ref.out[p]!;
        if (want.every((v) => Number.isNaN(v))) {
          // A constant spectrogram (a _silence_ entry is all zeros): numpy's 0 / 0; we map it to lo.
          assert.ok(raw[p]!.every((v) => v === raw[p]![0]), `position ${p} is constant`);
          silent++;
          want = new Float32Array(ROW).fill(-1);
        }
        const at = row.findIndex((v, k) => !Object.is(v, want[k]));
        assert.equal(at, -1, `batch ${b} row ${r} (position ${p}): value ${at} is ${row[at]}, numpy ${want[at]}; raw ${raw[p]![at]}`);
      });
      assert.ok(x.every((v) => Number.isFinite(v) && v >= -1 && v <= 1), `batch ${b} is finite, in [-1, 1]`);
    });
    assert.ok(silent > 0, 'the epoch has _silence_ rows (constant: MLTK would stream NaN)');
  });

  test('the Arrow stream carries the same x bytes', async () => {
    const first = await t.app.inject({ url: '/v1/datasets/std/batches?subset=validation&format=npy' });
    assert.equal(first.statusCode, 200, first.body);
    const npy = npyX(first.rawPayload, 2);
    const res = await t.app.inject({ url: '/v1/datasets/std/batches?subset=validation' });
    assert.equal(res.statusCode, 200, res.body);
    const reader = await RecordBatchReader.from(res.rawPayload);
    let b = 0;
    for await (const rb of reader) {
      const x = rb.getChild('x')!.data[0]!.children[0]!.values as Float32Array;
      assert.ok(bytes(x.subarray(0, rb.numRows * ROW)).equals(bytes(npy[b]!)), `batch ${b}`);
      b++;
    }
    assert.equal(b, npy.length);
  });

  test('one feature cache serves both registrations: the plain one streams the raw values, and no shard is computed twice', async () => {
    // The streams of the tests before queued their subsets' background flows after their
    // first batch and did not wait for them (a small subset's stream can end before its flow
    // is even queued): counting shard jobs now would count those flows' jobs as they come.
    // So both subsets are featurized on the workers first (the same flows: a repeated
    // request reuses one) and awaited: then every shard is on disk and no shard job is pending.
    for (const subset of ['training', 'validation']) await featurized(t, 'std', subset);
    // Every shard job there is, in any state: a stream that computed or queued anything adds one.
    const shardJobs = async () =>
      Object.values((await t.queues.jobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'paused'))[SHARD_QUEUE]!).reduce((a, n) => a + n, 0);
    const before = await shardJobs();
    const plain = npyX((await t.app.inject({ url: '/v1/datasets/plain/batches?subset=training&epoch=0&format=npy' })).rawPayload, 2);
    const stdx = npyX((await t.app.inject({ url: '/v1/datasets/std/batches?subset=training&epoch=0&format=npy' })).rawPayload, 2);
    assert.equal(await shardJobs(), before, 'no new shard work');
    assert.equal(plain.length, stdx.length);
    plain.forEach((x, b) => {
      const want = Float32Array.from(x);
      for (let r = 0; r < x.length / ROW; r++) standardizeSample(want.subarray(r * ROW, (r + 1) * ROW), std);
      assert.ok(bytes(want).equals(bytes(stdx[b]!)), `batch ${b}`);
    });
    assert.ok(plain[0]!.some((v) => v > 1), 'the plain registration streams raw frontend values');
  });

  test('a dtype that cannot hold standardized values is a 422, on the stream and in datagen', async () => {
    for (const url of ['/v1/datasets/std/batches?dtype=uint16&format=npy', '/v1/datasets/std/batches?dtype=int8', '/v1/datasets/std/datagen?dtype=int8']) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
      assert.equal(res.json().type, P + 'invalid-settings');
      assert.match(res.json().detail, /standardized features are float32 values/);
    }
  });

  test('the CLI pull writes the standardized epoch, byte for byte as streamed', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-std-pull-'));
    try {
      let stderr = '';
      const sink = (write: (s: string) => void) => new Writable({ write: (chunk, _enc, cb) => (write(String(chunk)), cb()) });
      const code = await main(['pull', 'std', '--epochs', '1', '--format', 'npy', '--out', out], { stdout: sink(() => {}), stderr: sink((s) => (stderr += s)) }, { AUDIOFEED_URL: url });
      assert.equal(code, 0, stderr);
      const direct = (await t.app.inject({ url: '/v1/datasets/std/batches?subset=training&epoch=1&format=npy' })).rawPayload;
      assert.ok(fs.readFileSync(path.join(out, 'std-training-epoch1.npys')).equals(direct));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the settings at the API edge', () => {
  test('the dataset view and GET …/datagen show them with MLTK names (samplewise_center switched on)', async () => {
    const view = (await t.app.inject({ url: '/v1/datasets/std' })).json();
    const want = { rescale: 0.001, samplewise_center: true, samplewise_std_normalization: true, samplewise_normalize_range: [-1, 1] };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(view.settings[k], v, `view ${k}`);
    const dg = (await t.app.inject({ url: '/v1/datasets/std/datagen?subset=validation' })).json();
    for (const [k, v] of Object.entries(want)) assert.deepEqual(dg[k], v, `datagen ${k}`);
    assert.equal(dg.dtype, 'float32');
    const plain = (await t.app.inject({ url: '/v1/datasets/plain/datagen' })).json();
    assert.deepEqual(
      [plain.rescale, plain.samplewise_center, plain.samplewise_std_normalization, plain.samplewise_normalize_range],
      [null, false, false, null],
    );
  });

  test('bad values: wrong types are 400, lo >= hi and impossible combinations are 422, each naming the field', async () => {
    const post = (extra: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...BASE, name: `bad${Math.random().toString(36).slice(2, 8)}`, ...extra } });
    for (const extra of [
      { rescale: 'x' },
      { rescale: 1e12 },
      { samplewise_center: 'yes' },
      { samplewise_normalize_range: [1] },
      { samplewise_normalize_range: [0, 1, 2] },
      { samplewise_normalize_range: ['a', 1] },
    ]) {
      const res = await post(extra);
      assert.equal(res.statusCode, 400, `${JSON.stringify(extra)}: ${res.body}`);
      assert.equal(res.json().type, P + 'validation-error');
    }
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ samplewise_normalize_range: [1, 1] }, 'samplewise_normalize_range', /needs lo < hi/],
      [{ samplewise_normalize_range: [2, -1] }, 'samplewise_normalize_range', /needs lo < hi/],
      [{ samplewise_center: true, dtype: 'uint16' }, 'dtype', /dtype uint16 would truncate them/],
      [{ rescale: 0.5, dtype: 'int8' }, 'dtype', /dtype int8 would truncate them/],
      [{ samplewise_center: true, frontend_enabled: false, sample_shape: [16000] }, 'frontend_enabled', /MLTK does not apply them/],
    ];
    for (const [extra, field, detail] of cases) {
      const res = await post(extra);
      assert.equal(res.statusCode, 422, `${JSON.stringify(extra)}: ${res.body}`);
      assert.equal(res.json().type, P + 'invalid-settings');
      assert.equal(res.json().field, field);
      assert.match(res.json().detail, detail);
    }
    // rescale 0 is MLTK's "off": accepted, and uint16 then stays possible.
    const off = await post({ rescale: 0, dtype: 'uint16' });
    assert.equal(off.statusCode, 201, off.body);
  });

  test('POST /v1/features applies them to the clip (numpy float32), and refuses them with dtype uint16', async () => {
    const wav = fs.readFileSync(testdata('bad-wavs', 'reference-valid.wav'));
    const form = (settings: Record<string, unknown>) => {
      const f = new FormData();
      f.append('settings', JSON.stringify(settings));
      f.append('file', new Blob([wav]), 'clip.wav');
      return f;
    };
    const send = async (settings: Record<string, unknown>) => {
      return injectForm(t.app, '/v1/features', form(settings), { accept: 'application/x-npy' });
    };
    const res = await send(STD);
    assert.equal(res.statusCode, 200, res.body);
    const got = decodeNpy(res.rawPayload);
    assert.equal(got.dtype, 'float32');
    const u16 = computeSpectrogram(fe, toInt16(prepareSample(decodeWav(wav), { sampleRateHz: 16000, sampleLengthMs: 1000 }))).uint16;
    const ref = numpy([{ op: 'normalize', x: Float32Array.from(u16), shape: [98, 32], settings: std }]);
    assert.ok(bytes(got.data).equals(bytes(ref.out[0]!)));
    const bad = await send({ ...STD, dtype: 'uint16' });
    assert.equal(bad.statusCode, 422, bad.body);
    assert.match(bad.json().detail, /standardized features are float32 values/);
  });
});

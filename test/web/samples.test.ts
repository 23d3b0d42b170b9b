/**
 * The dashboard's sample endpoints against the real app and workers: the spectrogram PNG
 * equals an independent rendering of the dataset pipeline's values before featurization
 * (computed) and after it (read from the shard), byte for byte; skipped clips are
 * problems with the featurization's reason on both paths; audio.wav is the clip's file,
 * silence is generated, tampered index entries stay inside the dataset; GET …/jobs finds
 * the featurization job; the page and its assets are served.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { decodeWav, prepareSample, toInt16 } from '../../src/core/audio/index.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { renderSpectrogramPng } from '../../src/core/render/spectrogram-png.ts';
import { startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { closeAll } from '../helpers/cleanup.ts';

const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];
const BROKEN = 'yes/zz-broken.wav';

let t: TestApp;
let workers: RunningWorkers;
let dir: string;

interface Item {
  index: number;
  entry: string | null;
  class: string;
}

before(async () => {
  t = await startTestApp();
  workers = startTestWorkers(t);
  // Connected before a featurization is asked for (with no worker it would be a 503).
  await workers.ready();
  dir = path.join(t.root, 'corpus-mini');
  copyCorpus(testdata('corpus-mini'), dir);
  // A RIFF header that promises more than the file holds: the featurization skips it.
  fs.writeFileSync(path.join(dir, BROKEN), Buffer.concat([Buffer.from('RIFF\xff\xff\x00\x00WAVEfmt ', 'latin1'), Buffer.alloc(8)]));
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/datasets',
    payload: { name: 'mini', source: { type: 'directory', path: dir }, classes: CLASSES, validation_split: 0.2, class_weights: 'balanced' },
  });
  assert.equal(res.statusCode, 201, res.body);
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

async function items(subset: string): Promise<Item[]> {
  const res = await t.app.inject({ url: `/v1/datasets/mini/samples?subset=${subset}&limit=10000` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().items as Item[];
}

/** The uint16 spectrogram of a file through src/ directly (TypeScript frontend), as a PNG like the route's. */
function expectedPng(file: string, title: string): Buffer {
  const s = resolveFrontendSettings({});
  const samples = prepareSample(decodeWav(fs.readFileSync(file)), { sampleRateHz: s.sample_rate_hz, sampleLengthMs: s.sample_length_ms, trimThresholdDb: 20 });
  const r = computeSpectrogram(s, toInt16(samples));
  return renderSpectrogramPng(r.uint16, r.height, r.width, { scale: 3, title, stepMs: s.window_step_ms });
}

async function featurize(subset: string): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', payload: { subset } });
  assert.equal(res.statusCode, 202, res.body);
  const jobId = res.json().job_id as string;
  const state = await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json().state as string, {
    what: `featurization ${jobId} of ${subset} finished`,
    until: (s) => ['completed', 'failed', 'cancelled'].includes(s),
  });
  assert.equal(state, 'completed');
  return jobId;
}

describe('spectrogram.png and audio.wav', () => {
  test('before and after featurization: the same PNG, computed then read from the shard, equal to src/', async () => {
    const training = await items('training');
    const picks = [training.find((i) => i.entry?.startsWith('yes/') && i.entry !== BROKEN)!, training.find((i) => i.class === 'left')!];
    const brokenSubset = (await items('validation')).some((i) => i.entry === BROKEN) ? 'validation' : 'training';
    const brokenAt = (await items(brokenSubset)).find((i) => i.entry === BROKEN)!.index;

    const get = (n: number, subset = 'training') => t.app.inject({ url: `/v1/datasets/mini/samples/${n}/spectrogram.png?subset=${subset}` });
    const before: Buffer[] = [];
    for (const it of picks) {
      const res = await get(it.index);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'image/png');
      assert.equal(res.headers['x-audiofeed-features-source'], 'computed');
      assert.equal(res.headers['x-audiofeed-shape'], '98,32');
      assert.ok(res.rawPayload.equals(expectedPng(path.join(dir, it.entry!), `${it.class} training ${it.index}`)), `sample ${it.index}`);
      const png = PNG.sync.read(res.rawPayload);
      assert.ok(png.width > 294 && png.height > 96, `${png.width}x${png.height}`);
      before.push(res.rawPayload);
    }
    const skippedBefore = await get(brokenAt, brokenSubset);
    assert.equal(skippedBefore.statusCode, 422, skippedBefore.body);
    assert.match(String(skippedBefore.headers['content-type']), /^application\/problem\+json/);
    const reason = skippedBefore.json().reason as string;
    assert.ok(reason && reason !== 'unsafe-entry', skippedBefore.body);

    await featurize('training');
    if (brokenSubset === 'validation') await featurize('validation');
    for (const [k, it] of picks.entries()) {
      const res = await get(it.index);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['x-audiofeed-features-source'], 'shard');
      assert.ok(res.rawPayload.equals(before[k]!), `sample ${it.index} differs between shard and computation`);
    }
    const skippedAfter = await get(brokenAt, brokenSubset);
    assert.equal(skippedAfter.statusCode, 422);
    assert.equal(skippedAfter.json().reason, reason);
    const summary = (await t.app.inject({ url: '/v1/datasets/mini/summary', headers: { accept: 'application/json' } })).json();
    assert.deepEqual(
      summary.featurization[brokenSubset].skipped_clips.map((s: { entry: string; reason: string }) => [s.entry, s.reason]),
      [[BROKEN, reason]],
    );
  });

  test('GET …/jobs finds the featurization jobs of the loaded subsets', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', payload: { subset: 'training' } });
    const jobId = res.json().job_id;
    const jobs = (await t.app.inject({ url: '/v1/datasets/mini/jobs' })).json().jobs as { id: string; subset: string; state: string; events_url: string }[];
    const training = jobs.find((j) => j.subset === 'training');
    assert.ok(training, JSON.stringify(jobs));
    assert.equal(training.id, jobId);
    assert.equal(training.state, 'completed');
    assert.equal(training.events_url, `/v1/jobs/${jobId}/events`);
  });

  test('audio.wav is the clip file; a _silence_ sample is generated silence of the sample length', async () => {
    const training = await items('training');
    const clip = training.find((i) => i.entry !== null && i.entry !== BROKEN)!;
    const res = await t.app.inject({ url: `/v1/datasets/mini/samples/${clip.index}/audio.wav` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'audio/wav');
    assert.ok(res.rawPayload.equals(fs.readFileSync(path.join(dir, clip.entry!))));

    const silence = training.find((i) => i.entry === null);
    assert.ok(silence, 'corpus-mini has _silence_ samples');
    assert.equal(silence.class, '_silence_');
    const s = await t.app.inject({ url: `/v1/datasets/mini/samples/${silence.index}/audio.wav` });
    assert.equal(s.statusCode, 200);
    assert.equal(s.headers['x-audiofeed-generated'], 'silence');
    const wav = decodeWav(s.rawPayload);
    assert.equal(wav.sampleRate, 16000);
    assert.equal(wav.samples.length, 16000);
    assert.ok(wav.samples.every((v) => v === 0));
    const png = await t.app.inject({ url: `/v1/datasets/mini/samples/${silence.index}/spectrogram.png` });
    assert.equal(png.statusCode, 200);
  });

  test('missing subsets, positions and datasets are 404 problems; bad parameters 400', async () => {
    const total = (await items('training')).length;
    const cases: [string, number, string][] = [
      [`/v1/datasets/mini/samples/${total}/spectrogram.png`, 404, 'sample-not-found'],
      [`/v1/datasets/mini/samples/${total}/audio.wav`, 404, 'sample-not-found'],
      ['/v1/datasets/nope/samples/0/audio.wav', 404, 'dataset-not-found'],
      ['/v1/datasets/mini/samples/-1/spectrogram.png', 400, 'validation-error'],
      ['/v1/datasets/mini/samples/0/spectrogram.png?subset=testing', 400, 'validation-error'],
      ['/v1/datasets/mini/samples/0/spectrogram.png?scale=99', 400, 'validation-error'],
    ];
    for (const [url, status, type] of cases) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      assert.equal(res.json().type, `https://audiofeed.dev/problems/${type}`, url);
    }
  });

  test('subset=evaluation previews the validation files (MLTK evaluates on them)', async () => {
    const a = await t.app.inject({ url: '/v1/datasets/mini/samples/0/audio.wav?subset=evaluation' });
    const b = await t.app.inject({ url: '/v1/datasets/mini/samples/0/audio.wav?subset=validation' });
    assert.equal(a.statusCode, 200, a.body);
    assert.ok(a.rawPayload.equals(b.rawPayload));
  });

  test('a clip replaced by a link leading outside the data root is refused, not served', async () => {
    const training = await items('training');
    const it = training.find((i) => i.entry?.startsWith('no/'))!;
    const file = path.join(dir, it.entry!);
    const saved = fs.readFileSync(file);
    const outside = testdata('corpus-mini', it.entry!);
    assert.ok(fs.existsSync(outside));
    fs.rmSync(file);
    fs.symlinkSync(outside, file);
    try {
      const res = await t.app.inject({ url: `/v1/datasets/mini/samples/${it.index}/audio.wav` });
      assert.equal(res.statusCode, 422, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().reason, 'outside-root', res.body);
      assert.ok(!res.body.includes('RIFF'));
    } finally {
      fs.rmSync(file);
      fs.writeFileSync(file, saved);
    }
  });
});

describe('the page', () => {
  test('GET / is the dashboard with a strict CSP; its script and style sheet are served', async () => {
    const page = await t.app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    const refs = [...page.body.matchAll(/(?:src|href)="(\/dashboard\/[^"?]+)\?v=([0-9a-f]{16})"/g)];
    assert.deepEqual(refs.map((m) => m[1]).sort(), ['/dashboard/main.js', '/dashboard/style.css']);
    for (const [, url] of refs) {
      const res = await t.app.inject({ url: url! });
      assert.equal(res.statusCode, 200, url);
      assert.ok(res.body.length > 1000, url);
      const again = await t.app.inject({ url: url!, headers: { 'if-none-match': String(res.headers.etag) } });
      assert.equal(again.statusCode, 304);
    }
    assert.equal((await t.app.inject({ url: '/dashboard/nothing.js' })).statusCode, 404);
    assert.equal((await t.app.inject({ url: '/dashboard/..%2Fpackage.json' })).statusCode, 404);
  });
});

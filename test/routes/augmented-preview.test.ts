/**
 * POST /v1/datasets/{id}/samples/{n}/augmented/{audio.wav,spectrogram.png}: one clip
 * augmented by a recipe and a seed, against the real app (no worker: the preview is
 * computed in the API process).
 *
 * - 200 with audio/wav (16-bit PCM, sample_length at sample_rate) and image/png; the drawn
 *   transform in X-Audiofeed-Transform;
 * - deterministic for a seed (byte-equal), different for another seed, different from the
 *   un-augmented clip; a recipe that changes nothing (offset 0) gives the plain pipeline's
 *   audio exactly (src/ directly);
 * - the spectrogram is the augmented epochs' computation (computeAugmentedBatch, seed,
 *   epoch 0, batch 0) rendered as the route does;
 * - no body: the dataset's own augmentation; a dataset without one and no recipe is a 422;
 * - one error per mistake in the recipe (400, the registration's schema; 422 for a value
 *   the settings refuse), a bg_noise_dir outside the data root (403), unknown dataset or
 *   sample (404), a clip that cannot be decoded (422 with its reason): problem+json.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { BackgroundNoiseCache, resolveAugmentation } from '../../src/core/audio/augment/index.ts';
import { decodeWav, prepareSample, toInt16 } from '../../src/core/audio/index.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { renderSpectrogramPng } from '../../src/core/render/spectrogram-png.ts';
import { computeAugmentedBatch } from '../../src/services/features/augmented.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';

const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];
const BROKEN = 'left/zz-broken.wav';
const RECIPE = {
  offset_range: [0, 1],
  loudness_range: [0.5, 1.5],
  noise_colors: 'all',
  noise_color_range: [0.05, 0.1],
  speed_range: [0.9, 1.2],
  pitch_range: [-2, 3],
};

let t: TestApp;
let dir: string;
let training: { index: number; entry: string | null; class: string }[];

before(async () => {
  t = await startTestApp();
  dir = path.join(t.root, 'corpus-mini');
  copyCorpus(testdata('corpus-mini'), dir);
  fs.writeFileSync(path.join(dir, BROKEN), Buffer.from('RIFF\x24\x00\x00\x00WAVEjunk', 'latin1'));
  for (const [name, augmentation] of [
    ['plain', null],
    ['augmented', { loudness_range: [0.2, 0.2], offset_range: [0, 0] }],
  ] as const) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { name, source: { type: 'directory', path: dir }, classes: CLASSES, validation_split: 0.2, ...(augmentation ? { augmentation } : {}) },
    });
    assert.equal(res.statusCode, 201, res.body);
  }
  training = (await t.app.inject({ url: '/v1/datasets/plain/samples?subset=training&limit=10000' })).json().items;
});
after(async () => {
  await t?.close();
});

function preview(file: 'audio.wav' | 'spectrogram.png', n: number, body?: unknown, id = 'plain') {
  return t.app.inject({
    method: 'POST',
    url: `/v1/datasets/${id}/samples/${n}/augmented/${file}`,
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

function clip(): { index: number; entry: string } {
  const it = training.find((i) => i.class === 'yes' && i.entry !== null)!;
  return { index: it.index, entry: it.entry! };
}

describe('augmentation preview', () => {
  test('wav and png of a recipe: deterministic for a seed, different for another seed and from the original', async () => {
    const { index, entry } = clip();
    const wav = await preview('audio.wav', index, { seed: 7, augmentation: RECIPE });
    assert.equal(wav.statusCode, 200, wav.body);
    assert.equal(wav.headers['content-type'], 'audio/wav');
    assert.equal(wav.headers['x-audiofeed-seed'], '7');
    const drawn = JSON.parse(String(wav.headers['x-audiofeed-transform']));
    assert.ok(drawn.loudness >= 0.5 && drawn.loudness <= 1.5 && drawn.pitch >= -2 && drawn.pitch < 3 && drawn.speed !== 1, JSON.stringify(drawn));
    const decoded = decodeWav(new Uint8Array(wav.rawPayload));
    assert.equal(decoded.sampleRate, 16000);
    assert.equal(decoded.samples.length, 16000);

    const again = await preview('audio.wav', index, { seed: 7, augmentation: RECIPE });
    assert.ok(again.rawPayload.equals(wav.rawPayload), 'the same seed gives the same clip');
    assert.equal(again.headers['x-audiofeed-transform'], wav.headers['x-audiofeed-transform']);
    const other = await preview('audio.wav', index, { seed: 8, augmentation: RECIPE });
    assert.equal(other.statusCode, 200);
    assert.ok(!other.rawPayload.equals(wav.rawPayload), 'another seed gives another clip');

    // A recipe that changes nothing: the plain pipeline's clip (decode, resample, trim, pad), as int16.
    const identity = await preview('audio.wav', index, { seed: 7, augmentation: { offset_range: [0, 0] } });
    assert.equal(identity.statusCode, 200, identity.body);
    const fe = resolveFrontendSettings({});
    const plain = toInt16(prepareSample(decodeWav(fs.readFileSync(path.join(dir, entry))), { sampleRateHz: 16000, sampleLengthMs: fe.sample_length_ms, trimThresholdDb: 20 }));
    assert.deepEqual(Array.from(new Int16Array(identity.rawPayload.buffer.slice(identity.rawPayload.byteOffset + 44, identity.rawPayload.byteOffset + identity.rawPayload.length))), Array.from(plain));
    assert.ok(!identity.rawPayload.equals(wav.rawPayload), 'the augmented clip differs from the original');

    const png = await preview('spectrogram.png', index, { seed: 7, augmentation: RECIPE });
    assert.equal(png.statusCode, 200, png.body);
    assert.equal(png.headers['content-type'], 'image/png');
    assert.equal(png.headers['x-audiofeed-shape'], '98,32');
    assert.equal(png.headers['x-audiofeed-transform'], wav.headers['x-audiofeed-transform']);
    const image = PNG.sync.read(png.rawPayload);
    assert.ok(image.width > 294 && image.height > 96, `${image.width}x${image.height}`);
    assert.ok((await preview('spectrogram.png', index, { seed: 7, augmentation: RECIPE })).rawPayload.equals(png.rawPayload), 'deterministic png');
    assert.ok(!(await preview('spectrogram.png', index, { seed: 8, augmentation: RECIPE })).rawPayload.equals(png.rawPayload), 'another seed, another png');
    const original = await t.app.inject({ url: `/v1/datasets/plain/samples/${index}/spectrogram.png?subset=training` });
    assert.equal(original.statusCode, 200);
    assert.ok(!original.rawPayload.equals(png.rawPayload));

    // The values are the augmented epochs' (computeAugmentedBatch with the seed, epoch 0, batch 0, position 0).
    const batch = await computeAugmentedBatch(
      {
        datasetDir: dir,
        root: t.root,
        entries: [entry],
        spec: { frontendEnabled: true, frontendSettings: fe, trimThresholdDb: 20 },
        augmentation: resolveAugmentation(RECIPE as never),
        seed: 7,
        epoch: 0,
        batch: 0,
      },
      t.ctx.frontend,
      new BackgroundNoiseCache(),
    );
    const values = new Uint16Array(batch.data.buffer, batch.data.byteOffset, 98 * 32);
    const expected = renderSpectrogramPng(values, 98, 32, { scale: 3, title: `yes training ${index} augmented (seed 7)`, stepMs: fe.window_step_ms });
    assert.ok(png.rawPayload.equals(expected), 'the png draws the augmented epochs\' values');
  });

  test("no body: the dataset's own augmentation, seed 0; a dataset without one asks for a recipe", async () => {
    const { index } = clip();
    const own = await preview('audio.wav', index, undefined, 'augmented');
    assert.equal(own.statusCode, 200, own.body);
    assert.equal(own.headers['x-audiofeed-seed'], '0');
    assert.equal(JSON.parse(String(own.headers['x-audiofeed-transform'])).loudness, 0.2);
    const same = await preview('audio.wav', index, { seed: 0, augmentation: { loudness_range: [0.2, 0.2], offset_range: [0, 0] } });
    assert.ok(same.rawPayload.equals(own.rawPayload), 'the explicit recipe equals the registered one');

    const none = await preview('audio.wav', index, {});
    assert.equal(none.statusCode, 422, none.body);
    assert.match(String(none.headers['content-type']), /^application\/problem\+json/);
    assert.match(none.json().detail, /no augmentation setting: send a recipe/);
  });

  test('a background-noise directory inside the data root is mixed in; one that does not exist is a 422', async () => {
    const { index, entry } = clip();
    const noiseDir = path.join(t.root, 'noise');
    fs.mkdirSync(noiseDir, { recursive: true });
    fs.copyFileSync(path.join(dir, entry), path.join(noiseDir, 'hum.wav'));
    const quiet = { offset_range: [0, 0] };
    const noisy = { ...quiet, bg_noise_dir: '../noise', bg_noise_range: [0.5, 0.5] };
    const res = await preview('audio.wav', index, { seed: 3, augmentation: noisy });
    assert.equal(res.statusCode, 200, res.body);
    const drawn = JSON.parse(String(res.headers['x-audiofeed-transform']));
    assert.equal(drawn.bg_noise, 0);
    assert.equal(drawn.bg_noise_factor, 0.5);
    const plain = await preview('audio.wav', index, { seed: 3, augmentation: quiet });
    assert.ok(!plain.rawPayload.equals(res.rawPayload), 'the noise is in the clip');
    const missing = await preview('audio.wav', index, { augmentation: { ...noisy, bg_noise_dir: '../no-noise-here' } });
    assert.equal(missing.statusCode, 422, missing.body);
    assert.equal(missing.json().type, 'https://audiofeed.dev/problems/bg-noise-dir-not-found');
  });

  test('mistakes: one error each, problem+json with the right status', async () => {
    const { index } = clip();
    const broken = training.find((i) => i.entry === BROKEN);
    const cases: [string, unknown, number, RegExp][] = [
      ['a range item of the wrong type', { augmentation: { offset_range: [0, 'x'] } }, 400, /offset_range/],
      ['an unknown recipe field', { augmentation: { speed: 1.1 } }, 400, /speed/],
      ['an unknown noise level', { augmentation: { noise_color_level: 'loud' } }, 400, /noise_color_level/],
      ['a negative seed', { seed: -1, augmentation: RECIPE }, 400, /seed/],
      ['an unknown body field', { recipe: RECIPE }, 400, /recipe/],
      ['min above max', { augmentation: { loudness_range: [2, 1] } }, 422, /loudness_range: min 2 is greater than max 1/],
      ['a pitch range with no step', { augmentation: { pitch_range: [0.01, 0.02] } }, 422, /pitch_range/],
    ];
    for (const [what, body, status, pattern] of cases) {
      const res = await preview('audio.wav', index, body);
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
      const problem = res.json();
      assert.match(JSON.stringify(problem), pattern, what);
      if (status === 400) assert.equal(problem.errors?.length, 1, `${what}: ${res.body}`);
    }
    const outside = await preview('audio.wav', index, { augmentation: { bg_noise_dir: '../../../', bg_noise_range: [0.1, 0.2] } });
    assert.equal(outside.statusCode, 403, outside.body);
    assert.equal(outside.json().type, 'https://audiofeed.dev/problems/path-not-allowed');
    assert.equal((await preview('audio.wav', 99999, { augmentation: RECIPE })).statusCode, 404);
    assert.equal((await preview('spectrogram.png', index, { augmentation: RECIPE }, 'no-such-set')).statusCode, 404);
    // The broken clip is in one of the two lists (the split decides which).
    const validation = (await t.app.inject({ url: '/v1/datasets/plain/samples?subset=validation&limit=10000' })).json().items as typeof training;
    const brokenIn = broken ? { subset: 'training', index: broken.index } : { subset: 'validation', index: validation.find((i) => i.entry === BROKEN)!.index };
    {
      const res = await preview('audio.wav', brokenIn.index, { subset: brokenIn.subset, augmentation: RECIPE });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().type, 'https://audiofeed.dev/problems/invalid-wav');
      assert.ok(res.json().reason, res.body);
    }
  });
});

/**
 * Run by test/routes/without-native-addon.test.ts in a child process whose native addon
 * does not load (test/helpers/hide-native-addon.mjs): no native frontend, no libsoxr. The
 * service starts, 16 kHz clips are served by the TypeScript frontend, and a clip at another
 * rate is refused by name (501 resampler-unavailable), never resampled some other way.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { resample, resamplerLogLine, resamplerStatus } from '../../src/core/audio/index.ts';
import { ResamplerUnavailableError } from '../../src/core/errors.ts';
import { TypeScriptBackend } from '../../src/core/frontend/backend.ts';
import { loadNativeFrontend } from '../../src/core/frontend/native.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { computeShard } from '../../src/services/features/compute-shard.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { testdata } from '../helpers/paths.ts';
import { loadSoxrReference, referenceWav } from '../helpers/soxr-reference.ts';
import { injectForm } from '../helpers/multipart.ts';

const P = 'https://audiofeed.dev/problems/';
const at44k = loadSoxrReference().cases.find((c) => c.rate === 44100 && c.channels === 2)!;
const at16k = fs.readFileSync(testdata('bad-wavs', 'reference-valid.wav'));

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t?.close());

async function post(wav: Buffer, settings: Record<string, unknown> = {}) {
  const form = new FormData();
  form.append('settings', JSON.stringify(settings));
  form.append('file', new Blob([wav]), 'clip.wav');
  return injectForm(t.app, '/v1/features', form, { accept: 'application/x-npy' });
}

test('the addon is really missing here, and the resampler says why', () => {
  assert.equal(loadNativeFrontend(), null);
  const status = resamplerStatus();
  assert.equal(status.engine, null);
  assert.match(status.reason, /native addon is not available .*hidden by test\/helpers\/hide-native-addon\.mjs/);
  assert.match(resamplerLogLine(), /^resampler: none .*501 resampler-unavailable; install libsoxr-dev/);
});

test('the service starts and says it cannot resample (GET /v1/info)', async () => {
  const res = await t.app.inject({ url: '/v1/info' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().frontend_backend, 'typescript');
  assert.deepEqual(res.json().resampler.res_type, null);
  assert.match(res.json().resampler.detail, /native addon is not available/);
});

test('POST /v1/features: a 16 kHz clip is served; a 44.1 kHz clip is a 501 resampler-unavailable naming libsoxr', async () => {
  assert.equal((await post(at16k)).statusCode, 200);
  for (const settings of [{}, { frontend_enabled: false }]) {
    const res = await post(referenceWav(at44k), settings);
    assert.equal(res.statusCode, 501, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const p = res.json();
    assert.equal(p.type, P + 'resampler-unavailable');
    assert.equal(p.library, 'libsoxr');
    assert.equal(p.from_hz, 44100);
    assert.match(p.detail, /44100 Hz and needs resampling to 16000 Hz with MLTK's soxr_hq resampler \(libsoxr\)/);
  }
});

test('absurd rates are still the client\'s 422, checked before the missing resampler', () => {
  assert.throws(() => resample(new Float32Array(400), 1, 16000), /rates below 1000 Hz/);
});

test('featurization: a shard holding a 44.1 kHz clip fails with the reason instead of caching it as skipped', async () => {
  const dir = path.join(t.root, 'mixed');
  fs.mkdirSync(path.join(dir, 'yes'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'yes', 'a16k.wav'), at16k);
  fs.writeFileSync(path.join(dir, 'yes', 'b44k.wav'), referenceWav(at44k));
  const spec = { frontendEnabled: true, frontendSettings: resolveFrontendSettings({}), trimThresholdDb: 20 };
  await assert.rejects(
    computeShard({ datasetDir: dir, root: t.root, entries: ['yes/a16k.wav', 'yes/b44k.wav'], spec }, new TypeScriptBackend()),
    (err: unknown) => err instanceof ResamplerUnavailableError && /yes\/b44k\.wav: .*libsoxr/.test(err.message),
  );
  // Without the clip at another rate the shard is computed.
  const ok = await computeShard({ datasetDir: dir, root: t.root, entries: ['yes/a16k.wav', null], spec }, new TypeScriptBackend());
  assert.deepEqual(ok.header.failures, []);
});

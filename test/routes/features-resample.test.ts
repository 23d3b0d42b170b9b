/**
 * POST /v1/features on clips at other rates: the prepared audio (frontend_enabled: false)
 * and the uint16 features are MLTK's (the reference resampling of
 * test/fixtures/soxr-reference.json, then trim, length, int16, frontend) on the native and
 * the TypeScript frontend backends; absurd rates are refused fast with the reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adjustLength, decodeWav, resample, toInt16, trimSilence } from '../../src/core/audio/index.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { frontendSizes, resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { loadSoxrReference, referenceWav, sha256Of, type SoxrReferenceCase } from '../helpers/soxr-reference.ts';
import { wavBytes } from '../helpers/wav.ts';
import { injectForm } from '../helpers/multipart.ts';

const P = 'https://audiofeed.dev/problems/';
const settings = resolveFrontendSettings({});
const cases = loadSoxrReference().cases.filter((c) => c.target_rate === settings.sample_rate_hz);

async function post(t: TestApp, wav: Buffer, body: Record<string, unknown>) {
  const form = new FormData();
  form.append('settings', JSON.stringify(body));
  form.append('file', new Blob([wav]), 'clip.wav');
  return injectForm(t.app, '/v1/features', form, { accept: 'application/x-npy' });
}

/** The reference resampling (its sha256 is the fixture's), then MLTK's later steps. */
function expectedOf(c: SoxrReferenceCase): { prepared: Float32Array; features: Uint16Array } {
  const y = resample(decodeWav(referenceWav(c)).samples, c.rate, c.target_rate);
  assert.equal(sha256Of(y), c.resampled_sha256, `${c.name}: the resampling is the reference's`);
  const prepared = adjustLength(y, trimSilence(y, 20), frontendSizes(settings).sampleLength, 0);
  return { prepared, features: computeSpectrogram(settings, toInt16(prepared)).uint16 };
}

for (const backend of ['native', 'typescript'] as const) {
  describe(`POST /v1/features, ${backend} frontend backend`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ FRONTEND_BACKEND: backend });
    });
    after(async () => t?.close());

    for (const c of cases) {
      test(`${c.name}: prepared audio and uint16 features are MLTK's`, async () => {
        const want = expectedOf(c);
        const audio = await post(t, referenceWav(c), { frontend_enabled: false });
        assert.equal(audio.statusCode, 200, audio.body);
        const a = decodeNpy(audio.rawPayload);
        assert.deepEqual(a.shape, [16000]);
        assert.equal(sha256Of(a.data), sha256Of(want.prepared));

        const feats = await post(t, referenceWav(c), { dtype: 'uint16' });
        assert.equal(feats.statusCode, 200, feats.body);
        assert.equal(feats.headers['x-audiofeed-frontend-backend'], backend);
        const f = decodeNpy(feats.rawPayload);
        assert.deepEqual(f.shape, [98, 32]);
        assert.equal(sha256Of(f.data), sha256Of(want.features));
      });
    }
  });
}

describe('POST /v1/features: absurd sample rates', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t?.close());

  for (const rate of [1, 7]) {
    test(`an 844-byte WAV declaring ${rate} Hz is a 422 invalid-wav with reason sample-rate-too-low`, async () => {
      const wav = wavBytes(Int16Array.from({ length: 400 }, (_, i) => (i * 97) % 3000), rate);
      assert.equal(wav.length, 844);
      for (const body of [{}, { frontend_enabled: false }]) {
        const res = await post(t, wav, body);
        assert.equal(res.statusCode, 422, res.body);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        const p = res.json();
        assert.equal(p.type, P + 'invalid-wav');
        assert.equal(p.reason, 'sample-rate-too-low');
        assert.match(p.detail, new RegExp(`clip\\.wav: resampling from ${rate} Hz to 16000 Hz is refused: rates below 1000 Hz`));
      }
    });
  }
});

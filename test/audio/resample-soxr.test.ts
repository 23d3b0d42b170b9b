/**
 * Resampling is MLTK's: librosa.resample(res_type='soxr_hq') bit for bit, checked against
 * the python-soxr/librosa reference of test/fixtures/soxr-reference.json (8 to 96 kHz and
 * 16001 Hz, mono and stereo: first channel), then through the whole per-clip pipeline
 * (resample -> trim -> length -> int16 -> frontend) on the native and the TypeScript
 * featurization paths. The bounds (rate floor, work caps) refuse before any work.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  adjustLength,
  checkResampleBounds,
  decodeWav,
  MAX_RESAMPLE_INPUT_SAMPLES,
  MAX_RESAMPLE_OUTPUT_SAMPLES,
  MIN_RESAMPLE_RATE_HZ,
  prepareSample,
  resample,
  resamplerStatus,
  toInt16,
  trimSilence,
} from '../../src/core/audio/index.ts';
import { Resampler, type RawResamplerAddon } from '../../src/core/audio/resample.ts';
import { ResamplerUnavailableError, WavDecodeError } from '../../src/core/errors.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { loadNativeAddon } from '../../src/core/native/addon.ts';
import { loadNativeFrontend, WAV_CLIP_NATIVE } from '../../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { featurizeWavBatchNative, featurizeWavBatchTs } from '../../src/core/frontend/wav-batch.ts';
import { loadSoxrReference, referenceWav, sha256Of, type SoxrReferenceCase } from '../helpers/soxr-reference.ts';
import { wavBytes } from '../helpers/wav.ts';

const reference = loadSoxrReference();

function requireSoxr(): RawResamplerAddon {
  const status = resamplerStatus();
  assert.equal(status.engine, 'soxr', `libsoxr must be linked into the addon (${status.reason}): apt-get install libsoxr-dev && npm run build:native`);
  return loadNativeAddon() as RawResamplerAddon;
}

/** The first channel as MLTK reads it (int16 / 32768, float32). */
const firstChannel = (c: SoxrReferenceCase): Float32Array => decodeWav(referenceWav(c)).samples;

function assertReferenceResample(c: SoxrReferenceCase, y: Float32Array): void {
  assert.equal(y.length, c.resampled_length, `${c.name}: length`);
  for (const [i, v] of Object.entries(c.resampled_values)) assert.equal(y[Number(i)], v, `${c.name}: sample ${i}`);
  assert.equal(sha256Of(y), c.resampled_sha256, `${c.name}: every sample`);
}

describe('soxr_hq resampling against python-soxr / librosa', () => {
  test('the reference covers 8k..96k and 16001 Hz, mono and stereo, and was checked against librosa', () => {
    const rates = new Set(reference.cases.map((c) => c.rate));
    for (const r of [8000, 11025, 16001, 22050, 44100, 48000, 96000]) assert.ok(rates.has(r), `${r} Hz`);
    assert.ok(reference.cases.some((c) => c.channels === 2) && reference.cases.some((c) => c.channels === 1));
    assert.equal(reference.python_soxr, '1.1.0');
    assert.ok(reference.librosa, 'the generator compared with librosa.resample');
  });

  test('the addon is built with libsoxr and reports its version', () => {
    const addon = requireSoxr();
    assert.match(addon.soxrVersion!, /^0\.1\.\d/);
    assert.deepEqual(resamplerStatus(), { engine: 'soxr', version: addon.soxrVersion, reason: '' });
  });

  for (const c of reference.cases) {
    test(`${c.name}: bit-identical to librosa.resample (first channel)`, () => {
      requireSoxr();
      assertReferenceResample(c, resample(firstChannel(c), c.rate, c.target_rate));
    });
  }

  test('equal rates are not resampled: the input itself comes back', () => {
    const x = Float32Array.of(0.5, -0.25, 0.125);
    assert.equal(resample(x, 16000, 16000), x);
  });

  test('an empty signal resamples to an empty one', () => {
    requireSoxr();
    assert.equal(resample(new Float32Array(0), 44100, 16000).length, 0);
  });
});

describe('without libsoxr', () => {
  const unavailable = (why: RegExp) => (err: unknown) =>
    err instanceof ResamplerUnavailableError &&
    err.status === 501 &&
    err.type.endsWith('/resampler-unavailable') &&
    /needs resampling to 16000 Hz with MLTK's soxr_hq resampler \(libsoxr\)/.test(err.message) &&
    /apt-get install libsoxr-dev/.test(err.message) &&
    why.test(err.message);

  test('an addon built without libsoxr (soxrVersion null) resamples nothing and says so; equal rates still pass', () => {
    const addon = requireSoxr();
    const r = new Resampler({ ...addon, soxrVersion: null });
    assert.deepEqual(r.status, { engine: null, version: null, reason: 'the native addon was built without libsoxr (pkg-config soxr found nothing)' });
    assert.throws(() => r.resample(new Float32Array(441), 44100, 16000), unavailable(/built without libsoxr/));
    const x = new Float32Array(16);
    assert.equal(r.resample(x, 16000, 16000), x);
    // The bounds still come first: a 1 Hz clip is the client's problem, not the server's.
    assert.throws(() => r.resample(x, 1, 16000), (err: unknown) => err instanceof WavDecodeError && err.reason === 'sample-rate-too-low');
  });

  test('no addon at all: the same refusal, naming why the addon did not load', () => {
    const r = new Resampler(null, '/x/audiofeed_frontend.node does not exist');
    assert.equal(r.status.engine, null);
    assert.throws(() => r.resample(new Float32Array(800), 8000, 16000), unavailable(/native addon is not available \(\/x\/audiofeed_frontend\.node does not exist\)/));
  });
});

describe('bounded work per clip', () => {
  test('the addon enforces the same bounds as the TypeScript check', () => {
    const addon = requireSoxr();
    assert.deepEqual(addon.resampleLimits, {
      minRateHz: MIN_RESAMPLE_RATE_HZ,
      maxInputSamples: MAX_RESAMPLE_INPUT_SAMPLES,
      maxOutputSamples: MAX_RESAMPLE_OUTPUT_SAMPLES,
    });
  });

  const refused = (reason: string) => (err: unknown) => err instanceof WavDecodeError && err.reason === reason && err.status === 422;

  test('844-byte WAVs declaring 1 Hz and 7 Hz are refused with sample-rate-too-low, before resampling', () => {
    for (const rate of [1, 7]) {
      const wav = wavBytes(Int16Array.from({ length: 400 }, (_, i) => (i * 97) % 3000), rate);
      assert.equal(wav.length, 844);
      const decoded = decodeWav(wav);
      assert.throws(() => prepareSample(decoded, { sampleRateHz: 16000, sampleLengthMs: 1000 }), refused('sample-rate-too-low'));
      assert.throws(() => prepareSample(decoded, { sampleRateHz: 16000, sampleLengthMs: 1000 }), /rates below 1000 Hz are not resampled/);
    }
  });

  test('the rate floor: 999 Hz is refused, 1000 Hz is resampled; a target rate below it is refused too', () => {
    requireSoxr();
    const x = new Float32Array(500).fill(0.1);
    assert.throws(() => resample(x, 999, 16000), refused('sample-rate-too-low'));
    assert.equal(resample(x, 1000, 16000).length, 8000);
    assert.throws(() => resample(x, 16000, 500), refused('sample-rate-too-low'));
  });

  test('the output cap: more than MAX_RESAMPLE_OUTPUT_SAMPLES out is refused before any work, natively too', () => {
    const addon = requireSoxr();
    // 1000 Hz -> 384 kHz: 174,763 samples make 67,108,992 > 64 Mi.
    const x = new Float32Array(174763);
    assert.throws(() => resample(x, 1000, 384000), refused('resample-too-large'));
    assert.doesNotThrow(() => checkResampleBounds(174762, 1000, 384000));
    assert.throws(
      () => addon.resample(x, 1000, 384000),
      (err: unknown) => (err as { code?: string; reason?: string }).code === 'ERR_RESAMPLE' && (err as { reason?: string }).reason === 'resample-too-large',
    );
  });

  test('the input cap: more than MAX_RESAMPLE_INPUT_SAMPLES in is refused', () => {
    assert.throws(() => checkResampleBounds(MAX_RESAMPLE_INPUT_SAMPLES + 1, 384000, 16000), refused('resample-too-large'));
    assert.doesNotThrow(() => checkResampleBounds(MAX_RESAMPLE_INPUT_SAMPLES, 384000, 16000));
  });
});

describe('the whole pipeline on the reference clips (resample -> trim -> length -> int16 -> frontend)', () => {
  const settings = resolveFrontendSettings({});
  const { height, width, sampleLength } = frontendSizes(settings);
  const cases = reference.cases.filter((c) => c.target_rate === settings.sample_rate_hz);

  /** MLTK's steps after the (verified) resampling, with the project's reference implementations. */
  function expectedOf(c: SoxrReferenceCase): { prepared: Float32Array; features: Uint16Array } {
    const y = resample(firstChannel(c), c.rate, c.target_rate);
    assertReferenceResample(c, y);
    const prepared = adjustLength(y, trimSilence(y, 20), sampleLength, 0);
    return { prepared, features: computeSpectrogram(settings, toInt16(prepared)).uint16 };
  }

  test('prepareSample gives the reference resampling trimmed and cut/padded to sample_length', () => {
    requireSoxr();
    for (const c of cases) {
      const got = prepareSample(decodeWav(referenceWav(c)), { sampleRateHz: 16000, sampleLengthMs: 1000 });
      assert.equal(sha256Of(got), sha256Of(expectedOf(c).prepared), c.name);
    }
  });

  test('native featurizeWav (clips resampled on the pool) and the TypeScript pipeline give the reference features', async () => {
    requireSoxr();
    const native = loadNativeFrontend();
    assert.ok(native, 'the native addon loads');
    const wavs = cases.map((c) => new Uint8Array(referenceWav(c)));
    const row = height * width;
    const outNative = new Uint16Array(cases.length * row).fill(1);
    const outTs = new Uint16Array(cases.length * row).fill(2);
    const nat = await featurizeWavBatchNative(native, settings, 20, wavs, outNative);
    const ts = await featurizeWavBatchTs(settings, 20, wavs, outTs);
    assert.deepEqual([nat.failures, ts.failures], [[], []]);
    assert.deepEqual(nat.viaTypeScript, [], 'every clip ran natively, resampling included');
    const status = await native.featurizeWav(settings, 20, wavs, new Uint16Array(cases.length * row));
    assert.ok(status.every((s) => s === WAV_CLIP_NATIVE));
    cases.forEach((c, i) => {
      const want = sha256Of(expectedOf(c).features);
      assert.equal(sha256Of(outNative.subarray(i * row, (i + 1) * row)), want, `${c.name}: native`);
      assert.equal(sha256Of(outTs.subarray(i * row, (i + 1) * row)), want, `${c.name}: TypeScript`);
    });
  });
});

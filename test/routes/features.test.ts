/**
 * POST /v1/features against the real app: every dtype and format equals the direct
 * src/ computation, `raw` reproduces the frontend golden vectors byte for byte (device
 * parity), malformed WAVs and settings are problems, PNG is a readable spectrogram.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { computeClipFeatures } from '../../src/services/features/clip-features.ts';
import { decodeWav, prepareSample, toInt16 } from '../../src/core/audio/index.ts';
import { WavDecodeError } from '../../src/core/errors.ts';
import { TypeScriptBackend, selectFrontendBackend } from '../../src/core/frontend/backend.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { loadNativeFrontend } from '../../src/core/frontend/native.ts';
import { convertSpectrogram } from '../../src/core/frontend/output.ts';
import type { FeatureDtype } from '../../src/core/schemas.ts';
import { resolveFrontendSettings, type FrontendSettings } from '../../src/core/frontend/settings.ts';
import { VIRIDIS, colourIndex, spectrogramPngLayout } from '../../src/core/render/spectrogram-png.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { testdata } from '../helpers/paths.ts';
import { wavBytes } from '../helpers/wav.ts';
import { injectForm } from '../helpers/multipart.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t?.close());

interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
}

async function post(parts: Part[], accept?: string) {
  const form = new FormData();
  for (const p of parts) {
    if (p.filename !== undefined) form.append(p.name, new Blob([p.value]), p.filename);
    else form.append(p.name, p.value as string);
  }
  return injectForm(t.app, '/v1/features', form, accept === undefined ? {} : { accept });
}

const settingsPart = (s: unknown): Part => ({ name: 'settings', value: JSON.stringify(s) });
const filePart = (bytes: Buffer, filename = 'clip.wav'): Part => ({ name: 'file', value: bytes, filename });

const referenceWav = fs.readFileSync(testdata('bad-wavs', 'reference-valid.wav'));

/** What the dataset pipeline computes for a clip, straight from src/. */
function expected(wav: Buffer, fe: Partial<FrontendSettings>, dtype: FeatureDtype, trim = 20) {
  const s = resolveFrontendSettings(fe);
  const samples = prepareSample(decodeWav(wav), { sampleRateHz: s.sample_rate_hz, sampleLengthMs: s.sample_length_ms, trimThresholdDb: trim });
  const r = computeSpectrogram(s, toInt16(samples));
  return { shape: [r.height, r.width], data: convertSpectrogram(r.uint16, s, dtype) };
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('POST /v1/features on reference-valid.wav', () => {
  for (const dtype of ['uint16', 'int8', 'float32'] as const) {
    test(`${dtype}: npy equals computeSpectrogram + convertSpectrogram`, async () => {
      const res = await post([settingsPart({ dtype }), filePart(referenceWav)], 'application/x-npy');
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/x-npy');
      assert.equal(res.headers['x-audiofeed-shape'], '98,32');
      assert.equal(res.headers['x-audiofeed-dtype'], dtype);
      const npy = decodeNpy(res.rawPayload);
      const want = expected(referenceWav, {}, dtype);
      assert.equal(npy.dtype, dtype);
      assert.deepEqual(npy.shape, want.shape);
      assert.ok(bytesOf(npy.data).equals(bytesOf(want.data)));
    });

    test(`${dtype}: json equals computeSpectrogram + convertSpectrogram`, async () => {
      const res = await post([settingsPart({ dtype }), filePart(referenceWav)], 'application/json');
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const body = res.json() as { shape: number[]; dtype: string; data: number[][]; frontend_backend: string; activity_detected?: boolean };
      const want = expected(referenceWav, {}, dtype);
      assert.deepEqual(body.shape, [98, 32]);
      assert.equal(body.dtype, dtype);
      assert.equal(body.data.length, 98);
      assert.ok(body.data.every((row) => row.length === 32));
      assert.deepEqual(body.data.flat(), Array.from(want.data));
      assert.equal(body.frontend_backend, res.headers['x-audiofeed-frontend-backend']);
      assert.ok(body.frontend_backend === 'native' || body.frontend_backend === 'typescript');
      assert.equal('activity_detected' in body, false);
    });

    test(`${dtype}: png renders the same values`, async () => {
      const res = await post([settingsPart({ dtype }), filePart(referenceWav)], 'image/png');
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'image/png');
      const png = PNG.sync.read(res.rawPayload);
      const want = expected(referenceWav, {}, dtype);
      let min = Infinity;
      let max = -Infinity;
      for (const v of want.data) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      const layout = spectrogramPngLayout(98, 32, { scale: 4, title: `98x32 ${dtype}`, stepMs: 10 }, { min, max });
      assert.equal(png.width, layout.width);
      assert.equal(png.height, layout.height);
      assert.deepEqual([layout.plot.w, layout.plot.h], [98 * 4, 32 * 4]);
      for (let f = 0; f < 98; f++) {
        for (let c = 0; c < 32; c++) {
          const x = layout.plot.x + f * 4 + 2;
          const y = layout.plot.y + (31 - c) * 4 + 2;
          const i = (y * png.width + x) * 4;
          const colour = [...VIRIDIS[colourIndex(want.data[f * 32 + c]!, min, max)]!];
          assert.deepEqual([png.data[i], png.data[i + 1], png.data[i + 2]], colour, `cell ${f},${c}`);
        }
      }
    });
  }

  test('defaults: no settings and no Accept give float32 npy; */* and application/* too', async () => {
    const want = expected(referenceWav, {}, 'float32');
    for (const accept of [undefined, '*/*', 'application/*', 'text/html;q=0.5, */*;q=0.1']) {
      const res = await post([filePart(referenceWav)], accept);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/x-npy', String(accept));
      const npy = decodeNpy(res.rawPayload);
      assert.equal(npy.dtype, 'float32');
      assert.ok(bytesOf(npy.data).equals(bytesOf(want.data)));
    }
  });

  test('Accept preference order is honoured', async () => {
    const res = await post([filePart(referenceWav)], 'application/x-npy;q=0.2, application/json');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const png = await post([filePart(referenceWav)], 'image/*');
    assert.equal(png.headers['content-type'], 'image/png');
  });

  test('frontend settings, trimming and dynamic int8 are applied', async () => {
    const fe = { window_size_ms: 30, window_step_ms: 20, filterbank_n_channels: 40, quantize_dynamic_scale_enable: true };
    const res = await post([settingsPart({ frontend_settings: fe, dtype: 'int8', trim_threshold_db: 0 }), filePart(referenceWav)]);
    assert.equal(res.statusCode, 200, res.body);
    const npy = decodeNpy(res.rawPayload);
    const want = expected(referenceWav, fe, 'int8', 0);
    assert.deepEqual(npy.shape, [49, 40]);
    assert.ok(bytesOf(npy.data).equals(bytesOf(want.data)));
    // Trimming off must change this clip's features (it has leading/trailing silence).
    assert.ok(!bytesOf(want.data).equals(bytesOf(expected(referenceWav, fe, 'int8', 20).data)));
  });

  test('a clip at another rate is resampled to sample_rate_hz', async () => {
    const short = fs.readFileSync(testdata('bad-wavs', 'valid-short.wav'));
    const fe = { sample_rate_hz: 8000, filterbank_upper_band_limit: 3800 };
    const res = await post([settingsPart({ dtype: 'uint16', frontend_settings: fe }), filePart(short)]);
    assert.equal(res.statusCode, 200, res.body);
    const want = expected(short, fe, 'uint16');
    assert.ok(bytesOf(decodeNpy(res.rawPayload).data).equals(bytesOf(want.data)));
  });

  test('frontend_enabled: false returns the prepared float32 audio', async () => {
    const res = await post([settingsPart({ frontend_enabled: false }), filePart(referenceWav)]);
    assert.equal(res.statusCode, 200, res.body);
    const npy = decodeNpy(res.rawPayload);
    const want = prepareSample(decodeWav(referenceWav), { sampleRateHz: 16000, sampleLengthMs: 1000, trimThresholdDb: 20 });
    assert.deepEqual(npy.shape, [16000]);
    assert.ok(bytesOf(npy.data).equals(bytesOf(want)));
    assert.equal(res.headers['x-audiofeed-frontend-backend'], 'none');

    const int8 = await post([settingsPart({ frontend_enabled: false, dtype: 'int8' }), filePart(referenceWav)]);
    assert.equal(int8.statusCode, 422);
    assert.match(int8.json().detail, /only dtype float32/);
    const png = await post([settingsPart({ frontend_enabled: false }), filePart(referenceWav)], 'image/png');
    assert.equal(png.statusCode, 422);
    assert.match(png.json().detail, /not a spectrogram/);
  });
});

interface Vector {
  name: string;
  settings: Partial<FrontendSettings>;
  input: { sample_rate_hz: number; num_samples: number; pcm_int16_base64: string };
  shape: [number, number];
  uint16_base64: string;
  int8_returned_by_mltk: 'int8_base64' | 'int8_dynamic_base64';
  int8_base64: string;
  int8_dynamic_base64?: string;
  activity_detected?: boolean;
}

const vectorDir = testdata('frontend');
const vectors: Vector[] = fs
  .readdirSync(vectorDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(vectorDir, f), 'utf8')) as Vector);

function vectorWav(v: Vector): Buffer {
  const pcm = Buffer.from(v.input.pcm_int16_base64, 'base64');
  return wavBytes(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength / 2), v.input.sample_rate_hz);
}

describe('raw: device parity with the frontend golden vectors', () => {
  test('there are vectors to check', () => assert.ok(vectors.length >= 10));

  for (const v of vectors) {
    test(`${v.name}: uint16 and int8 equal the vector byte for byte`, async () => {
      const wav = vectorWav(v);
      const res = await post([settingsPart({ raw: true, dtype: 'uint16', frontend_settings: v.settings }), filePart(wav)]);
      assert.equal(res.statusCode, 200, res.body);
      const npy = decodeNpy(res.rawPayload);
      assert.deepEqual(npy.shape, v.shape);
      assert.ok(bytesOf(npy.data).equals(Buffer.from(v.uint16_base64, 'base64')), 'uint16 bytes');

      const int8 = await post([settingsPart({ raw: true, dtype: 'int8', frontend_settings: v.settings }), filePart(wav)], 'application/json');
      assert.equal(int8.statusCode, 200, int8.body);
      const body = int8.json() as { data: number[][]; activity_detected?: boolean };
      const mltk = Buffer.from(v[v.int8_returned_by_mltk]!, 'base64');
      assert.deepEqual(body.data.flat(), Array.from(new Int8Array(mltk.buffer, mltk.byteOffset, mltk.byteLength)));
      assert.equal(body.activity_detected, v.activity_detected);
    });
  }

  test('without raw the same clip is trimmed and padded, so the features differ', async () => {
    const v = vectors.find((x) => x.name === 'defaults_speech_yes')!;
    const res = await post([settingsPart({ dtype: 'uint16', frontend_settings: v.settings }), filePart(vectorWav(v))]);
    assert.equal(res.statusCode, 200);
    assert.ok(!bytesOf(decodeNpy(res.rawPayload).data).equals(Buffer.from(v.uint16_base64, 'base64')));
  });

  test('a raw clip of the wrong length or rate is a 422 saying what is needed', async () => {
    const short = await post([settingsPart({ raw: true }), filePart(fs.readFileSync(testdata('bad-wavs', 'valid-short.wav')))]);
    assert.equal(short.statusCode, 422);
    const p = short.json();
    assert.equal(p.type, 'https://audiofeed.dev/problems/invalid-settings');
    assert.equal(p.required_samples, 16000);
    assert.equal(p.clip_samples, 4000);
    assert.match(p.detail, /need exactly 16000 samples at 16000 Hz/);

    const rate = await post([settingsPart({ raw: true }), filePart(wavBytes(new Int16Array(16000), 8000))]);
    assert.equal(rate.statusCode, 422);
    assert.equal(rate.json().required_sample_rate_hz, 16000);
    assert.equal(rate.json().clip_sample_rate_hz, 8000);

    const both = await post([settingsPart({ raw: true, trim_threshold_db: 10 }), filePart(referenceWav)]);
    assert.equal(both.statusCode, 422);
    assert.match(both.json().detail, /raw skips trimming/);
  });

  test('activity detection reads the same flag on the TypeScript and native backends', async () => {
    const v = vectors.find((x) => x.activity_detected !== undefined)!;
    const backends = [new TypeScriptBackend(), ...(loadNativeFrontend() ? [selectFrontendBackend('native')] : [])];
    for (const backend of backends) {
      const f = await computeClipFeatures(vectorWav(v), { raw: true, dtype: 'uint16', frontend_settings: v.settings }, backend);
      assert.equal(f.frontendBackend, backend.name);
      assert.equal(f.activityDetected, v.activity_detected, backend.name);
      assert.ok(bytesOf(f.data).equals(Buffer.from(v.uint16_base64, 'base64')), backend.name);
    }
  });
});

describe('bad WAV files', () => {
  const rejected = [
    'empty.wav', 'not-riff.wav', 'riff-wrong-form-type.wav', 'truncated-header.wav', 'truncated-data.wav',
    'data-size-ffffffff.wav', 'claims-10-hours.wav', 'fmt-channels-0.wav', 'fmt-sample-rate-0.wav',
    'fmt-sample-rate-4ghz.wav', 'fmt-bits-7.wav', 'fmt-block-align-mismatch.wav', 'fmt-mp3-0x0055.wav',
    'fmt-adpcm-0x0002.wav', 'fmt-chunk-too-small.wav', 'no-fmt-chunk.wav', 'no-data-chunk.wav',
    'data-chunk-empty.wav', 'odd-chunk-unpadded.wav', 'chunk-size-2gib.wav', 'chunk-size-negative.wav',
    'png-named-wav.wav',
  ];
  for (const name of rejected) {
    test(`${name} is a 422 invalid-wav problem with the decoder's reason`, async () => {
      const bytes = fs.readFileSync(testdata('bad-wavs', name));
      const reason = (() => {
        try {
          decodeWav(bytes);
        } catch (err) {
          if (err instanceof WavDecodeError) return err.reason;
        }
        return null;
      })();
      assert.ok(reason, `${name} must be rejected by decodeWav`);
      const res = await post([filePart(bytes, name)]);
      assert.equal(res.statusCode, 422, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const p = res.json();
      assert.equal(p.type, 'https://audiofeed.dev/problems/invalid-wav');
      assert.equal(p.reason, reason);
      assert.equal(p.file, name);
      assert.ok(p.detail.startsWith(`${name}: `) && p.detail.length > name.length + 5, p.detail);
    });
  }

  for (const name of ['valid-short.wav', 'odd-chunk-padded.wav', 'valid-then-garbage.wav']) {
    test(`${name} is accepted`, async () => {
      const res = await post([filePart(fs.readFileSync(testdata('bad-wavs', name)), name)]);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(decodeNpy(res.rawPayload).shape, [98, 32]);
    });
  }
});

describe('request errors', () => {
  const problemOf = (res: { statusCode: number; json(): any }, status: number, type: string) => {
    assert.equal(res.statusCode, status);
    const p = res.json();
    assert.equal(p.type, `https://audiofeed.dev/problems/${type}`);
    return p;
  };

  test('settings that do not match the schema are 422 with each location', async () => {
    let p = problemOf(await post([settingsPart({ dtype: 'int16', colour: 'red' }), filePart(referenceWav)]), 422, 'invalid-settings');
    assert.match(p.detail, /unknown field "colour"/);
    assert.match(p.detail, /settings\/dtype: must be one of uint16, int8, float32/);
    assert.deepEqual(p.errors.map((e: { location: string }) => e.location).sort(), ['settings', 'settings/dtype']);

    p = problemOf(await post([settingsPart({ frontend_settings: { window_step: 10 } }), filePart(referenceWav)]), 422, 'invalid-settings');
    assert.match(p.detail, /settings\/frontend_settings: unknown field "window_step"/);

    p = problemOf(await post([settingsPart({ frontend_settings: { sample_rate_hz: 16000.5 } }), filePart(referenceWav)]), 422, 'invalid-settings');
    assert.match(p.detail, /sample_rate_hz: must be integer/);

    p = problemOf(await post([settingsPart({ trim_threshold_db: -1 }), filePart(referenceWav)]), 422, 'invalid-settings');
    p = problemOf(await post([settingsPart([1, 2]), filePart(referenceWav)]), 422, 'invalid-settings');
  });

  test('frontend settings the frontend cannot run are 422 naming the setting', async () => {
    const p = problemOf(
      await post([settingsPart({ frontend_settings: { window_size_ms: 10, window_step_ms: 20 } }), filePart(referenceWav)]),
      422,
      'invalid-frontend-settings',
    );
    assert.equal(p.setting, 'window_step_ms');
  });

  test('malformed settings JSON is 400, the settings field may come after the file', async () => {
    problemOf(await post([{ name: 'settings', value: '{"dtype":' }, filePart(referenceWav)]), 400, 'malformed-json');
    const res = await post([filePart(referenceWav), settingsPart({ dtype: 'int8' })]);
    assert.equal(res.statusCode, 200);
    assert.equal(decodeNpy(res.rawPayload).dtype, 'int8');
  });

  test('settings as a JSON-typed part or as a file part (curl -F settings=@s.json) are applied; a settings file part is not the clip', async () => {
    for (const part of [new Blob([JSON.stringify({ dtype: 'int8' })], { type: 'application/json' }), new File([JSON.stringify({ dtype: 'int8' })], 's.json')]) {
      const form = new FormData();
      form.append('settings', part);
      form.append('file', new Blob([referenceWav]), 'clip.wav');
      const res = await injectForm(t.app, '/v1/features', form);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(decodeNpy(res.rawPayload).dtype, 'int8');
    }
    const bad = new FormData();
    bad.append('settings', new Blob(['{"dtype":'], { type: 'application/json' }));
    bad.append('file', new Blob([referenceWav]), 'clip.wav');
    problemOf(await injectForm(t.app, '/v1/features', bad), 400, 'malformed-json');
    const twice = new FormData();
    twice.append('settings', new File(['{}'], 'a.json'));
    twice.append('settings', '{}');
    twice.append('file', new Blob([referenceWav]), 'clip.wav');
    problemOf(await injectForm(t.app, '/v1/features', twice), 400, 'duplicate-field');
  });

  test('a missing file, two files or an unknown field are 400', async () => {
    problemOf(await post([settingsPart({ dtype: 'int8' })]), 400, 'wav-file-required');
    problemOf(await post([filePart(referenceWav), filePart(referenceWav, 'b.wav')]), 400, 'too-many-files');
    problemOf(await post([{ name: 'mode', value: 'x' }, filePart(referenceWav)]), 400, 'unexpected-field');
  });

  test('a non-multipart body is 415, an unanswerable Accept is 406', async () => {
    const json = await t.app.inject({ method: 'POST', url: '/v1/features', payload: { dtype: 'int8' } });
    problemOf(json, 415, 'unsupported-media-type');
    const p = problemOf(await post([filePart(referenceWav)], 'text/csv'), 406, 'not-acceptable');
    assert.match(p.detail, /application\/x-npy, application\/json, image\/png/);
  });
});

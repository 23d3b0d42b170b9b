/**
 * Issue #11: resource bounds and strict input. Every request that would exceed a limit,
 * or carries a body of the wrong type or shape, is a 4xx problem+json naming what to fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { makeTree, smallCorpus, toneWav } from '../helpers/wav.ts';
import { injectForm } from '../helpers/multipart.ts';

const P = 'https://audiofeed.dev/problems/';

function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, type: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(JSON.parse(res.body).type, P + type, res.body);
}

describe('bounds and strict input', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    smallCorpus(t.root);
  });
  after(async () => t?.close());

  const base = () => ({ source: { type: 'directory', path: '.' }, classes: ['yes', 'no'] });

  test('POST /v1/datasets with a body that is neither JSON nor multipart is 415 listing the accepted types', async () => {
    for (const type of ['application/octet-stream', 'application/x-tar', 'text/plain', undefined]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/datasets',
        headers: type ? { 'content-type': type } : {},
        payload: type ? Buffer.from(JSON.stringify(base())) : undefined,
      });
      assertProblem(res, 415, 'unsupported-media-type');
      assert.deepEqual(res.json().accepted, ['application/json', 'multipart/form-data'], String(type));
    }
  });

  test('every route with a body answers 415 for a type it does not take', async () => {
    const reg = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base(), name: 'mt', shuffle_dataset_enabled: true } });
    assert.equal(reg.statusCode, 201, reg.body);
    const cases: Array<[string, string, string]> = [
      ['POST', '/v1/datasets/mt/load', 'text/plain'],
      ['POST', '/v1/datasets/mt/featurize', 'application/x-tar'],
      ['POST', '/v1/datasets/mt/sample-weights', 'text/plain'],
      ['PUT', '/v1/datasets/mt/index', 'application/json'],
      ['POST', '/v1/features', 'application/octet-stream'],
    ];
    for (const [method, url, type] of cases) {
      const res = await t.app.inject({ method: method as 'POST', url, headers: { 'content-type': type }, payload: '{}' });
      assertProblem(res, 415, 'unsupported-media-type');
      assert.ok(Array.isArray(res.json().accepted), url);
    }
  });

  test('JSON bodies are validated as sent (no coercion); query strings still coerce', async () => {
    for (const over of [{ name: 5 }, { validation_split: '0.2' }, { shuffle_dataset_enabled: 'true' }, { classes: 'yes' }, { seed: '3' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base(), ...over } });
      assertProblem(res, 400, 'validation-error');
    }
    const ok = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base(), name: 'coerce', validation_split: 0.2 } });
    assert.equal(ok.statusCode, 201, ok.body);
    const del = await t.app.inject({ method: 'DELETE', url: '/v1/datasets/coerce?purge=true' });
    assert.equal(del.statusCode, 204);
  });
});

describe('registration bounds', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ MAX_SUBSET_ENTRIES: '40' });
    smallCorpus(t.root);
  });
  after(async () => t?.close());

  const reg = (over: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { source: { type: 'directory', path: '.' }, classes: ['yes', 'no'], ...over } });

  test('percentages beyond the schema bound are 400, never a 500 Invalid array length', async () => {
    for (const pct of [1e6, 1e9, 1e300]) {
      assertProblem(await reg({ classes: ['yes', 'no', '_silence_'], silence_class_percentage: pct }), 400, 'validation-error');
      assertProblem(await reg({ classes: ['yes', 'no', '_unknown_'], unknown_class_percentage: pct }), 400, 'validation-error');
    }
  });

  test('a subset larger than MAX_SUBSET_ENTRIES is a 422 naming the limit and the variable', async () => {
    const res = await reg({ classes: ['yes', 'no', '_silence_'], silence_class_percentage: 100 });
    assertProblem(res, 422, 'subset-too-large');
    const body = res.json();
    assert.equal(body.limit, 40);
    assert.equal(body.setting, 'MAX_SUBSET_ENTRIES');
    assert.ok(body.requested > 40);
    assert.match(body.detail, /MAX_SUBSET_ENTRIES/);
    // Within the limit it registers.
    const ok = await reg({ classes: ['yes', 'no', '_silence_'], silence_class_percentage: 2, name: 'within' });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test('frontend_enabled false: sample_shape must hold exactly one clip of samples (422)', async () => {
    for (const shape of [[100000000], [16001], [100, 100]]) {
      const res = await reg({ frontend_enabled: false, sample_shape: shape });
      assertProblem(res, 422, 'invalid-settings');
      assert.equal(res.json().expected_elements, 16000);
    }
    const ok = await reg({ frontend_enabled: false, sample_shape: [16000, 1], name: 'raw', dtype: 'float32' });
    assert.equal(ok.statusCode, 201, ok.body);
    const half = await reg({ frontend_enabled: false, sample_shape: [8000], frontend_settings: { sample_length_ms: 500 }, name: 'raw-half' });
    assert.equal(half.statusCode, 201, half.body);
  });

  test('invalid class_weights are 422 at registration; strings keep MLTK behaviour', async () => {
    for (const w of [[1, -1], [1], [1, 2, 3], { yes: 1, no: 2, maybe: 3 }, { yes: 1 }, { yes: -0.5, no: 1 }, { 0: 1, 5: 2 }]) {
      const res = await reg({ class_weights: w });
      assertProblem(res, 422, 'invalid-settings');
      assert.equal(res.json().field, 'class_weights', JSON.stringify(w));
    }
    const nonFinite = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      headers: { 'content-type': 'application/json' },
      payload: '{"source":{"type":"directory","path":"."},"classes":["yes","no"],"class_weights":[1,1e999]}',
    });
    assert.ok(nonFinite.statusCode === 422 || nonFinite.statusCode === 400, nonFinite.body);
    for (const [name, w] of [['w1', [1, 2]], ['w2', { yes: 1, no: 0.5 }], ['w3', { 0: 1, 1: 2 }], ['w4', 'balanced'], ['w5', 'none'], ['w6', 'bogus']] as const) {
      const res = await reg({ name, class_weights: w });
      assert.equal(res.statusCode, 201, `${JSON.stringify(w)}: ${res.body}`);
    }
    const bogus = (await t.app.inject({ url: '/v1/datasets/w6/class-weights' })).json();
    assert.equal(bogus.value, null);
    assert.match(String(bogus.warning), /Failed to compute class weights/);
  });
});

describe('control characters never reach an index file', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    for (const dir of ['ctl-generic', 'ctl-speech-commands-v2']) {
      smallCorpus(path.join(t.root, dir));
      makeTree(path.join(t.root, dir), { 'yes/evil\nname.wav': toneWav(), 'yes/cr\r.wav': toneWav(), 'yes/sub\u0001dir/x.wav': toneWav(), 'no/c1\u0085.wav': toneWav() });
    }
  });
  after(async () => t?.close());

  test('a directory listing skips such names with a warning; the index holds only clean lines', async () => {
    for (const listing of ['generic', 'speech_commands_v2'] as const) {
      const name = `ctl-${listing.replaceAll('_', '-')}`;
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/datasets',
        payload: { name, source: { type: 'directory', path: name }, classes: ['yes', 'no'], listing },
      });
      assert.equal(res.statusCode, 201, res.body);
      const warnings: string[] = res.json().warnings;
      for (const shown of ['yes/evil\\nname.wav', 'yes/cr\\r.wav', 'yes/sub\\u0001dir', 'no/c1\\u0085.wav']) {
        assert.ok(warnings.some((w) => w.includes(shown) && /control character/.test(w)), `${shown} in ${JSON.stringify(warnings)}`);
      }
      const index = await t.app.inject({ url: `/v1/datasets/${name}/index`, headers: { accept: 'application/json' } });
      const files: Record<string, string> = index.json().files;
      assert.deepEqual(Object.keys(files).sort(), ['no.txt', 'yes.txt']);
      assert.equal(files['yes.txt']!.trim().split('\n').length, 6);
      assert.equal(files['no.txt']!.trim().split('\n').length, 5);
      for (const text of Object.values(files)) assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(text));
      // A second load reuses the index (no "re-generating" warning).
      const again = await t.app.inject({ method: 'POST', url: `/v1/datasets/${name}/load`, payload: { subset: 'training' } });
      assert.equal(again.statusCode, 200, again.body);
      assert.ok(!again.json().warnings.some((w: string) => /re-generating/.test(w)), JSON.stringify(again.json().warnings));
    }
  });

  test('an index file read back with a control character in a line is regenerated, with a warning', async () => {
    const rec = (await t.app.inject({ url: '/v1/datasets/ctl-generic' })).json();
    const file = rec.index.files.find((f: string) => f.endsWith('yes.txt'));
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('yes/y1.wav', 'yes/y1\u0001.wav'));
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/ctl-generic/load', payload: { subset: 'training' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.json().warnings.some((w: string) => /yes\.txt has an entry with a control character .*re-generating/.test(w)), JSON.stringify(res.json().warnings));
    assert.ok(!fs.readFileSync(file, 'utf8').includes('\u0001'));
  });

  test('class names with control characters are refused (422)', async () => {
    for (const c of ['ye\ns', 'y\u0085', 'n\u007fo', 'tab\t']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { source: { type: 'directory', path: 'ctl-generic' }, classes: [c, 'no'] } });
      assertProblem(res, 422, 'invalid-settings');
    }
  });
});

describe('errors answered before routing are problem+json (real socket)', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(async () => t?.close());

  /** Sends raw bytes, returns the status, headers and body of the answer. */
  function raw(request: string): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write(request));
      let data = '';
      sock.setTimeout(10_000, () => sock.destroy(new Error('no answer')));
      sock.on('data', (d) => (data += d.toString('latin1')));
      sock.on('error', (e) => (data ? undefined : reject(e)));
      sock.on('close', () => {
        const [head, ...rest] = data.split('\r\n\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]);
        const type = /content-type: ([^\r\n]+)/i.exec(head ?? '')?.[1] ?? '';
        try {
          resolve({ status, type, body: JSON.parse(rest.join('\r\n\r\n')) });
        } catch {
          reject(new Error(`not JSON: ${data.slice(0, 300)}`));
        }
      });
    });
  }

  test('431 for oversize headers, 414 for an over-long URL or path parameter', async () => {
    const big = await raw(`GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(big.status, 431);
    assert.match(big.type, /^application\/problem\+json/);
    assert.equal(big.body.type, P + 'headers-too-large');

    for (const n of [9_000, 20_000]) {
      const long = await raw(`GET /v1/datasets?x=${'a'.repeat(n)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(long.status, 414, String(n));
      assert.match(long.type, /^application\/problem\+json/);
      assert.equal(long.body.type, P + 'uri-too-long');
    }
    const param = await raw(`GET /v1/datasets/${'a'.repeat(200)}/batches HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(param.status, 414);
    assert.equal(param.body.type, P + 'uri-too-long');
    const bad = await raw(`GET /v1/datasets/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(bad.status, 400);
    assert.match(bad.type, /^application\/problem\+json/);
    const garbage = await raw(`NOT HTTP AT ALL\r\n\r\n`);
    assert.equal(garbage.status, 400);
    assert.match(garbage.type, /^application\/problem\+json/);
  });
});

describe('no server path outside a data root in an error', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    smallCorpus(path.join(t.root, 'd'));
  });
  after(async () => t?.close());

  test('bg_noise_dir: the root is checked before existence (an outside path gives one answer whether it exists or not)', async () => {
    const outsideExisting = path.dirname(t.root); // exists, outside the root
    const answers = [];
    for (const dir of [outsideExisting, path.join(outsideExisting, 'no-such-dir'), '../../../../etc', '../../../../no-such-dir-xyz']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/datasets',
        payload: { source: { type: 'directory', path: 'd' }, classes: ['yes', 'no'], augmentation: { bg_noise_dir: dir, bg_noise_range: [0.1, 0.2] } },
      });
      assertProblem(res, 403, 'path-not-allowed');
      answers.push(res.json().detail.replace(JSON.stringify(dir), '<dir>'));
    }
    assert.equal(new Set(answers).size, 1, JSON.stringify(answers));
    const missing = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'directory', path: 'd' }, classes: ['yes', 'no'], augmentation: { bg_noise_dir: 'nope', bg_noise_range: [0.1, 0.2] } },
    });
    assertProblem(missing, 422, 'bg-noise-dir-not-found');
    assert.ok(!missing.body.includes(t.base), missing.body);
  });

  test('an upload that fails names no DATA_DIR path (uploads, temp directories)', async () => {
    const form = new FormData();
    form.append('settings', JSON.stringify({ classes: ['yes', 'absent'] }));
    form.append('file', new Blob([toneWav()]), 'yes/a.wav');
    form.append('file', new Blob([toneWav()]), 'no/b.wav');
    const res = await injectForm(t.app, '/v1/datasets', form);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, res.body);
    assert.ok(!res.body.includes(t.dataDir), res.body);
    assert.ok(!res.body.includes(t.base), res.body);
    assert.match(res.body, /absent/);
  });
});

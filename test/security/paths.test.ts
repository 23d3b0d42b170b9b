/**
 * Path traversal through every field that takes a path or a name, symlink escapes, and
 * oversize uploads: all refused, nothing written outside, nothing left behind.
 *
 * Already covered elsewhere (not repeated here):
 *   test/routes/datasets.test.ts  directory source: absolute path outside the roots (/etc),
 *                                 `../../..` out of a root, a symlink inside the dataset
 *                                 leading outside the root.
 *   test/routes/uploads.test.ts   zip entry `../../evil.wav` (zip-slip), absolute zip entry,
 *                                 symlink entries in zip and tar, multipart filename with `..`,
 *                                 oversize multipart file (413, temp dir empty), loader name
 *                                 `../src/main`, loader archive `/etc/hostname`.
 * Here:
 *   dataset id in every kind of URL and as the registration `name`; directory source that
 *   is itself a symlink out, a sibling sharing the root's name prefix, `x/../../..` through
 *   a real directory, a NUL byte; loader names (absolute, nested, dots) and loader archive
 *   paths (relative `..`, symlink out, archive with hostile entries); tar entries `../` and
 *   absolute (zip-slip in tar), multipart filenames absolute, with backslashes, with NUL;
 *   job ids in URLs; sample_weight_id; a pinned index (PUT …/index) with hostile entries;
 *   an upload that unpacks beyond UPLOAD_MAX_UNPACKED_BYTES and an oversize archive (413,
 *   temp files gone, disk usage of DATA_DIR back to what it was).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { smallCorpus, toneWav } from '../helpers/wav.ts';
import { injectForm } from '../helpers/multipart.ts';

let t: TestApp;
let outside: string;

before(async () => {
  t = await startTestApp({ UPLOAD_MAX_BYTES: String(256 * 1024), UPLOAD_MAX_UNPACKED_BYTES: String(512 * 1024) });
  smallCorpus(path.join(t.root, 'small'));
  // A directory beside the root (same parent), to escape into.
  outside = path.join(t.base, 'outside');
  smallCorpus(outside);
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/datasets',
    payload: { name: 'small', source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'], shuffle_dataset_enabled: true },
  });
  assert.equal(res.statusCode, 201, res.body);
});
after(async () => t?.close());

type Res = { statusCode: number; headers: Record<string, unknown>; body: string; json(): any };

function assertRefused(res: Res, status: number | number[], type?: string | RegExp) {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(res.statusCode), `expected ${statuses.join('/')}, got ${res.statusCode}: ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  if (type) assert.match(res.json().type, typeof type === 'string' ? new RegExp(`/problems/${type}$`) : type);
}

/** Nothing new appeared outside the root, the data dir and the dataset dirs. */
function outsideUntouched() {
  const names = fs.readdirSync(t.base).sort();
  assert.deepEqual(names, ['data', 'outside', 'root']);
  assert.deepEqual(fs.readdirSync(outside).sort(), ['maybe', 'no', 'yes']);
}

function duBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return total;
}

function tmpLeftovers(): string[] {
  const tmp = path.join(t.dataDir, 'tmp');
  return fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
}

/** zip or tar with any entry names (Python writes what it is asked to). */
function archive(kind: 'zip' | 'tar', entries: Record<string, Buffer | string>): Buffer {
  const out = path.join(t.base, `a-${Math.random().toString(36).slice(2)}.${kind}`);
  const spec = JSON.stringify(Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v).toString('base64')])));
  execFileSync(
    'python3',
    [
      '-c',
      `
import base64, io, json, sys, tarfile, zipfile
kind, out, spec = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
if kind == 'zip':
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, b64 in spec.items():
            z.writestr(name, base64.b64decode(b64))
else:
    with tarfile.open(out, 'w') as tf:
        for name, b64 in spec.items():
            data = base64.b64decode(b64)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
`,
      kind,
      out,
    ],
    { timeout: 240_000, input: spec },
  );
  const buf = fs.readFileSync(out);
  fs.rmSync(out);
  return buf;
}

async function upload(name: string, files: { value: Buffer; filename: string }[]): Promise<Res> {
  const form = new FormData();
  form.append('settings', JSON.stringify({ name, classes: ['yes', 'no'] }));
  for (const f of files) form.append('file', new Blob([f.value]), f.filename);
  return injectForm(t.app, '/v1/datasets', form);
}

/** Multipart with a raw filename (FormData would normalise some). */
function rawMultipart(filename: string, content: Buffer): { headers: Record<string, string>; payload: Buffer } {
  const boundary = 'audiofeedboundary7d1';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="settings"\r\n\r\n${JSON.stringify({ name: 'rawname', classes: ['yes', 'no'] })}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: audio/wav\r\n\r\n`, 'latin1'),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload };
}

const register = (body: object) => t.app.inject({ method: 'POST', url: '/v1/datasets', payload: body as Record<string, unknown> });

describe('dataset ids', () => {
  const hostile = ['..', '../small', '..%2F..%2Fetc', '%2e%2e', '.hidden', 'small%00', 'a%2Fb', '%2Fetc%2Fpasswd', 'x'.repeat(65)];
  const suffixes = ['', '/summary', '/class-counts', '/class-weights', '/samples', '/index', '/batches', '/validation-schedule?epochs=1'];
  test('in every GET URL: 400 (or 404 when the path no longer matches a route)', async () => {
    for (const id of hostile) {
      for (const s of suffixes) {
        const res = await t.app.inject({ url: `/v1/datasets/${id}${s}` });
        assertRefused(res, [400, 404]);
        assert.ok(!/"audio_classes"/.test(res.body));
      }
    }
  });
  test('in every mutating URL', async () => {
    for (const id of hostile) {
      for (const [method, s] of [
        ['DELETE', ''],
        ['POST', '/unload'],
        ['POST', '/reindex'],
        ['POST', '/featurize'],
      ] as const) {
        assertRefused(await t.app.inject({ method, url: `/v1/datasets/${id}${s}` }), [400, 404]);
      }
    }
    assert.equal((await t.app.inject({ url: '/v1/datasets/small' })).statusCode, 200);
  });
  test('as the registration name', async () => {
    for (const name of ['../evil', '/abs', '.dot', 'a/b', 'a\\b', 'x'.repeat(65)]) {
      assertRefused(await register({ name, source: { type: 'directory', path: 'small' }, classes: ['yes'] }), 400, 'validation-error');
    }
    outsideUntouched();
  });
});

describe('directory source paths', () => {
  test('a source path that is itself a symlink leading outside → 403', async () => {
    fs.symlinkSync(outside, path.join(t.root, 'link-out'));
    assertRefused(await register({ classes: ['yes', 'no'], source: { type: 'directory', path: 'link-out' } }), 403, 'path-not-allowed');
    fs.symlinkSync(outside, path.join(t.root, 'small', 'nested-out'));
    assertRefused(await register({ classes: ['yes', 'no'], source: { type: 'directory', path: 'small/nested-out' } }), 403, 'path-not-allowed');
    fs.rmSync(path.join(t.root, 'small', 'nested-out'));
  });
  test('a sibling directory whose name starts with the root name → 403', async () => {
    const sibling = `${t.root}-evil`;
    smallCorpus(sibling);
    try {
      assertRefused(await register({ classes: ['yes', 'no'], source: { type: 'directory', path: sibling } }), 403, 'path-not-allowed');
      assertRefused(await register({ classes: ['yes', 'no'], source: { type: 'directory', path: '../root-evil' } }), 403, 'path-not-allowed');
    } finally {
      fs.rmSync(sibling, { recursive: true, force: true });
    }
  });
  test('.. through a real directory, and a NUL byte', async () => {
    assertRefused(await register({ classes: ['yes', 'no'], source: { type: 'directory', path: 'small/../../outside' } }), 403, 'path-not-allowed');
    assertRefused(await register({ classes: ['yes', 'no'], source: { type: 'directory', path: 'small\u0000/../../outside' } }), 403);
    outsideUntouched();
  });
});

describe('loader sources', () => {
  test('loader names that are paths → 400', async () => {
    for (const name of ['/etc/passwd', 'speech_commands_v2/../x', '..', '.', 'speech_commands_v2.ts', '']) {
      assertRefused(await register({ source: { type: 'loader', name }, classes: ['yes'] }), 400, 'validation-error');
    }
  });
  test('a loader archive reached by .. or through a symlink → 403', async () => {
    fs.writeFileSync(path.join(outside, 'sc.tar'), archive('tar', { 'yes/a.wav': toneWav() }));
    const rel = path.relative(t.root, path.join(outside, 'sc.tar'));
    assertRefused(await register({ source: { type: 'loader', name: 'speech_commands_v2', options: { archive: rel } }, classes: ['yes'] }), 403, 'path-not-allowed');
    fs.symlinkSync(path.join(outside, 'sc.tar'), path.join(t.root, 'sc-link.tar'));
    assertRefused(
      await register({ source: { type: 'loader', name: 'speech_commands_v2', options: { archive: 'sc-link.tar' } }, classes: ['yes'] }),
      403,
      'path-not-allowed',
    );
    fs.rmSync(path.join(outside, 'sc.tar'));
  });
  test('a loader archive with hostile entries → 400, nothing written outside', async () => {
    fs.writeFileSync(path.join(t.root, 'evil-sc.tar'), archive('tar', { 'yes/a.wav': toneWav(), '../../../outside/evil.wav': toneWav() }));
    assertRefused(
      await register({ source: { type: 'loader', name: 'speech_commands_v2', options: { archive: 'evil-sc.tar' } }, classes: ['yes'] }),
      400,
      'unsafe-upload-entry',
    );
    outsideUntouched();
  });
});

describe('upload entries and filenames', () => {
  test('tar entries with ../ (zip-slip in a tar) and absolute names → 400', async () => {
    for (const evil of ['../../outside/evil.wav', 'yes/../../../outside/evil.wav', '/tmp/audiofeed-evil.wav']) {
      const res = await upload('tarslip', [{ value: archive('tar', { 'yes/a.wav': toneWav(), [evil]: toneWav() }), filename: 'e.tar' }]);
      assertRefused(res, 400, 'unsafe-upload-entry');
    }
    assert.equal(fs.existsSync('/tmp/audiofeed-evil.wav'), false);
    assert.deepEqual(tmpLeftovers(), []);
    outsideUntouched();
  });
  test('zip entries with backslash traversal → 400', async () => {
    const res = await upload('zipbs', [{ value: archive('zip', { 'yes/a.wav': toneWav(), '..\\..\\evil.wav': toneWav() }), filename: 'e.zip' }]);
    assertRefused(res, 400, 'unsafe-upload-entry');
    assert.deepEqual(tmpLeftovers(), []);
  });
  test('multipart filenames: absolute, backslashes, NUL, drive letter → 400', async () => {
    for (const filename of ['/etc/evil.wav', '..\\..\\evil.wav', 'yes\\..\\..\\evil.wav', 'C:/evil.wav']) {
      const { headers, payload } = rawMultipart(filename, toneWav());
      assertRefused(await t.app.inject({ method: 'POST', url: '/v1/datasets', headers, payload }), 400, 'unsafe-upload-entry');
    }
    const nul = rawMultipart('yes/a\u0000.wav', toneWav());
    assertRefused(await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: nul.headers, payload: nul.payload }), 400);
    assert.deepEqual(tmpLeftovers(), []);
    outsideUntouched();
  });
});

describe('job ids and other names', () => {
  test('job ids in URLs → 400', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'featurize-..', `featurize-${'a'.repeat(31)}%2F`, '%2e%2e', `featurize-${'A'.repeat(32)}`]) {
      for (const [method, s] of [
        ['GET', ''],
        ['GET', '/events'],
        ['DELETE', ''],
      ] as const) {
        assertRefused(await t.app.inject({ method, url: `/v1/jobs/${id}${s}` }), [400, 404]);
      }
    }
  });
  test('sample_weight_id → 400', async () => {
    for (const id of ['..%2F..%2Fx', '%2Fetc%2Fpasswd', 'abc']) {
      assertRefused(await t.app.inject({ url: `/v1/datasets/small/batches?sample_weight_id=${id}` }), 400, 'validation-error');
    }
  });
  test('a pinned index (PUT …/index) with hostile entries → 400, nothing written', async () => {
    for (const evil of ['../evil.txt', '.index/../../evil.txt', '/tmp/audiofeed-evil-index.txt']) {
      const res = await t.app.inject({
        method: 'PUT',
        url: '/v1/datasets/small/index',
        headers: { 'content-type': 'application/x-tar' },
        payload: archive('tar', { '.index/yes.txt': 'yes/y0.wav\n', [evil]: 'x' }),
      });
      assertRefused(res, 400);
    }
    assert.equal(fs.existsSync('/tmp/audiofeed-evil-index.txt'), false);
    assert.equal(fs.existsSync(path.join(t.root, 'evil.txt')), false);
    assert.equal(fs.existsSync(path.join(t.root, 'small', 'evil.txt')), false);
    outsideUntouched();
  });
  test('a pinned index whose lines are absolute, escaping or hold control characters → 422 naming the line, index unchanged', async () => {
    const before = (await t.app.inject({ url: '/v1/datasets/small/index', headers: { accept: 'application/json' } })).json().files;
    for (const line of ['/etc/passwd', '../outside/a.wav', 'yes/../../x.wav', 'C:\\x.wav', 'yes/a\u0001.wav']) {
      const res = await t.app.inject({
        method: 'PUT',
        url: '/v1/datasets/small/index',
        headers: { 'content-type': 'application/x-tar' },
        payload: archive('tar', { '.index/yes.txt': `yes/y0.wav\n${line}\n`, '.index/no.txt': 'no/n0.wav\n' }),
      });
      assertRefused(res, 422, 'invalid-settings');
      assert.equal(res.json().line, 2, line);
      assert.equal(res.json().file, '.index/yes.txt');
    }
    const after = (await t.app.inject({ url: '/v1/datasets/small/index', headers: { accept: 'application/json' } })).json().files;
    assert.deepEqual(after, before);
  });
});

describe('oversize uploads', () => {
  test('an archive that unpacks beyond UPLOAD_MAX_UNPACKED_BYTES → 413, disk usage back to before', async () => {
    const before = duBytes(t.dataDir);
    // 1 MiB of zeros compresses to about 1 KiB: far under UPLOAD_MAX_BYTES, twice the unpacked limit.
    const bomb = archive('zip', { 'yes/a.wav': toneWav(), 'no/big.wav': Buffer.alloc(1024 * 1024) });
    assert.ok(bomb.length < 256 * 1024);
    assertRefused(await upload('bomb', [{ value: bomb, filename: 'bomb.zip' }]), 413, 'payload-too-large');
    assert.deepEqual(tmpLeftovers(), []);
    // Uploads unpack into uploads/<name>-<random>: nothing of this one may remain.
    assert.deepEqual(fs.readdirSync(path.join(t.dataDir, 'uploads')).filter((n) => n.startsWith('bomb')), []);
    assert.equal(duBytes(t.dataDir), before);
  });
  test('an archive bigger than UPLOAD_MAX_BYTES → 413, disk usage back to before', async () => {
    const before = duBytes(t.dataDir);
    const big = archive('tar', { 'yes/a.wav': toneWav(), 'no/b.wav': Buffer.alloc(400 * 1024, 7) });
    assertRefused(await upload('bigtar', [{ value: big, filename: 'big.tar' }]), 413, 'payload-too-large');
    assert.deepEqual(tmpLeftovers(), []);
    assert.equal(duBytes(t.dataDir), before);
  });
});

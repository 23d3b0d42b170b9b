/**
 * Upload and loader sources: archives and many-file uploads register like directories;
 * hostile or oversize uploads are refused and leave nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { startTestApp, registerDataset, type TestApp } from '../helpers/app.ts';
import { makeTree, smallCorpus, toneWav } from '../helpers/wav.ts';
import { injectForm } from '../helpers/multipart.ts';

let t: TestApp;
let small: string;

before(async () => {
  t = await startTestApp({ UPLOAD_MAX_BYTES: String(2 * 1024 * 1024) });
  small = path.join(t.root, 'small');
  smallCorpus(small);
});
after(async () => t?.close());

const settings = (name: string) => JSON.stringify({ name, classes: ['yes', 'no'], validation_split: 0.2 });

async function multipart(parts: { name: string; value: string | Buffer; filename?: string }[]) {
  const form = new FormData();
  for (const p of parts) {
    if (p.filename !== undefined) form.append(p.name, new Blob([p.value]), p.filename);
    else form.append(p.name, p.value as string);
  }
  return injectForm(t.app, '/v1/datasets', form);
}

async function tarOf(cwd: string, entries: string[], gzip = true): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarCreate({ cwd, gzip, portable: true }, entries) as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Builds a zip with Python's zipfile, which writes any entry name we ask for. */
function zipOf(entries: Record<string, Buffer | string>, symlinks: Record<string, string> = {}): Buffer {
  const out = path.join(t.dataDir, `..`, `z-${Math.random().toString(36).slice(2)}.zip`);
  const spec = JSON.stringify({
    files: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    links: symlinks,
  });
  execFileSync(
    'python3',
    [
      '-c',
      `
import base64, json, sys, zipfile, stat
spec = json.loads(sys.argv[2])
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for name, b64 in spec['files'].items():
        z.writestr(name, base64.b64decode(b64))
    for name, target in spec['links'].items():
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, target)
`,
      out,
      spec,
    ],
    { timeout: 240_000 },
  );
  const buf = fs.readFileSync(out);
  fs.rmSync(out);
  return buf;
}

function leftovers(): string[] {
  const tmp = path.join(t.dataDir, 'tmp');
  return fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
}

function assertRefused(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, type: string) {
  assert.equal(res.statusCode, status, res.json().detail);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(res.json().type, `https://audiofeed.dev/problems/${type}`);
  assert.deepEqual(leftovers(), [], 'temporary files are removed');
}

describe('uploads that register', () => {
  test('a tar.gz archive (wrapped in one top folder) registers like the directory', async () => {
    const res = await multipart([
      { name: 'settings', value: settings('up-tgz') },
      { name: 'archive', value: await tarOf(t.root, ['small']), filename: 'small.tar.gz' },
    ]);
    assert.equal(res.statusCode, 201, res.body);
    const d = res.json();
    assert.equal(d.source.type, 'upload');
    assert.equal(d.source.archive, 'tar.gz');
    assert.deepEqual(d.class_counts.training, { yes: 4, no: 4 });
    assert.equal(fs.existsSync(path.join(d.dataset_dir, 'yes', 'y0.wav')), true);
    assert.match(path.basename(d.dataset_dir), /^up-tgz-[0-9a-f]{8}$/);
    assert.deepEqual(leftovers(), []);
  });

  test('an archive made with `tar -C dir .` (./ entries) registers', async () => {
    const res = await multipart([
      { name: 'settings', value: settings('up-dot') },
      { name: 'archive', value: await tarOf(small, ['.']), filename: 'dot.tgz' },
    ]);
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().class_counts.training, { yes: 4, no: 4 });
  });

  test('a zip archive registers', async () => {
    const files: Record<string, Buffer> = {};
    for (const cls of ['yes', 'no']) for (const f of fs.readdirSync(path.join(small, cls))) files[`${cls}/${f}`] = fs.readFileSync(path.join(small, cls, f));
    const res = await multipart([
      { name: 'settings', value: settings('up-zip') },
      { name: 'archive', value: zipOf(files), filename: 'c.zip' },
    ]);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().source.archive, 'zip');
    assert.deepEqual(res.json().class_counts.validation, { yes: 2, no: 1 });
  });

  test('settings sent as a JSON-typed part (FormData with a Blob) or as a file part (curl -F settings=@settings.json) register', async () => {
    const tgz = await tarOf(t.root, ['small']);
    for (const [name, part] of [
      ['up-json-typed', (s: string) => new Blob([s], { type: 'application/json' })],
      ['up-json-file', (s: string) => new File([s], 'settings.json', { type: 'application/octet-stream' })],
    ] as const) {
      const form = new FormData();
      form.append('settings', part(settings(name)));
      form.append('archive', new Blob([tgz]), 'small.tar.gz');
      const res = await injectForm(t.app, '/v1/datasets', form);
      assert.equal(res.statusCode, 201, `${name}: ${res.body}`);
      assert.match(res.json().id, new RegExp(`^${name}`));
      assert.deepEqual(res.json().class_counts.training, { yes: 4, no: 4 });
    }
  });

  test('many files with relative paths register', async () => {
    const parts: { name: string; value: string | Buffer; filename?: string }[] = [{ name: 'settings', value: settings('up-files') }];
    for (const cls of ['yes', 'no']) {
      for (const f of fs.readdirSync(path.join(small, cls))) parts.push({ name: 'file', value: fs.readFileSync(path.join(small, cls, f)), filename: `${cls}/${f}` });
    }
    const res = await multipart(parts);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().source.files, 11);
  });

  test('deleting an uploaded dataset removes its files', async () => {
    const dir = (await t.app.inject({ url: '/v1/datasets/up-files' })).json().dataset_dir;
    assert.equal(fs.existsSync(dir), true);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/v1/datasets/up-files' })).statusCode, 204);
    assert.equal(fs.existsSync(dir), false);
  });
});

describe('hostile or broken uploads are refused and leave nothing behind', () => {
  test('zip-slip entry (../) → 400', async () => {
    const res = await multipart([
      { name: 'settings', value: settings('evil1') },
      { name: 'archive', value: zipOf({ 'yes/a.wav': toneWav(), '../../evil.wav': toneWav() }), filename: 'e.zip' },
    ]);
    assertRefused(res, 400, 'unsafe-upload-entry');
    assert.equal(fs.existsSync(path.join(t.dataDir, '..', 'evil.wav')), false);
  });
  test('absolute path in an archive → 400', async () => {
    const res = await multipart([
      { name: 'settings', value: settings('evil2') },
      { name: 'archive', value: zipOf({ 'yes/a.wav': toneWav(), '/tmp/evil.wav': toneWav() }), filename: 'e.zip' },
    ]);
    assertRefused(res, 400, 'unsafe-upload-entry');
  });
  test('symlink entry in a zip → 400', async () => {
    const res = await multipart([
      { name: 'settings', value: settings('evil3') },
      { name: 'archive', value: zipOf({ 'yes/a.wav': toneWav() }, { 'no/link.wav': '/etc/passwd' }), filename: 'e.zip' },
    ]);
    assertRefused(res, 400, 'unsafe-upload-entry');
  });
  test('symlink entry in a tar → 400', async () => {
    const src = path.join(t.root, 'tarlink');
    smallCorpus(src);
    fs.symlinkSync('/etc/passwd', path.join(src, 'yes', 'link.wav'));
    const res = await multipart([
      { name: 'settings', value: settings('evil4') },
      { name: 'archive', value: await tarOf(src, ['yes', 'no']), filename: 'e.tgz' },
    ]);
    assertRefused(res, 400, 'unsafe-upload-entry');
  });
  test('a multipart filename with .. → 400', async () => {
    const res = await multipart([
      { name: 'settings', value: settings('evil5') },
      { name: 'file', value: toneWav(), filename: 'yes/../../x.wav' },
    ]);
    assertRefused(res, 400, 'unsafe-upload-entry');
  });
  test('entry names with control characters (newline, CR, DEL, C1) are refused with the name escaped → 400', async () => {
    // tar carries names byte for byte; a zip name is UTF-8 only when flagged (else CP437 shows a glyph, no control).
    for (const [i, bad] of ['yes/a\nb.wav', 'yes/a\rb.wav', 'yes/a\u007fb.wav', 'ye\ns/a.wav'].entries()) {
      const src = path.join(t.root, `ctl-src-${i}`);
      makeTree(src, { 'yes/ok.wav': toneWav(), 'no/ok.wav': toneWav(), [bad]: toneWav() });
      const res = await multipart([
        { name: 'settings', value: settings(`ctl${i}`) },
        { name: 'archive', value: await tarOf(src, ['yes', 'no', ...(bad.startsWith('ye\n') ? [bad.split('/')[0]!] : [])]), filename: 'c.tgz' },
      ]);
      assertRefused(res, 400, 'unsafe-upload-entry');
      assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(res.json().detail), res.json().detail);
      assert.match(res.json().detail, /control character/);
    }
    const zipped = await multipart([
      { name: 'settings', value: settings('ctl-zip') },
      { name: 'archive', value: zipOf({ 'yes/ok.wav': toneWav(), 'no/ok.wav': toneWav(), 'yes/a\u0085b.wav': toneWav() }), filename: 'c.zip' },
    ]);
    assertRefused(zipped, 400, 'unsafe-upload-entry');
    assert.match(zipped.json().detail, /\\u0085/);
    // A multipart filename (busboy keeps C1 and DEL in a filename).
    const boundary = 'b0undary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="settings"\r\n\r\n${settings('ctl-mp')}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="yes/x\u0085.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
      toneWav(),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body });
    assertRefused(res, 400, 'unsafe-upload-entry');
    assert.match(res.json().detail, /\\u0085/);
  });
  test('a truncated archive → 400', async () => {
    const whole = await tarOf(t.root, ['small']);
    const res = await multipart([
      { name: 'settings', value: settings('trunc') },
      { name: 'archive', value: whole.subarray(0, Math.floor(whole.length / 2)), filename: 't.tgz' },
    ]);
    assertRefused(res, 400, 'invalid-archive');
  });
  test('an oversize upload → 413, and disk usage is back to before', async () => {
    const before = leftovers().length;
    const res = await multipart([
      { name: 'settings', value: settings('big') },
      { name: 'file', value: Buffer.alloc(3 * 1024 * 1024, 1), filename: 'yes/big.wav' },
    ]);
    assertRefused(res, 413, 'payload-too-large');
    assert.equal(leftovers().length, before);
    assert.deepEqual(fs.readdirSync(path.join(t.dataDir, 'uploads')).filter((n) => n.startsWith('big')), []);
  });
  test('settings must come first → 400', async () => {
    const res = await multipart([
      { name: 'file', value: toneWav(), filename: 'yes/a.wav' },
      { name: 'settings', value: settings('late') },
    ]);
    assertRefused(res, 400, 'upload-settings-first');
  });
  test('settings typed application/json that are not JSON, or empty → 400 malformed-json', async () => {
    for (const value of [new Blob(['{"name": '], { type: 'application/json' }), new File([''], 'settings.json')]) {
      const form = new FormData();
      form.append('settings', value);
      form.append('file', new Blob([toneWav()]), 'yes/a.wav');
      assertRefused(await injectForm(t.app, '/v1/datasets', form), 400, 'malformed-json');
    }
  });
  test('an upload whose dataset is invalid leaves no files', async () => {
    const res = await multipart([
      { name: 'settings', value: JSON.stringify({ name: 'noclass', classes: ['cat'] }) },
      { name: 'archive', value: await tarOf(t.root, ['small']), filename: 'small.tar.gz' },
    ]);
    assertRefused(res, 422, 'no-samples-for-class');
    assert.deepEqual(fs.readdirSync(path.join(t.dataDir, 'uploads')).filter((n) => n.startsWith('noclass')), []);
  });
});

describe('loader sources', () => {
  test('speech_commands_v2 unpacks a local archive and uses the speaker-grouped listing', async () => {
    fs.mkdirSync(path.join(t.root, 'archives'), { recursive: true });
    const corpus = path.resolve('..', 'shared', 'testdata', 'corpus-mini');
    fs.writeFileSync(path.join(t.root, 'archives', 'sc.tar.gz'), await tarOf(corpus, fs.readdirSync(corpus).filter((n) => n !== '.index')));
    const view = await registerDataset(t, {
      name: 'sc',
      source: { type: 'loader', name: 'speech_commands_v2', options: { archive: 'archives/sc.tar.gz' } },
      classes: ['yes', 'no', '_unknown_', '_silence_'],
      validation_split: 0.2,
    });
    assert.equal(view.listing, 'speech_commands_v2');
    assert.equal((view.source as { type: string }).type, 'loader');
  });
  test('an unknown loader → 404', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'loader', name: 'nope' }, classes: ['yes'] },
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().type, 'https://audiofeed.dev/problems/loader-not-found');
  });
  test('a loader name with a path → 400', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'loader', name: '../src/main' }, classes: ['yes'] },
    });
    assert.equal(res.statusCode, 400);
  });
  test('a loader archive outside the roots → 403', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'loader', name: 'speech_commands_v2', options: { archive: '/etc/hostname' } }, classes: ['yes'] },
    });
    assert.equal(res.statusCode, 403);
  });
});

/**
 * The registry's sources (src/services/registry/sources/) on their own: directory
 * containment (lexical and through links), the safety of upload entries and archives,
 * and how a loader module is found and its answer normalised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { create as tarCreate } from 'tar';
import { AudiofeedError, BadRequestError, DatasetError, ForbiddenPathError, NotFoundError, PayloadTooLargeError } from '../../src/core/errors.ts';
import { assertLinksStayInside, isInside, resolveDatasetDirectory, rootOf } from '../../src/services/registry/sources/directory.ts';
import { importLoader, listLoaders, loaderFile, runLoader, type LoaderContext } from '../../src/services/registry/sources/loaders.ts';
import {
  UploadBudget,
  datasetRootOf,
  detectArchive,
  extractArchive,
  isRootEntry,
  safeRelativePath,
  writeUploadedFile,
} from '../../src/services/registry/sources/upload.ts';

function tmp(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `audiofeed-${name}-`)));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function refused(code: string, type: new (...args: never[]) => AudiofeedError) {
  return (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

const LIMITS = { maxBytes: 1 << 20, maxFiles: 100, maxUnpackedBytes: 1 << 20 };

// --- directory sources ------------------------------------------------------------------

test('directory: containment is by path components, not string prefixes', () => {
  assert.equal(isInside('/data/root/a/b', '/data/root'), true);
  assert.equal(isInside('/data/root', '/data/root'), true);
  assert.equal(isInside('/data/rootless', '/data/root'), false);
  assert.equal(isInside('/data', '/data/root'), false);
  assert.equal(rootOf('/b/x', ['/a', '/b']), '/b');
  assert.equal(rootOf('/c/x', ['/a', '/b']), null);
});

test('directory: a relative path resolves under a data root, to its real path without a trailing slash', async (t) => {
  const base = tmp(t, 'dir');
  const [r1, r2] = [path.join(base, 'r1'), path.join(base, 'r2')];
  fs.mkdirSync(path.join(r2, 'corpus', 'yes'), { recursive: true });
  fs.mkdirSync(r1);
  assert.deepEqual(await resolveDatasetDirectory('corpus/', [r1, r2]), { dir: path.join(r2, 'corpus'), root: r2 });
  assert.deepEqual(await resolveDatasetDirectory(path.join(r2, 'corpus'), [r1, r2]), { dir: path.join(r2, 'corpus'), root: r2 });
});

test('directory: paths that leave every root are refused before anything is probed', async (t) => {
  const base = tmp(t, 'dir');
  const root = path.join(base, 'root');
  fs.mkdirSync(path.join(base, 'secret'), { recursive: true });
  fs.mkdirSync(root);
  for (const p of ['../secret', path.join(base, 'secret'), 'a/../../secret', 'x\0y']) {
    await assert.rejects(resolveDatasetDirectory(p, [root]), refused('path-not-allowed', ForbiddenPathError), JSON.stringify(p));
  }
  await assert.rejects(resolveDatasetDirectory('anything', []), refused('path-not-allowed', ForbiddenPathError));
});

test('directory: a symbolic link inside a root that points outside it is refused', async (t) => {
  const base = tmp(t, 'dir');
  const root = path.join(base, 'root');
  fs.mkdirSync(path.join(base, 'secret', 'yes'), { recursive: true });
  fs.mkdirSync(root);
  fs.symlinkSync(path.join(base, 'secret'), path.join(root, 'escape'));
  await assert.rejects(resolveDatasetDirectory('escape', [root]), refused('path-not-allowed', ForbiddenPathError));
});

test('directory: missing, file and unreadable targets get their own problem types', async (t) => {
  const root = tmp(t, 'dir');
  fs.writeFileSync(path.join(root, 'afile'), 'x');
  await assert.rejects(resolveDatasetDirectory('nope', [root]), refused('directory-not-found', DatasetError));
  await assert.rejects(resolveDatasetDirectory('afile', [root]), refused('not-a-directory', DatasetError));
});

test('directory: links in the dataset may not lead outside the root; dangling links pass (MLTK lists them)', async (t) => {
  const base = tmp(t, 'dir');
  const root = path.join(base, 'root');
  const ds = path.join(root, 'ds');
  fs.mkdirSync(path.join(ds, 'yes'), { recursive: true });
  fs.mkdirSync(path.join(root, 'shared'));
  fs.writeFileSync(path.join(base, 'outside.wav'), 'x');
  fs.symlinkSync(path.join(root, 'shared'), path.join(ds, 'inside-link'));
  fs.symlinkSync(path.join(base, 'nothing-here.wav'), path.join(ds, 'yes', 'dangling.wav'));
  await assertLinksStayInside(ds, root, true);
  fs.symlinkSync(path.join(base, 'outside.wav'), path.join(ds, 'yes', 'escape.wav'));
  await assert.rejects(assertLinksStayInside(ds, root, true), (err: unknown) => {
    assert.ok(err instanceof ForbiddenPathError);
    assert.deepEqual(err.extra.links, ['yes/escape.wav']);
    return true;
  });
});

test('directory: with follow_links off, linked directories are not walked', async (t) => {
  const base = tmp(t, 'dir');
  const root = path.join(base, 'root');
  const ds = path.join(root, 'ds');
  fs.mkdirSync(path.join(root, 'other', 'yes'), { recursive: true });
  fs.mkdirSync(ds, { recursive: true });
  fs.writeFileSync(path.join(base, 'outside.wav'), 'x');
  fs.symlinkSync(path.join(base, 'outside.wav'), path.join(root, 'other', 'yes', 'escape.wav'));
  fs.symlinkSync(path.join(root, 'other'), path.join(ds, 'linked'));
  await assertLinksStayInside(ds, root, false);
  await assert.rejects(assertLinksStayInside(ds, root, true), refused('path-not-allowed', ForbiddenPathError));
});

// --- upload sources ---------------------------------------------------------------------

test('upload: entry names are cleaned to relative POSIX paths; unsafe ones are refused with the reason', () => {
  assert.equal(safeRelativePath('yes/a.wav'), 'yes/a.wav');
  assert.equal(safeRelativePath('./yes//a.wav'), 'yes/a.wav');
  assert.equal(safeRelativePath('corpus/yes/'), 'corpus/yes');
  const cases: [string, RegExp][] = [
    ['', /empty name/],
    ['../etc/passwd', /parent-directory/],
    ['yes/../../x', /parent-directory/],
    ['/etc/passwd', /absolute path/],
    ['C:evil.wav', /absolute path/],
    ['yes\\a.wav', /backslash/],
    ['a\0b', /NUL/],
    ['./', /empty path/],
    [Array.from({ length: 65 }, () => 'd').join('/'), /too deeply nested/],
  ];
  for (const [name, why] of cases) {
    assert.throws(() => safeRelativePath(name), (err: unknown) => {
      assert.ok(err instanceof BadRequestError, JSON.stringify(name));
      assert.equal(err.code, 'unsafe-upload-entry');
      assert.match(err.message, why);
      return true;
    });
  }
  assert.equal(isRootEntry('./'), true);
  assert.equal(isRootEntry('./a'), false);
});

test('upload: a file is written below the root only, and counted against the budget', async (t) => {
  const root = tmp(t, 'upload');
  const budget = new UploadBudget({ ...LIMITS, maxBytes: 10 });
  await writeUploadedFile(root, 'yes/a.wav', Readable.from([Buffer.from('12345')]), budget, true);
  assert.equal(fs.readFileSync(path.join(root, 'yes', 'a.wav'), 'utf8'), '12345');
  assert.deepEqual([budget.files, budget.received, budget.unpacked], [1, 5, 5]);
  await assert.rejects(writeUploadedFile(root, '../a.wav', Readable.from([Buffer.from('x')]), budget, true), refused('unsafe-upload-entry', BadRequestError));
  assert.equal(fs.existsSync(path.join(path.dirname(root), 'a.wav')), false);
  await assert.rejects(writeUploadedFile(root, 'yes/b.wav', Readable.from([Buffer.alloc(6)]), budget, true), refused('payload-too-large', PayloadTooLargeError));
});

async function tarOf(dir: string, entries: string[], gzip = false): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarCreate({ cwd: dir, gzip, portable: true }, entries) as unknown as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('upload: archives are recognised by content, unpacked below the destination, and unwrapped from one top folder', async (t) => {
  const base = tmp(t, 'upload');
  const src = path.join(base, 'src');
  fs.mkdirSync(path.join(src, 'corpus', 'yes'), { recursive: true });
  fs.writeFileSync(path.join(src, 'corpus', 'yes', 'a.wav'), 'aaaa');
  for (const gzip of [false, true]) {
    const file = path.join(base, gzip ? 'upload.bin' : 'upload.zip'); // names lie: content decides
    fs.writeFileSync(file, await tarOf(src, ['corpus'], gzip));
    assert.equal(await detectArchive(file), gzip ? 'tar.gz' : 'tar');
    const out = path.join(base, `out-${gzip}`);
    fs.mkdirSync(out);
    const budget = new UploadBudget(LIMITS);
    await extractArchive(file, gzip ? 'tar.gz' : 'tar', out, budget);
    assert.equal(fs.readFileSync(path.join(out, 'corpus', 'yes', 'a.wav'), 'utf8'), 'aaaa');
    assert.equal(budget.files, 1);
    assert.equal(await datasetRootOf(out, ['yes']), path.join(out, 'corpus'));
    assert.equal(await datasetRootOf(out, ['corpus']), out, 'a top folder named like a class is the class');
  }
  const text = path.join(base, 'plain.txt');
  fs.writeFileSync(text, 'not an archive');
  assert.equal(await detectArchive(text), null);
});

test('upload: a tar with a link entry is refused and nothing lands outside the destination', async (t) => {
  const base = tmp(t, 'upload');
  const src = path.join(base, 'src');
  fs.mkdirSync(path.join(src, 'yes'), { recursive: true });
  fs.symlinkSync('/etc/passwd', path.join(src, 'yes', 'passwd.wav'));
  const file = path.join(base, 'links.tar');
  fs.writeFileSync(file, await tarOf(src, ['yes']));
  const out = path.join(base, 'out');
  fs.mkdirSync(out);
  await assert.rejects(extractArchive(file, 'tar', out, new UploadBudget(LIMITS)), refused('unsafe-upload-entry', BadRequestError));
  assert.equal(fs.existsSync(path.join(out, 'yes', 'passwd.wav')), false);
});

test('upload: more files than UPLOAD_MAX_FILES is a 413 while unpacking', async (t) => {
  const base = tmp(t, 'upload');
  const src = path.join(base, 'src');
  fs.mkdirSync(path.join(src, 'yes'), { recursive: true });
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(src, 'yes', `${i}.wav`), 'x');
  const file = path.join(base, 'many.tar');
  fs.writeFileSync(file, await tarOf(src, ['yes']));
  const out = path.join(base, 'out');
  fs.mkdirSync(out);
  await assert.rejects(extractArchive(file, 'tar', out, new UploadBudget({ ...LIMITS, maxFiles: 3 })), refused('payload-too-large', PayloadTooLargeError));
});

// --- loader sources ---------------------------------------------------------------------

function loaderContext(base: string, name: string): LoaderContext {
  return { workDir: path.join(base, 'work', name), dataRoots: [base], limits: LIMITS, log: () => {} };
}

test('loaders: names are checked before any file is looked up; .ts wins over .mjs over .js', async (t) => {
  const dir = tmp(t, 'loaders');
  for (const f of ['both.mjs', 'both.ts', 'mjs.mjs', 'mjs.js', 'only.js', 'not-a-loader.txt']) fs.writeFileSync(path.join(dir, f), 'export default () => "/"');
  assert.equal(loaderFile(dir, 'both'), path.join(dir, 'both.ts'));
  assert.equal(loaderFile(dir, 'mjs'), path.join(dir, 'mjs.mjs'));
  assert.equal(loaderFile(dir, 'only'), path.join(dir, 'only.js'));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'both.ts'), 'export default () => "/"');
  for (const name of ['../both', 'sub/both', 'both.ts', '', 'x'.repeat(65), 'not-a-loader']) assert.equal(loaderFile(dir, name), null, name);
  await assert.rejects(importLoader(dir, 'nope'), refused('loader-not-found', NotFoundError));
  await assert.rejects(importLoader(dir, '../loaders'), refused('loader-not-found', NotFoundError));
});

test('loaders: the listing names every loader module by name, sorted; other files are not loaders', async (t) => {
  const dir = tmp(t, 'loaders');
  for (const f of ['zeta.ts', 'alpha.mjs', 'mid_1.js', 'notes.txt', 'bad name.mjs', 'x.json']) fs.writeFileSync(path.join(dir, f), '');
  assert.deepEqual(listLoaders(dir), ['alpha', 'mid_1', 'zeta']);
  assert.deepEqual(listLoaders(path.join(dir, 'missing')), []);
});

test("loaders: load(), loadData() or a default function; a path or {directory, listing}; the module's listing otherwise", async (t) => {
  const dir = tmp(t, 'loaders');
  fs.writeFileSync(path.join(dir, 'plain.mjs'), `export default (options) => options.dir;`);
  fs.writeFileSync(path.join(dir, 'data.mjs'), `export const listing = 'speech_commands_v2'; export function loadData(o) { return { directory: o.dir }; }`);
  fs.writeFileSync(path.join(dir, 'object.mjs'), `export async function load(o) { return { directory: o.dir, listing: 'generic' }; }`);
  const ctx = (name: string) => loaderContext(dir, name);
  assert.deepEqual(await runLoader(dir, 'plain', { dir: '/d1' }, ctx('plain')), { directory: '/d1', listing: undefined });
  assert.deepEqual(await runLoader(dir, 'data', { dir: '/d2' }, ctx('data')), { directory: '/d2', listing: 'speech_commands_v2' });
  assert.deepEqual(await runLoader(dir, 'object', { dir: '/d3' }, ctx('object')), { directory: '/d3', listing: 'generic' });
  assert.ok(fs.statSync(path.join(dir, 'work', 'plain')).isDirectory(), 'the loader gets its work directory');
});

test('loaders: a loader without a function, without a path, or that throws is a dataset error that says so', async (t) => {
  const dir = tmp(t, 'loaders');
  fs.writeFileSync(path.join(dir, 'empty.mjs'), `export const nothing = 1;`);
  fs.writeFileSync(path.join(dir, 'blank.mjs'), `export default () => '';`);
  fs.writeFileSync(path.join(dir, 'boom.mjs'), `export default () => { throw new Error('disk full'); };`);
  await assert.rejects(runLoader(dir, 'empty', {}, loaderContext(dir, 'empty')), refused('loader-invalid', DatasetError));
  await assert.rejects(runLoader(dir, 'blank', {}, loaderContext(dir, 'blank')), refused('loader-invalid', DatasetError));
  await assert.rejects(runLoader(dir, 'boom', {}, loaderContext(dir, 'boom')), (err: unknown) => {
    assert.ok(err instanceof DatasetError);
    assert.equal(err.code, 'loader-failed');
    assert.match(err.message, /loader boom failed: disk full/);
    return true;
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareCodePoints, sortByCodePoint } from '../../src/core/datasets/code-point-order.ts';
import { listClassEntries } from '../../src/core/datasets/listing.ts';

async function tempTree(t: { after: (fn: () => Promise<void>) => void }, files: string[]): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'audiofeed-ds-listing-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  for (const f of files) {
    await fs.mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await fs.writeFile(path.join(root, f), 'x');
  }
  return root;
}

async function list(root: string, cls: string, followLinks: boolean): Promise<string[]> {
  const m = await listClassEntries(root, [cls], followLinks);
  return sortByCodePoint(m.get(cls)!.entries);
}

const SPEC_ORDER = [
  'b/ space.wav',
  'b/10.wav',
  'b/9.wav',
  'b/Z.wav',
  'b/_u.wav',
  'b/a b.wav',
  'b/a-x.wav',
  'b/a.wav',
  'b/a/x.wav',
  'b/z.wav',
  'b/~tilde.wav',
  'b/é.wav',
  'b/Ａ.wav',
  'b/😀.wav',
];

test('listing: code-point order of the spec §3 example (Q-06)', () => {
  const shuffled = [...SPEC_ORDER].reverse();
  assert.deepEqual(sortByCodePoint([...shuffled]), SPEC_ORDER);
  assert.deepEqual([...shuffled].sort(compareCodePoints), SPEC_ORDER);
  // JavaScript's UTF-16 order differs exactly on the supplementary-plane character.
  const utf16 = [...shuffled].sort();
  assert.notDeepEqual(utf16, SPEC_ORDER);
  assert.ok(compareCodePoints('😀', 'Ａ') > 0);
  assert.ok(compareCodePoints('\uffff', '\u{10000}') < 0);
  assert.equal(compareCodePoints('a', 'a'), 0);
  assert.ok(compareCodePoints('a', 'ab') < 0);
});

test('listing: the spec §3 example tree lists in code-point order', async (t) => {
  const root = await tempTree(t, SPEC_ORDER);
  assert.deepEqual(await list(root, 'b', true), SPEC_ORDER);
});

test('listing: hidden files and hidden sub-directories are listed, extension case ignored', async (t) => {
  const root = await tempTree(t, [
    'yes/.hidden.wav',
    'yes/.cache/i.wav',
    'yes/._mac.wav',
    'yes/c.WAV',
    'yes/d.Wav',
    'yes/g.wav.bak',
    'yes/h.mp3',
    'yes/README',
  ]);
  assert.deepEqual(await list(root, 'yes', false), [
    'yes/._mac.wav',
    'yes/.cache/i.wav',
    'yes/.hidden.wav',
    'yes/c.WAV',
    'yes/d.Wav',
  ]);
});

test('listing: names ending in "wav" without a dot count (Q-03 copied: foowav, x.mywav)', async (t) => {
  const root = await tempTree(t, ['yes/foowav', 'yes/x.mywav', 'yes/wav', 'yes/wav.txt']);
  assert.deepEqual(await list(root, 'yes', true), ['yes/foowav', 'yes/wav', 'yes/x.mywav']);
});

test('listing: a dangling symlink ending in wav is listed (Q-04 copied)', async (t) => {
  const root = await tempTree(t, ['up/u1.wav', 'store/s1.wav']);
  await fs.symlink('../store/missing.wav', path.join(root, 'up/zz_broken.wav'));
  await fs.symlink('../store/s1.wav', path.join(root, 'up/link_file.wav'));
  for (const follow of [true, false]) {
    assert.deepEqual(await list(root, 'up', follow), ['up/link_file.wav', 'up/u1.wav', 'up/zz_broken.wav']);
  }
});

test('listing: linked directories are entered only with follow_links', async (t) => {
  const root = await tempTree(t, ['up/u1.wav', '_store/pack/p1.wav', '_store/down_real/d1.wav']);
  await fs.symlink('../_store/pack', path.join(root, 'up/link_dir'));
  await fs.symlink('_store/down_real', path.join(root, 'down'));
  assert.deepEqual(await list(root, 'up', true), ['up/link_dir/p1.wav', 'up/u1.wav']);
  assert.deepEqual(await list(root, 'up', false), ['up/u1.wav']);
  assert.deepEqual(await list(root, 'down', true), ['down/d1.wav']);
  const noFollow = await listClassEntries(root, ['down'], false);
  assert.deepEqual(noFollow.get('down'), { entries: [], entered: false, skipped: [] });
});

test('listing: a symlink cycle is not followed (Q-05 fix), other links still are', async (t) => {
  const root = await tempTree(t, ['a/x.wav', 'a/sub/y.wav', 'other/o.wav']);
  await fs.symlink('..', path.join(root, 'a/sub/loop')); // points back at a/
  await fs.symlink('.', path.join(root, 'a/self'));
  await fs.symlink('../../other', path.join(root, 'a/sub/out'));
  assert.deepEqual(await list(root, 'a', true), ['a/sub/out/o.wav', 'a/sub/y.wav', 'a/x.wav']);
});

test('listing: each top-level directory is its own bucket; missing classes are empty', async (t) => {
  const root = await tempTree(t, ['no/n1.wav', 'nope/x.wav', 'no_thanks/y.wav', 'top.wav']);
  const m = await listClassEntries(root, ['no', 'missing', 'top.wav'], true);
  assert.deepEqual(m.get('no'), { entries: ['no/n1.wav'], entered: true, skipped: [] });
  assert.deepEqual(m.get('missing'), { entries: [], entered: false, skipped: [] });
  assert.deepEqual(m.get('top.wav'), { entries: [], entered: false, skipped: [] });
});

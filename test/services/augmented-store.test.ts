/**
 * The augmented-batch store (src/services/features/augmented-store.ts): a batch's file is
 * named by everything its bytes depend on, and the directory is swept: files nobody wrote
 * or read for AUGMENT_BATCH_TTL_MS go, then the oldest while it is over
 * AUGMENT_CACHE_MAX_BYTES.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { resolveAugmentation } from '../../src/core/audio/augment/index.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import type { AugmentedBatchInput } from '../../src/services/features/augmented.ts';
import { AugmentedBatchStore, augmentedBatchKey } from '../../src/services/features/augmented-store.ts';

const input = (over: Partial<AugmentedBatchInput> = {}): AugmentedBatchInput => ({
  datasetDir: '/data/mini',
  root: '/data',
  entries: ['yes/a.wav', null, 'no/b.wav'],
  spec: { frontendEnabled: true, frontendSettings: resolveFrontendSettings({}), trimThresholdDb: 20 },
  augmentation: resolveAugmentation({ offset_range: [0, 1], loudness_range: [0.5, 1] }),
  seed: 43,
  epoch: 2,
  batch: 5,
  ...over,
});

describe('augmentedBatchKey', () => {
  test('is the same for the same content, whatever the order of the augmentation settings', () => {
    const a = input();
    const reordered = Object.fromEntries(Object.entries(a.augmentation).reverse()) as typeof a.augmentation;
    assert.equal(augmentedBatchKey(a), augmentedBatchKey(input()));
    assert.equal(augmentedBatchKey(a), augmentedBatchKey({ ...a, augmentation: reordered }));
  });

  test('changes with anything the batch bytes depend on', () => {
    const base = augmentedBatchKey(input());
    const variants: Partial<AugmentedBatchInput>[] = [
      { epoch: 3 },
      { batch: 6 },
      { seed: 44 },
      { entries: ['yes/a.wav', 'no/b.wav', null] },
      { entries: ['yes/a.wav', null] },
      { datasetDir: '/data/other' },
      { root: '/other' },
      { augmentation: resolveAugmentation({ offset_range: [0, 1], loudness_range: [0.5, 1.1] }) },
      { spec: { ...input().spec, trimThresholdDb: 30 } },
      { spec: { ...input().spec, frontendSettings: resolveFrontendSettings({ filterbank_n_channels: 40 }) } },
    ];
    for (const v of variants) assert.notEqual(augmentedBatchKey(input(v)), base, JSON.stringify(v));
  });
});

describe('AugmentedBatchStore.sweep', () => {
  const dirOf = (t: { after: (fn: () => void) => void }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-augstore-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  /** A file of `bytes` whose last write was `ageMs` before `now`. */
  const put = (file: string, bytes: number, now: number, ageMs: number) => {
    fs.writeFileSync(file, Buffer.alloc(bytes));
    const t = new Date(now - ageMs);
    fs.utimesSync(file, t, t);
  };

  test('removes batch files and temp files older than the TTL, and keeps younger ones', async (t) => {
    const dir = dirOf(t);
    const store = new AugmentedBatchStore(dir, { ttlMs: 60_000, maxBytes: 1 << 30 });
    const now = Date.now();
    put(store.file('old'), 100, now, 61_000);
    put(store.file('young'), 100, now, 59_000);
    put(path.join(dir, '.killed.afs.123-abcd.tmp'), 100, now, 61_000);
    put(path.join(dir, 'not-ours.txt'), 100, now, 61_000);
    const r = await store.sweep(now);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['not-ours.txt', 'young.afs']);
    assert.deepEqual(r, { expired: 2, evicted: 0, bytes: 100 });
  });

  test('over AUGMENT_CACHE_MAX_BYTES, removes the least recently used files until it fits', async (t) => {
    const dir = dirOf(t);
    const warnings: string[] = [];
    const store = new AugmentedBatchStore(dir, { ttlMs: 600_000, maxBytes: 2500, log: { info() {}, warn: (m) => warnings.push(m) } });
    const now = Date.now();
    for (const [name, age] of [['a', 40], ['b', 30], ['c', 20], ['d', 10]] as const) put(store.file(name), 1000, now, age * 1000);
    const r = await store.sweep(now);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['c.afs', 'd.afs']);
    assert.deepEqual(r, { expired: 0, evicted: 2, bytes: 2000 });
    assert.match(warnings.join('\n'), /AUGMENT_CACHE_MAX_BYTES \(2500 bytes\): removed the 2 oldest files/);
  });

  test('a file a reader touched starts its TTL again', async (t) => {
    const dir = dirOf(t);
    const store = new AugmentedBatchStore(dir, { ttlMs: 60_000, maxBytes: 1 << 30 });
    const now = Date.now();
    put(store.file('read'), 10, now, 120_000);
    const fd = fs.openSync(store.file('read'), 'r');
    store.touch(fd);
    fs.closeSync(fd);
    await store.sweep(now);
    assert.deepEqual(fs.readdirSync(dir), ['read.afs']);
  });

  test('a directory that does not exist yet is an empty sweep', async () => {
    const store = new AugmentedBatchStore(path.join(os.tmpdir(), `audiofeed-nonexistent-${process.pid}-${Date.now()}`), { ttlMs: 1000, maxBytes: 1 << 20 });
    assert.deepEqual(await store.sweep(), { expired: 0, evicted: 0, bytes: 0 });
  });
});

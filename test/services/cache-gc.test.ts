/**
 * The feature-cache collector (src/services/features/cache-gc.ts) on a scratch directory:
 * unused shards and dead writers' temp files go once idle for the grace period, the size
 * bound evicts least recently used files first and never a file used within the grace
 * period, and two collectors at once remove (and count) each file once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectFeatureCache, touchShard, type CollectorOptions } from '../../src/services/features/cache-gc.ts';
import type { CacheRemovalReason } from '../../src/services/ports.ts';

const SPEC = '0123456789abcdef';
const HOUR = 3600_000;

function setup(t: { after: (fn: () => void) => void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-gc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const recorded: { removals: [CacheRemovalReason, number, number][]; size: [number, number][] } = { removals: [], size: [] };
  const opts: CollectorOptions = {
    featuresDir: dir,
    maxBytes: 0,
    graceMs: 10 * 60_000,
    metrics: {
      recordCacheRemovals: async (reason, files, bytes) => void recorded.removals.push([reason, files, bytes]),
      recordCacheSize: async (files, bytes) => void recorded.size.push([files, bytes]),
    },
  };
  /** A file of `bytes` bytes last used `ago` ms ago. */
  const file = (rel: string, bytes: number, ago: number): string => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, Buffer.alloc(bytes));
    const at = new Date(Date.now() - ago);
    fs.utimesSync(p, at, at);
    return p;
  };
  return { dir, opts, recorded, file };
}

test('cache gc: an unused shard goes once idle for the grace period; used and fresh ones stay', async (t) => {
  const { opts, recorded, file } = setup(t);
  const live = file(`${SPEC}/live.afs`, 100, 5 * HOUR);
  const orphan = file(`${SPEC}/orphan.afs`, 100, 5 * HOUR);
  const fresh = file(`${SPEC}/fresh.afs`, 100, 1000);
  const quarantined = file('quarantine/bad.afs.2026-01-01', 50, 5 * HOUR);
  const report = await collectFeatureCache(opts, new Set([live]));
  assert.deepEqual(report.removed.orphan, { files: 1, bytes: 100 });
  assert.equal(fs.existsSync(orphan), false);
  for (const p of [live, fresh, quarantined]) assert.ok(fs.existsSync(p), p);
  assert.deepEqual([report.files, report.bytes], [3, 250]);
  assert.deepEqual(recorded.removals, [['orphan', 1, 100]]);
  assert.deepEqual(recorded.size, [[3, 250]]);
});

test("cache gc: a dead writer's temp files and a stream's leftover direct batches go; a live writer's stay", async (t) => {
  const { opts, file } = setup(t);
  const stale = file(`${SPEC}/.k.afs.123-abcd.tmp`, 10, 2 * HOUR);
  const writing = file(`${SPEC}/.k.afs.124-abcd.tmp`, 10, 100);
  const leftover = file('.direct/0123-4.afs', 10, 2 * HOUR);
  const report = await collectFeatureCache({ ...opts, maxBytes: 1 }, new Set());
  assert.deepEqual(report.removed['stale-temp'], { files: 2, bytes: 20 });
  assert.equal(fs.existsSync(stale), false);
  assert.equal(fs.existsSync(leftover), false);
  assert.ok(fs.existsSync(writing), 'a temp file being written is never removed, not even over the bound');
});

test('cache gc: over FEATURE_CACHE_MAX_BYTES the least recently used go first, never one used within the grace period', async (t) => {
  const { opts, file } = setup(t);
  const a = file(`${SPEC}/a.afs`, 100, 4 * HOUR);
  const b = file(`${SPEC}/b.afs`, 100, 3 * HOUR);
  const c = file(`${SPEC}/c.afs`, 100, 2 * HOUR);
  const d = file(`${SPEC}/d.afs`, 100, 60_000);
  const q = file('quarantine/old.afs.x', 100, 9 * HOUR);
  const live = new Set([a, b, c, d]);
  let report = await collectFeatureCache({ ...opts, maxBytes: 250 }, live);
  assert.deepEqual(report.removed.lru, { files: 3, bytes: 300 });
  assert.deepEqual([q, a, b].map((p) => fs.existsSync(p)), [false, false, false]);
  assert.deepEqual([c, d].map((p) => fs.existsSync(p)), [true, true]);
  assert.equal(report.overBound, false);
  // A stream opened c just now: it is the most recently used, and kept even when over the bound.
  const fd = fs.openSync(c, 'r');
  touchShard(fd);
  fs.closeSync(fd);
  report = await collectFeatureCache({ ...opts, maxBytes: 50 }, live);
  assert.deepEqual(report.removed.lru, { files: 0, bytes: 0 });
  assert.deepEqual([c, d].map((p) => fs.existsSync(p)), [true, true]);
  assert.equal(report.overBound, true);
  // Without a bound nothing in use goes.
  report = await collectFeatureCache({ ...opts, graceMs: 0 }, live);
  assert.equal(report.files, 2);
});

test('cache gc: two collectors at once remove and count each file once', async (t) => {
  const { opts, recorded, file } = setup(t);
  for (let i = 0; i < 40; i++) file(`${SPEC}/o${i}.afs`, 10, 2 * HOUR);
  const [x, y] = await Promise.all([collectFeatureCache(opts, new Set()), collectFeatureCache(opts, new Set())]);
  assert.equal(x.removed.orphan.files + y.removed.orphan.files, 40);
  assert.equal(recorded.removals.reduce((n, [, files]) => n + files, 0), 40);
  assert.deepEqual(fs.readdirSync(path.join(opts.featuresDir, SPEC)), []);
});

test('cache gc: an emptied settings directory goes once idle; an empty cache is fine', async (t) => {
  const { dir, opts } = setup(t);
  assert.equal((await collectFeatureCache(opts, new Set())).files, 0);
  fs.mkdirSync(path.join(dir, SPEC));
  const old = new Date(Date.now() - HOUR);
  fs.utimesSync(path.join(dir, SPEC), old, old);
  fs.mkdirSync(path.join(dir, 'fedcba9876543210'));
  await collectFeatureCache(opts, new Set());
  assert.deepEqual(fs.readdirSync(dir), ['fedcba9876543210']);
});

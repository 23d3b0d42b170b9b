/** MAX_SUBSET_ENTRIES in the core: the bound is checked from the counts, before a list is allocated. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatasetError } from '../../src/core/errors.ts';
import { assembleSubset } from '../../src/core/datasets/subset.ts';

const spec = (silence: number, maxEntries?: number) => ({
  name: 'training' as const,
  datasetDir: '/d',
  classes: ['yes', '_silence_'],
  known: new Map([['yes', Array.from({ length: 1000 }, (_, i) => `yes/${i}.wav`)]]),
  unknownCandidates: [],
  unknownActive: false,
  silenceActive: true,
  unknownClassPercentage: 1,
  silenceClassPercentage: silence,
  maxSamplesPerClass: -1,
  unknownSeed: 43,
  maxEntries,
});

test('a _silence_ list beyond maxEntries is refused before it is allocated (no RangeError, no 12 M entries)', () => {
  const before = process.memoryUsage().rss;
  for (const pct of [1e6, 1e9, 1e300, Infinity]) {
    assert.throws(
      () => assembleSubset(spec(pct, 2_000_000)),
      (err: unknown) => err instanceof DatasetError && err.code === 'subset-too-large' && err.extra.limit === 2_000_000,
      String(pct),
    );
  }
  // Generous: 12 M entries would be ~100 MB.
  assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
  assert.equal(assembleSubset(spec(2, 2_000_000)).entries.length, 3000);
});

test('the whole subset counts: known + _unknown_ + _silence_ against maxEntries', () => {
  assert.throws(() => assembleSubset(spec(1, 1999)), /1999/);
  assert.equal(assembleSubset(spec(1, 2000)).entries.length, 2000);
});

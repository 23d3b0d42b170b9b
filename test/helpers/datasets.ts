/**
 * Builders for the MLTK dataset rules' tests and benches: the options of a load with the
 * test defaults (MLTK's percentages, no shuffle, the generic listing, half the clips
 * for validation) and a dataset directory of placeholder files.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatasetDirs, DatasetOptions } from '../../src/core/datasets/index.ts';

/** DatasetOptions for `classes`, with `over` on top of the test defaults. */
export function datasetOptions(over: Partial<DatasetOptions> & Pick<DatasetOptions, 'classes'>): DatasetOptions {
  return {
    validationSplit: 0.5,
    unknownClassPercentage: 1,
    silenceClassPercentage: 0.6,
    followLinks: true,
    shuffleDatasetEnabled: false,
    listing: 'generic',
    maxSamplesPerClass: -1,
    seed: null,
    ...over,
  };
}

/**
 * A temp dataset directory `data/` holding `files` (relative paths; a name ending in `/`
 * is an empty directory), with the fallback and shuffle index directories beside it.
 * Removed after the test.
 */
export async function datasetDirs(
  t: { after: (fn: () => Promise<void>) => void },
  files: string[],
  name = 'audiofeed-ds-',
): Promise<DatasetDirs & { root: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), name));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const datasetDir = path.join(root, 'data');
  await fs.mkdir(datasetDir);
  for (const f of files) {
    const p = path.join(datasetDir, f);
    if (f.endsWith('/')) {
      await fs.mkdir(p, { recursive: true });
      continue;
    }
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, 'x');
  }
  return { root, datasetDir, fallbackIndexDir: path.join(root, 'fallback'), shuffleIndexDir: path.join(root, 'log', 'dataset') };
}

/**
 * `value` as plain JSON data: name-keyed tables (class counts, weights) are null-prototype
 * objects (names are data), which deepStrictEqual does not equate with an object literal.
 */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

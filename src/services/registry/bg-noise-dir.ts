/**
 * A recipe's bg_noise_dir checked against the dataset's data root (MLTK takes it as given
 * when it exists, else relative to the dataset dir; a service has no meaningful working
 * directory, so relative paths are relative to the dataset dir).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DatasetError, ForbiddenPathError } from '../../core/errors.ts';
import { isInside } from './sources/directory.ts';

/**
 * Where a given bg_noise_dir is: its real path, relative to the dataset dir when relative,
 * inside the data root (403 otherwise), an existing directory (422 otherwise). The
 * registration and the augmentation preview check a recipe's directory the same way.
 */
export async function resolveBgNoiseDirPath(given: string, datasetDir: string, root: string): Promise<string> {
  const candidate = path.resolve(datasetDir, given);
  // The root first: a path outside it gets the same answer whether it exists or not.
  const outside = () =>
    new ForbiddenPathError(`bg_noise_dir ${JSON.stringify(given)} is outside the dataset's data root`, { field: 'augmentation.bg_noise_dir' });
  if (!isInside(candidate, root)) throw outside();
  let real: string;
  try {
    real = await fsp.realpath(candidate);
  } catch {
    throw new DatasetError('bg-noise-dir-not-found', `bg_noise_dir not found: ${given} (looked for ${path.relative(root, candidate) || '.'} in the data root)`, {
      field: 'augmentation.bg_noise_dir',
    });
  }
  // A link inside the root may lead out of it.
  if (!isInside(real, root)) throw outside();
  if (!(await fsp.stat(real)).isDirectory()) {
    throw new DatasetError('bg-noise-dir-not-found', `bg_noise_dir ${JSON.stringify(given)} is not a directory`, { field: 'augmentation.bg_noise_dir' });
  }
  return real;
}

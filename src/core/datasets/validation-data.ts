/**
 * `validation_data` (Keras/MLTK: overrides `validation_split`): a second dataset dir whose
 * whole listing is the validation subset. The training subset is then the whole listing
 * of the training dir (`validation_split` must be 0), and `_unknown_`/`_silence_` are
 * selected in the validation dir's listing with the rules and seed MLTK applies to a
 * validation subset (§6.1, §6.2: `avg` from the validation dir's own known classes, the
 * candidates of the validation dir, `RandomState(seed if seed else 43)`).
 *
 * Both dirs must hold the requested classes (pseudo-classes aside): `class-mismatch`
 * lists the differences. Unknown candidates may differ between the two dirs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatasetError, InvalidSettingsError } from '../errors.ts';
import { isPseudoClass } from './subset.ts';
import type { DatasetOptions, IndexDirs } from './types.ts';

export interface ClassDifferences {
  /** Requested classes with no directory in the training dir, in `classes` order. */
  missingInTraining: string[];
  /** Requested classes with no directory in the validation dir, in `classes` order. */
  missingInValidation: string[];
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Which requested classes (pseudo-classes excluded) lack a directory (symlinks followed) in either dir. */
export async function compareClassDirectories(
  trainingDir: string,
  validationDir: string,
  classes: readonly string[],
): Promise<ClassDifferences> {
  const known = classes.filter((c) => !isPseudoClass(c));
  const [inTraining, inValidation] = await Promise.all(
    [trainingDir, validationDir].map((dir) => Promise.all(known.map((c) => isDirectory(path.join(dir, c))))),
  );
  return {
    missingInTraining: known.filter((_, i) => !inTraining![i]),
    missingInValidation: known.filter((_, i) => !inValidation![i]),
  };
}

/** `class-mismatch` (422) when a requested class is missing in either dir; differences in `extra`. */
export async function assertSameClasses(trainingDir: string, validationDir: string, classes: readonly string[]): Promise<void> {
  const d = await compareClassDirectories(trainingDir, validationDir, classes);
  if (d.missingInTraining.length === 0 && d.missingInValidation.length === 0) return;
  const parts: string[] = [];
  if (d.missingInValidation.length > 0) parts.push(`missing in the validation data ${validationDir}: ${d.missingInValidation.join(', ')}`);
  if (d.missingInTraining.length > 0) parts.push(`missing in the training data ${trainingDir}: ${d.missingInTraining.join(', ')}`);
  throw new DatasetError('class-mismatch', `validation_data must hold the same classes as the training data; ${parts.join('; ')}`, {
    ...d,
    trainingDir,
    validationDir,
  });
}

/**
 * Settings that cannot go with `validation_data` (422 `invalid-settings`, saying why), and
 * index dirs that would make the two dirs overwrite each other's index files.
 */
export function checkValidationDataOptions(dirs: IndexDirs, validationData: IndexDirs, opts: DatasetOptions): void {
  if (opts.validationSplit !== 0) {
    throw new InvalidSettingsError(
      `validation_split must be 0 or absent with validation_data (got ${opts.validationSplit}): the validation subset is the whole validation_data directory, so no part of the training data is split off`,
      { setting: 'validation_split' },
    );
  }
  if (opts.listing === 'speech_commands_lists') {
    throw new InvalidSettingsError(
      'validation_data cannot be combined with listing speech_commands_lists: validation_list.txt already names the validation subset',
      { setting: 'validation_data' },
    );
  }
  if (path.resolve(dirs.datasetDir) === path.resolve(validationData.datasetDir)) {
    throw new InvalidSettingsError('validation_data names the training dataset directory itself: training and validation would be the same files', {
      setting: 'validation_data',
    });
  }
  for (const key of ['fallbackIndexDir', 'shuffleIndexDir'] as const) {
    if (path.resolve(dirs[key]) === path.resolve(validationData[key])) {
      // A wiring error of the caller, not of the client: both dirs would write .index/<class>.txt there.
      throw new Error(`validation_data needs its own ${key} (both dataset dirs would write the same index files)`);
    }
  }
}

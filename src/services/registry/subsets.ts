/**
 * Which stored list, and which entry of it, a request names: `training` reads the
 * training list, `validation` the validation list, `evaluation` the evaluation load's list
 * (speech_commands_lists: `testing_list.txt`) or, without an evaluation load, the
 * validation list (spec §8: MLTK evaluates on the validation files). Every subset the
 * dataset holds a load for is served at once (./loads.ts); a list that is not loaded is a
 * 409 that says which load brings it. Each list's entries are relative to its own dataset
 * dir (`subsetDir`): with validation_data that is the validation dir.
 */
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { StoredSubsetName, SubsetName } from '../../core/schemas.ts';
import { loadedKinds } from './loads.ts';
import type { DatasetRecord, StoredSubset, StoredSubsets } from './types.ts';

/** The loads a dataset holds, for messages ("training, evaluation" or "nothing"). */
export function loadedText(rec: DatasetRecord): string {
  return loadedKinds(rec).join(', ') || 'nothing';
}

/** The stored list a subset name reads: evaluation uses the validation files (spec §8). */
export function subsetFor(rec: DatasetRecord, subsets: StoredSubsets, name: SubsetName): StoredSubset {
  if (rec.status !== 'ready' || !rec.loaded_subset) {
    throw new ConflictError('dataset-not-loaded', `dataset ${rec.id} is unloaded; POST /v1/datasets/${rec.id}/load first`);
  }
  const lists = rec.settings.listing === 'speech_commands_lists';
  const s = storedList(rec, subsets, name);
  if (s) return s;
  if (name !== 'training' && rec.settings.validation_split === 0 && !rec.settings.validation_data && !lists) {
    throw new ConflictError(
      'no-validation-subset',
      `dataset ${rec.id} has validation_split = 0, so there is no ${name} subset; register it with a validation_split between 0 and 1`,
    );
  }
  throw new ConflictError(
    'subset-not-loaded',
    `the ${name} subset of dataset ${rec.id} is not loaded (loaded: ${loadedText(rec)}); POST /v1/datasets/${rec.id}/load with {"subset":"${name}"} (other clients' subsets stay loaded)`,
  );
}

/** The dir a stored list's entries are relative to, and the allow-listed root it lies in. */
export function subsetDir(rec: DatasetRecord, list: StoredSubset): { datasetDir: string; root: string } {
  return { datasetDir: list.datasetDir ?? rec.dataset_dir, root: list.dataRoot ?? rec.data_root };
}

/** The list a featurization of `name` computes: evaluation featurizes the validation files. */
export function storedSubsetOf(name: SubsetName): StoredSubsetName {
  return name === 'evaluation' ? 'validation' : name;
}

/** The name a stored list is kept under (the list split's evaluation list: `evaluation`), for job labels. */
export function listNameOf(subsets: StoredSubsets, list: StoredSubset, requested: SubsetName): StoredSubsetName | 'evaluation' {
  if (list === subsets.training) return 'training';
  if (list === subsets.validation) return 'validation';
  if (list === subsets.evaluation) return 'evaluation';
  return storedSubsetOf(requested);
}

/**
 * The stored list a sample request names, or undefined: `evaluation` is the evaluation list
 * (speech_commands_lists) or, for the other listings, the validation list MLTK evaluates on.
 */
export function storedList(rec: DatasetRecord, subsets: StoredSubsets, name: SubsetName): StoredSubset | undefined {
  if (name !== 'evaluation') return subsets[name];
  return subsets.evaluation ?? (rec.settings.listing === 'speech_commands_lists' ? undefined : subsets.validation);
}

export interface SampleRef {
  subset: SubsetName;
  position: number;
  /** Index entry (path relative to the dataset directory), null for a `_silence_` sample. */
  entry: string | null;
  label: number;
  className: string;
  /** The whole list the sample is in. */
  list: StoredSubset;
}

/** The sample at `position` of a loaded list (404 problems for a missing list or position). */
export function sampleAt(rec: DatasetRecord, subsets: StoredSubsets, subset: SubsetName, position: number): SampleRef {
  const list = storedList(rec, subsets, subset);
  if (!list) {
    throw new NotFoundError('subset', `dataset ${rec.id} has no ${subset} subset loaded (loaded: ${loadedText(rec)})`);
  }
  if (!Number.isInteger(position) || position < 0 || position >= list.entries.length) {
    throw new NotFoundError(
      'sample',
      `the ${subset} subset of dataset ${rec.id} has ${list.entries.length} samples (positions 0 to ${list.entries.length - 1}); there is no sample ${position}`,
    );
  }
  const label = list.labels[position]!;
  return { subset, position, entry: list.entries[position] ?? null, label, className: rec.settings.classes[label] ?? String(label), list };
}

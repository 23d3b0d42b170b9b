/** Public types of the dataset API (spec §2 settings, §8 loads). */
import type { Subset } from './subset.ts';
import type { IndexLocation } from './index-files.ts';
import type { Listing, SubsetName } from '../schemas.ts';

export type { Subset, SubsetName } from './subset.ts';
export type { IndexLocation } from './index-files.ts';

/** Which MLTK load (`load_dataset(subset)`): one of the subset names. */
export type LoadKind = SubsetName;
export type { ClassMode, Listing } from '../schemas.ts';

export interface DatasetOptions {
  classes: string[];
  /** Must be 0 with `speech_commands_lists` and with `DatasetDirs.validationData`. */
  validationSplit: number;
  unknownClassPercentage: number;
  silenceClassPercentage: number;
  followLinks: boolean;
  shuffleDatasetEnabled: boolean;
  listing: Listing;
  /** Training and validation loads; `-1` = all. */
  maxSamplesPerClass: number;
  /**
   * MLTK's `eval_max_samples_per_class`: an evaluation load uses it *instead of*
   * `maxSamplesPerClass` (spec §8). Omitted = `-1` (all).
   */
  evalMaxSamplesPerClass?: number;
  /** `_unknown_` selection seed (`seed if seed else 43`, as MLTK) and shuffled-index seed; `null` = none given. */
  seed: number | null;
  /**
   * Largest subset (entries, `_silence_` included) a load may build; checked from the
   * class counts and percentages before any list is allocated. Omitted = no limit.
   */
  maxSubsetEntries?: number;
  /**
   * Largest list file (validation_list.txt, testing_list.txt) a load reads
   * (MAX_LIST_FILE_BYTES). Omitted = DEFAULT_MAX_LIST_FILE_BYTES (64 MiB), which index
   * files always get.
   */
  maxListFileBytes?: number;
}

/** Where one dataset dir's index files go (spec §4). */
export interface IndexDirs {
  datasetDir: string;
  /** Where the alphabetical index goes when datasetDir is read-only. */
  fallbackIndexDir: string;
  /** MLTK's shuffle index dir (`<log dir>/dataset`); the artifact dir. */
  shuffleIndexDir: string;
}

export interface DatasetDirs extends IndexDirs {
  /**
   * `validation_data`: a second dataset dir whose whole listing is the validation subset
   * (and the evaluation subset, spec §8) instead of a split of `datasetDir`. Its index
   * files are its own: its fallback and shuffle index dirs must differ from the training
   * dir's (the class names, hence the `.index/<class>.txt` names, are the same).
   */
  validationData?: IndexDirs;
}

/** The index files one load used in one dataset dir. */
export interface IndexInfo {
  datasetDir: string;
  location: IndexLocation;
  /** Absolute paths, in listing order (requested classes, then unknown candidates). */
  files: string[];
}

export interface LoadResult {
  kind: LoadKind;
  training?: Subset;
  /**
   * The validation subset: built by training and validation loads, and by evaluation
   * loads of the split listings and of `validation_data` (MLTK evaluates on the
   * validation files, spec §8). Use `loadedSubset(result, name)` to read a subset by name.
   */
  validation?: Subset;
  /** Only with `speech_commands_lists`: the evaluation load's subset (`testing_list.txt`). */
  evaluation?: Subset;
  /** Per subset, in `classes` order; a section exists only for the subsets this load built. */
  classCounts: {
    training?: Record<string, number>;
    validation?: Record<string, number>;
    evaluation?: Record<string, number>;
  };
  /** Index of the (training) dataset dir. */
  indexLocation: IndexLocation;
  /** Absolute paths of the index files of every class directory listed in the (training) dataset dir, in listing order. */
  indexFiles: string[];
  /** With `validation_data`: the index files used in the validation dataset dir. */
  validationDataIndex?: IndexInfo;
  warnings: string[];
}

/** Public types of the dataset API (spec §2 settings, §8 loads). */
import type { Subset } from './subset.ts';
import type { IndexLocation } from './index-files.ts';
import type { Listing, SubsetName } from '../schemas.ts';

export type { Subset } from './subset.ts';
export type { IndexLocation } from './index-files.ts';

export type { ClassMode, Listing } from '../schemas.ts';
/** Which MLTK load (`load_dataset(subset)`): one of the subset names. */
export type LoadKind = SubsetName;

export interface DatasetOptions {
  classes: string[];
  validationSplit: number;
  unknownClassPercentage: number;
  silenceClassPercentage: number;
  followLinks: boolean;
  shuffleDatasetEnabled: boolean;
  listing: Listing;
  /** `-1` = all. */
  maxSamplesPerClass: number;
  /** `_unknown_` selection seed (`seed if seed else 43`, as MLTK) and shuffled-index seed; `null` = none given. */
  seed: number | null;
}

export interface DatasetDirs {
  datasetDir: string;
  /** Where the alphabetical index goes when datasetDir is read-only. */
  fallbackIndexDir: string;
  /** MLTK's shuffle index dir (`<log dir>/dataset`); the artifact dir. */
  shuffleIndexDir: string;
}

export interface LoadResult {
  kind: LoadKind;
  training?: Subset;
  validation?: Subset;
  classCounts: { training?: Record<string, number>; validation?: Record<string, number> };
  indexLocation: IndexLocation;
  /** Absolute paths of the index files of every listed class directory, in listing order. */
  indexFiles: string[];
  warnings: string[];
}

/** Shapes persisted in the registry and served by the API (MLTK names at the edge). */
import type { FrontendSettings } from '../../core/frontend/settings.ts';
import type { ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import type { ClassMode, LoadKind } from '../../core/datasets/index.ts';
import type { RegistrationListing, ValidationDataInput } from './schemas.ts';
import type { FeatureDtype, StoredSubsetName } from '../../core/schemas.ts';
import type { Standardization } from '../../core/tensors/standardize.ts';

export type { ClassMode, LoadKind } from '../../core/datasets/index.ts';

export type DatasetSource =
  | { type: 'directory'; path: string }
  | { type: 'upload'; files: number; bytes: number; archive: 'zip' | 'tar' | 'tar.gz' | 'files' }
  | { type: 'loader'; name: string; options: Record<string, unknown> };

/**
 * Every registration setting with its effective value (defaults filled in). The
 * standardization fields (rescale, samplewise_*) are absent from records registered before
 * they existed: read them with standardizationOf (settings.ts).
 */
export interface EffectiveSettings extends Partial<Standardization> {
  classes: string[];
  validation_split: number;
  unknown_class_percentage: number;
  silence_class_percentage: number;
  follow_links: boolean;
  shuffle_dataset_enabled: boolean;
  class_mode: ClassMode;
  class_weights: unknown;
  seed: number | null;
  batch_size: number;
  max_samples_per_class: number;
  listing: RegistrationListing;
  /** As given: a registered dataset id or a directory source; null = none. */
  validation_data: ValidationDataInput | null;
  eval_shuffle: boolean;
  eval_augment: boolean;
  eval_max_samples_per_class: number;
  dtype: FeatureDtype;
  add_channel_dimension: boolean;
  frontend_enabled: boolean;
  sample_shape: number[] | null;
  frontend_settings: FrontendSettings;
  trim_threshold_db: number;
  /** null: no augmentation (every epoch is the cached, deterministic features). */
  augmentation: ResolvedAugmentation | null;
}

export interface ClassWeightsOutcome {
  value: Record<string, number> | null;
  log: string | null;
  warning: string | null;
}

/** Counts per subset, in `classes` order, as MLTK's load reports them. */
export type ClassCountsBySubset = { training?: Record<string, number>; validation?: Record<string, number>; evaluation?: Record<string, number> };

/**
 * One MLTK load (`load_dataset(subset)`) a dataset holds: what that call computed. A
 * dataset holds one load per subset name at once, so every client's subset is served.
 */
export interface LoadRecord {
  /** When the load was made (a reindex or a pinned index recomputes it and keeps this). */
  loaded_at: string;
  /** MLTK's class counts of this load (an evaluation load of a split listing names its subset `validation`, as MLTK). */
  class_counts: ClassCountsBySubset;
  /** summarize_dataset() after this load. */
  summary: string;
  /** Training loads only (null when `class_weights` is none). */
  class_weights: ClassWeightsOutcome | null;
  warnings: string[];
  /** The stored lists this load made (StoredSubsets keys). */
  lists: StoredListName[];
}

export interface DatasetRecord {
  id: string;
  status: 'ready' | 'unloaded';
  created_at: string;
  updated_at: string;
  /** Incremented by every write: updates are compare-and-set on it (absent in records stored before: 0). */
  revision?: number;
  source: DatasetSource;
  dataset_dir: string;
  /** The allow-listed root the dataset lives in: no clip may resolve outside it. */
  data_root: string;
  /** Per-dataset artifact directory (shuffle index, fallback index, feature shards). */
  artifact_dir: string;
  settings: EffectiveSettings;
  audio_input_shape: number[];
  /**
   * The loads the dataset holds, by subset name (absent in records stored before: the one
   * load `loaded_subset` names, with the fields below).
   */
  loads?: Partial<Record<LoadKind, LoadRecord>>;
  /** The most recent load held (null: none): `class_counts`, `summary` and `warnings` are its own. */
  loaded_subset: LoadKind | null;
  class_counts: ClassCountsBySubset;
  /** The training load's class weights (null without a training load). */
  class_weights: ClassWeightsOutcome | null;
  summary: string;
  index: IndexRecord;
  /** With validation_data: the validation dataset dir, its data root, and the index it used. */
  validation_data?: { dataset_dir: string; data_root: string; dataset_id: string | null; index: IndexRecord | null } | null;
  warnings: string[];
}

export interface IndexRecord {
  location: 'dataset' | 'fallback' | 'shuffle_index_dir';
  dir: string;
  files: string[];
}

export interface StoredSubset {
  entries: (string | null)[];
  labels: number[];
  /** The dir the entries are relative to (absent in records stored before validation_data: the dataset dir). */
  datasetDir?: string;
  /** The allow-listed root that dir lies in (absent: the record's data_root). */
  dataRoot?: string;
}
/** A stored list: training and validation (training and validation loads), evaluation (evaluation loads). */
export type StoredListName = StoredSubsetName | 'evaluation';
/**
 * The file lists of the loaded subsets. `evaluation` is an evaluation load's list (the
 * testing list with speech_commands_lists, else the validation files with
 * eval_max_samples_per_class); records stored before kept a split listing's evaluation
 * load under `validation`.
 */
export type StoredSubsets = Partial<Record<StoredListName, StoredSubset>>;

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

export interface DatasetRecord {
  id: string;
  status: 'ready' | 'unloaded';
  created_at: string;
  updated_at: string;
  source: DatasetSource;
  dataset_dir: string;
  /** The allow-listed root the dataset lives in: no clip may resolve outside it. */
  data_root: string;
  /** Per-dataset artifact directory (shuffle index, fallback index, feature shards). */
  artifact_dir: string;
  settings: EffectiveSettings;
  audio_input_shape: number[];
  loaded_subset: LoadKind | null;
  class_counts: { training?: Record<string, number>; validation?: Record<string, number>; evaluation?: Record<string, number> };
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
/** The file lists of the loaded subsets; `evaluation` only for speech_commands_lists evaluation loads. */
export type StoredSubsets = Partial<Record<StoredSubsetName | 'evaluation', StoredSubset>>;

/** The API documents the page reads (the fields it uses). */
export interface ClassWeights {
  value: Record<string, number> | null;
  log: string | null;
  warning: string | null;
}

export interface Dataset {
  id: string;
  status: string;
  source: Record<string, unknown>;
  listing: string;
  audio_classes: string[];
  audio_input_shape: number[];
  sample_rate_hz: number;
  sample_length_ms: number;
  class_mode: string | null;
  frontend_enabled: boolean;
  frontend_settings: Record<string, unknown>;
  loaded_subset: string | null;
  loaded_subsets?: string[];
  class_counts: Record<string, Record<string, number>>;
  class_weights: ClassWeights | null;
  warnings: string[];
  settings: { augmentation?: Record<string, unknown> | null; seed?: number | null };
}

export interface SkippedClip {
  position: number;
  entry: string | null;
  reason: string;
  detail: string;
}

export interface Featurization {
  shards_done: number;
  shards_total: number;
  skipped_clips: SkippedClip[];
}

export interface Summary {
  text: string;
  featurization: Record<string, Featurization>;
}

export interface JobProgress {
  id: string;
  subset: string;
  state: string;
  shards_total: number;
  shards_done: number;
  clips_total: number;
  clips_done: number;
  clips_per_second: number | null;
  eta_seconds: number | null;
  failures: SkippedClip[];
  failed_reason: string | null;
  events_url?: string;
}

export interface SampleItem {
  index: number;
  entry: string | null;
  label: number;
  class: string;
}

export interface Info {
  data_roots: string[];
}

/** The colour noises of `noise_colors` (src/core/audio/noise.ts NOISE_COLORS, in its order). */
export const NOISE_COLORS = ['white', 'brown', 'blue', 'pink', 'violet'] as const;

export const SUBSETS = ['training', 'validation'] as const;
/** Every subset a dataset can load (POST …/load). */
export const LOADABLE = ['training', 'validation', 'evaluation'] as const;
export type Subset = (typeof SUBSETS)[number];

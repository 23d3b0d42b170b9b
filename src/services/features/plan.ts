/**
 * What a featurization computes and where it is cached. A subset's entry list is cut
 * into shards of SHARD_SIZE consecutive entries; a shard's key is derived from its
 * content (dataset directory, entries, feature settings, code version), so a repeated
 * request, another replica or another registration of the same data finds the work done.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { DEFAULT_TRIM_THRESHOLD_DB } from '../../core/audio/index.ts';
import { InvalidSettingsError } from '../../core/errors.ts';
import { settingsHash, frontendShape, type FrontendSettings } from '../../core/frontend/settings.ts';
import type { FeatureDtype } from '../../core/schemas.ts';
import type { DatasetRecord } from '../registry/types.ts';
import type { ShardDtype } from './shard-file.ts';

/** Bump when decoding, resampling, trimming or the frontend change their output. */
export const FEATURE_VERSION = 1;
export const SHARD_SIZE = 64;

export interface FeatureSpec {
  frontendEnabled: boolean;
  frontendSettings: FrontendSettings;
  trimThresholdDb: number;
}

/** What the features of a registered dataset's clips are computed with. */
export function featureSpecOf(rec: DatasetRecord): FeatureSpec {
  return {
    frontendEnabled: rec.settings.frontend_enabled,
    frontendSettings: rec.settings.frontend_settings,
    trimThresholdDb: rec.settings.trim_threshold_db ?? DEFAULT_TRIM_THRESHOLD_DB,
  };
}

/**
 * The dtype a dataset's features are delivered as: the requested one, else the dataset's.
 * Without the frontend the features are audio, which only float32 can hold.
 */
export function deliveredDtype(rec: DatasetRecord, requested?: FeatureDtype): FeatureDtype {
  const dtype = requested ?? rec.settings.dtype;
  if (!rec.settings.frontend_enabled && dtype !== 'float32') {
    throw new InvalidSettingsError('with frontend_enabled = false the samples are audio: only dtype float32 is available', { field: 'dtype' });
  }
  return dtype;
}

export function featureHash(spec: FeatureSpec): string {
  return crypto
    .createHash('sha256')
    .update(
      JSON.stringify({
        v: FEATURE_VERSION,
        frontend: spec.frontendEnabled ? settingsHash(spec.frontendSettings) : null,
        rate: spec.frontendSettings.sample_rate_hz,
        length: spec.frontendSettings.sample_length_ms,
        trim: spec.trimThresholdDb,
      }),
    )
    .digest('hex');
}

/** Per-clip stored shape: the uint16 spectrogram [H, W], or the float32 audio [T]. */
export function rowShapeOf(spec: FeatureSpec): number[] {
  if (spec.frontendEnabled) {
    const { height, width } = frontendShape(spec.frontendSettings);
    return [height, width];
  }
  const s = spec.frontendSettings;
  return [Math.floor((s.sample_rate_hz * s.sample_length_ms) / 1000)];
}

export function shardDtypeOf(spec: FeatureSpec): ShardDtype {
  return spec.frontendEnabled ? 'uint16' : 'float32';
}

export interface ShardPlan {
  index: number;
  key: string;
  start: number;
  end: number;
  file: string;
}

export interface SubsetPlan {
  /** Content key of the whole subset under these features: the featurize job id derives from it. */
  key: string;
  featureHash: string;
  shards: ShardPlan[];
}

export function planSubset(datasetDir: string, entries: readonly (string | null)[], spec: FeatureSpec, featuresDir: string): SubsetPlan {
  const fh = featureHash(spec);
  const dir = path.join(featuresDir, fh.slice(0, 16));
  const whole = crypto.createHash('sha256').update(fh).update('\0').update(datasetDir);
  const shards: ShardPlan[] = [];
  for (let start = 0, index = 0; start < entries.length; start += SHARD_SIZE, index++) {
    const end = Math.min(start + SHARD_SIZE, entries.length);
    const h = crypto.createHash('sha256').update(fh).update('\0').update(datasetDir);
    for (let i = start; i < end; i++) {
      const e = entries[i];
      const line = e === null || e === undefined ? '\u0000silence' : e;
      h.update('\n').update(line);
      whole.update('\n').update(line);
    }
    const key = h.digest('hex').slice(0, 32);
    shards.push({ index, key, start, end, file: path.join(dir, `${key}.afs`) });
  }
  return { key: whole.digest('hex').slice(0, 32), featureHash: fh, shards };
}

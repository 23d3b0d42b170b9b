/**
 * What a featurization computes and where it is cached. A subset's entries are laid out
 * in an order (its layout) and cut into shards of SHARD_SIZE consecutive slots of that
 * order; a shard's key is derived from its content (dataset directory, its entries in row
 * order, feature settings, code version), so a repeated request, another replica or
 * another registration of the same data finds the work done.
 *
 * A registered list is laid out in the order of its first shuffled epoch (epoch 0 with
 * the dataset's seed: what a trainer streams first), so a cold first epoch reads the
 * shards one after the other while the workers make them in that same order, instead
 * of needing a clip from nearly every shard for its first batch. Later epochs read rows
 * from anywhere, as before; the bytes of every batch do not depend on the layout.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { DEFAULT_TRIM_THRESHOLD_DB } from '../../core/audio/index.ts';
import { DEFAULT_EPOCH_SEED } from '../../core/datasets/index.ts';
import { RandomState } from '../../core/random.ts';
import { InvalidSettingsError } from '../../core/errors.ts';
import { settingsHash, frontendShape, type FrontendSettings } from '../../core/frontend/settings.ts';
import type { FeatureDtype } from '../../core/schemas.ts';
import { standardizationOf } from '../registry/settings.ts';
import { subsetDir } from '../registry/subsets.ts';
import { checkStandardizationTarget } from '../../core/tensors/standardize.ts';
import type { DatasetRecord, StoredSubset } from '../registry/types.ts';
import type { ShardDtype } from './shard-file.ts';

/**
 * Bump when decoding, resampling, trimming or the frontend change their output.
 * 2: clips at other rates are resampled with libsoxr's soxr_hq (was a Kaiser sinc).
 */
export const FEATURE_VERSION = 2;
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
 * Without the frontend the features are audio, and standardized spectrograms are
 * fractions: only float32 holds either.
 */
export function deliveredDtype(rec: DatasetRecord, requested?: FeatureDtype): FeatureDtype {
  const dtype = requested ?? rec.settings.dtype;
  if (!rec.settings.frontend_enabled && dtype !== 'float32') {
    throw new InvalidSettingsError('with frontend_enabled = false the samples are audio: only dtype float32 is available', { field: 'dtype' });
  }
  checkStandardizationTarget(standardizationOf(rec.settings), rec.settings.frontend_enabled, dtype);
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
  /** Computed when first read (see planSubset). */
  readonly key: string;
  /** Slots [start, end) of the layout: row r holds the clip at subset position `positionAt(plan, index, r)`. */
  start: number;
  end: number;
  readonly file: string;
}

export interface SubsetPlan {
  /** Content key of the whole subset under these features: the featurize job id derives from it (computed when first read). */
  readonly key: string;
  featureHash: string;
  shards: ShardPlan[];
  /** The layout's seed (the first shuffled epoch's order), or null: subset order. */
  layoutSeed: number | null;
  /** Subset position of each layout slot (null: slot = position). */
  order: Int32Array | null;
  /** Layout slot of each subset position (the inverse of `order`). */
  slots: Int32Array | null;
}

/**
 * The order of a list's first shuffled epoch (spec §9: epoch 0 is `permutation(n)` of
 * RandomState(seed)), or null (subset order) when `seed` is null.
 */
export function layoutOrder(n: number, seed: number | null): Int32Array | null {
  if (seed === null) return null;
  return new RandomState(seed % 2 ** 32).permutation(n);
}

/** The layout of a registered list: its first shuffled epoch under the dataset's seed. */
export function layoutSeedOf(rec: DatasetRecord): number {
  return rec.settings.seed ?? DEFAULT_EPOCH_SEED;
}

/** Index of the shard holding subset position p. */
export function shardOf(plan: SubsetPlan, p: number): number {
  return Math.floor((plan.slots ? plan.slots[p]! : p) / SHARD_SIZE);
}

/** Row of subset position p within its shard. */
export function rowOf(plan: SubsetPlan, p: number): number {
  return (plan.slots ? plan.slots[p]! : p) % SHARD_SIZE;
}

/** Subset position of row `row` of shard `shard`. */
export function positionAt(plan: Pick<SubsetPlan, 'order'>, shard: number, row: number): number {
  const slot = shard * SHARD_SIZE + row;
  return plan.order ? plan.order[slot]! : slot;
}

/**
 * Subset position of row `row` of shard `shard`, for a list of `clips` entries laid out
 * by `layoutSeed` (what a featurize job records); the layout is computed on first use.
 */
export function layoutPositions(clips: number, layoutSeed: number | null): (shard: number, row: number) => number {
  let layout: { order: Int32Array | null } | undefined;
  return (shard, row) => positionAt((layout ??= { order: layoutOrder(clips, layoutSeed) }), shard, row);
}

/** The entries of a shard, in row order. */
export function shardEntries<T>(plan: SubsetPlan, entries: readonly T[], s: ShardPlan): T[] {
  if (!plan.order) return entries.slice(s.start, s.end);
  return Array.from(plan.order.subarray(s.start, s.end), (p) => entries[p]!);
}

/**
 * Shards of `entries` laid out in the order of `layoutSeed`'s first shuffled epoch (null:
 * subset order). Keys hash each shard's entries in row order, so the same data under the
 * same layout names the same files in every process.
 *
 * Keys are computed when first read: a stream's first batch needs the files of a few
 * shards, not the keys of all of them (hashing a 105k-entry list costs 30–40 ms), so the
 * time to the first batch does not grow with the list. The subset's key (its flow's job
 * id) and the other shards' keys are computed when the flow is created, after that batch.
 */
export function planSubset(
  datasetDir: string,
  entries: readonly (string | null)[],
  spec: FeatureSpec,
  featuresDir: string,
  layoutSeed: number | null = null,
): SubsetPlan {
  const fh = featureHash(spec);
  const dir = path.join(featuresDir, fh.slice(0, 16));
  const order = layoutOrder(entries.length, layoutSeed);
  let slots: Int32Array | null = null;
  if (order) {
    slots = new Int32Array(order.length);
    for (let i = 0; i < order.length; i++) slots[order[i]!] = i;
  }
  // Each key hashes `fh \0 datasetDir` then `\n<entry>` per entry of its rows (the subset's
  // key: of all rows), one hash update per shard.
  const head = `${fh}\0${datasetDir}`;
  const body = (start: number, end: number) => {
    const lines: string[] = [];
    for (let i = start; i < end; i++) {
      const e = entries[order ? order[i]! : i];
      lines.push(e === null || e === undefined ? '\u0000silence' : e);
    }
    return `\n${lines.join('\n')}`;
  };
  const shardKey = (text: string) => crypto.createHash('sha256').update(head).update(text).digest('hex').slice(0, 32);
  const keys: (string | undefined)[] = [];
  const shards: ShardPlan[] = [];
  for (let start = 0, index = 0; start < entries.length; start += SHARD_SIZE, index++) {
    const end = Math.min(start + SHARD_SIZE, entries.length);
    let file: string | undefined;
    shards.push({
      index,
      start,
      end,
      get key() {
        return (keys[index] ??= shardKey(body(start, end)));
      },
      get file() {
        return (file ??= path.join(dir, `${this.key}.afs`));
      },
    });
  }
  let key: string | undefined;
  return {
    get key() {
      if (key === undefined) {
        // One pass over the rows: the subset's key and every shard key not read yet.
        const whole = crypto.createHash('sha256').update(head);
        for (const s of shards) {
          const text = body(s.start, s.end);
          whole.update(text);
          keys[s.index] ??= shardKey(text);
        }
        key = whole.digest('hex').slice(0, 32);
      }
      return key;
    },
    featureHash: fh,
    shards,
    layoutSeed: order ? layoutSeed : null,
    order,
    slots,
  };
}

/** Plans of the lists in memory (the registry keeps the lists of the datasets streamed last). */
const listPlans = new WeakMap<StoredSubset, Map<string, SubsetPlan>>();

/**
 * Where the features of one registered list are: its dir, its layout, the dataset's
 * feature settings. Remembered per list object, so the streams of one dataset plan it once.
 */
export function planList(rec: DatasetRecord, list: StoredSubset, featuresDir: string): SubsetPlan {
  const { datasetDir } = subsetDir(rec, list);
  const spec = featureSpecOf(rec);
  const seed = layoutSeedOf(rec);
  const key = JSON.stringify([featureHash(spec), datasetDir, seed, featuresDir]);
  let plans = listPlans.get(list);
  if (!plans) listPlans.set(list, (plans = new Map()));
  let plan = plans.get(key);
  if (!plan) {
    plan = planSubset(datasetDir, list.entries, spec, featuresDir, seed);
    if (plans.size >= 4) plans.clear();
    plans.set(key, plan);
  }
  return plan;
}

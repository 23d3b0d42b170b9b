/**
 * What one batch request streams: the subset, the epoch's batch order (spec §9, a pure
 * function of index, seed and epoch), labels, dtype and weights, from the registered
 * dataset and the request's Keras-style parameters.
 */
import { epochBatches, maxBatchRows, type BatchList, type EpochBatches } from '../../core/datasets/index.ts';
import { ConflictError, InvalidSettingsError } from '../../core/errors.ts';
import type { ClassMode, FeatureDtype, SubsetName } from '../../core/schemas.ts';
import { deliveredDtype, featureSpecOf, planList, shardOf, type FeatureSpec, type SubsetPlan } from '../features/plan.ts';
import { activeStandardization } from '../registry/settings.ts';
import { subsetDir, subsetFor } from '../registry/subsets.ts';
import type { DatasetRecord, StoredSubset, StoredSubsets } from '../registry/types.ts';
import type { EpochSource } from './assemble.ts';

export interface EpochParams {
  subset: SubsetName;
  epoch: number;
  batchSize?: number;
  /** Per-epoch reshuffle (MLTK's generator); 'batch' behaves as true. Default: on; evaluation: the dataset's eval_shuffle (MLTK default off). */
  shuffle?: boolean | 'batch';
  stepsPerEpoch?: number;
  /** Validation passes: the first N batches of one fixed order, the same every epoch. */
  validationSteps?: number;
  classMode?: ClassMode;
  dtype?: FeatureDtype;
  classWeight?: boolean;
  sampleWeights?: Float32Array | null;
  fromBatch?: number;
}

export interface EpochPlan {
  subset: StoredSubset;
  /** The dir the subset's entries are relative to (validation_data: the validation dir) and its data root. */
  datasetDir: string;
  root: string;
  /** Whether this epoch's order is shuffled. */
  shuffle: boolean;
  spec: FeatureSpec;
  plan: SubsetPlan;
  source: EpochSource;
  /** Every batch of the requested epoch (from batch 0), positions in the subset, made on demand. */
  batches: EpochBatches;
  fromBatch: number;
  xShape: number[];
  classMode: ClassMode;
  dtype: FeatureDtype;
  batchSize: number;
  /** Rows of the largest batch (every batch has this many: see epochBatchRows). */
  maxBatchRows: number;
}

/**
 * Rows of the largest batch a request for this subset emits, before anything is planned:
 * the batch size (the dataset's default when the request has none; -1 = the subset), not
 * capped by the subset's size, since the wrap-around fills a batch larger than the subset
 * with repeats. MAX_BATCH_BYTES and the stream budget are computed from it.
 */
export function epochBatchRows(rec: DatasetRecord, subsets: StoredSubsets, p: Pick<EpochParams, 'subset' | 'batchSize'>): number {
  const n = subsetFor(rec, subsets, p.subset).entries.length;
  return maxBatchRows(n, p.batchSize ?? rec.settings.batch_size);
}

export function planEpoch(rec: DatasetRecord, subsets: StoredSubsets, p: EpochParams, featuresDir: string): EpochPlan {
  const subset = subsetFor(rec, subsets, p.subset);
  const n = subset.entries.length;
  const batchSize = p.batchSize ?? rec.settings.batch_size;
  const classMode = p.classMode === undefined ? rec.settings.class_mode : p.classMode;
  const dtype = deliveredDtype(rec, p.dtype);
  const shuffle = p.shuffle === undefined ? (p.subset === 'evaluation' ? (rec.settings.eval_shuffle ?? false) : true) : p.shuffle !== false;
  let batches: EpochBatches;
  if (p.subset === 'validation' && p.validationSteps !== undefined) {
    // Keras' validation_steps: the same samples every epoch.
    batches = epochBatches(n, batchSize, { shuffle, seed: rec.settings.seed, epoch: 0, stepsPerEpoch: p.validationSteps });
  } else {
    batches = epochBatches(n, batchSize, { shuffle, seed: rec.settings.seed, epoch: p.epoch, stepsPerEpoch: p.stepsPerEpoch });
  }
  const fromBatch = p.fromBatch ?? 0;
  if (fromBatch > batches.length) {
    throw new InvalidSettingsError(`from_batch ${fromBatch} is past the end of the epoch (${batches.length} batches)`, { field: 'from_batch' });
  }
  let sampleWeights = p.sampleWeights ?? null;
  if (p.classWeight) {
    if (sampleWeights) throw new InvalidSettingsError('give either class_weight or sample_weight_id, not both');
    const w = rec.class_weights?.value;
    if (!w) {
      throw new ConflictError('no-class-weights', `dataset ${rec.id} has no class weights${rec.class_weights?.warning ? `: ${rec.class_weights.warning}` : ' (set class_weights at registration)'}`);
    }
    sampleWeights = Float32Array.from(subset.labels, (l) => w[String(l)] ?? 1);
  }
  if (sampleWeights && sampleWeights.length !== n) {
    throw new InvalidSettingsError(`sample weights have ${sampleWeights.length} values, the ${p.subset} subset has ${n} samples`, {
      field: 'sample_weight_id',
    });
  }
  const spec = featureSpecOf(rec);
  // Keyed by the subset's own dir: shard keys and job ids differ per dataset dir.
  const { datasetDir, root } = subsetDir(rec, subset);
  const plan = planList(rec, subset, featuresDir);
  return {
    subset,
    datasetDir,
    root,
    shuffle,
    spec,
    plan,
    source: {
      labels: subset.labels,
      numClasses: rec.settings.classes.length,
      plan,
      frontendEnabled: rec.settings.frontend_enabled,
      frontendSettings: rec.settings.frontend_settings,
      standardization: activeStandardization(rec.settings),
      classMode,
      dtype,
      sampleWeights,
    },
    batches,
    fromBatch,
    xShape: rec.audio_input_shape,
    classMode,
    dtype,
    batchSize: batchSize === -1 ? n : batchSize,
    maxBatchRows: epochBatchRows(rec, subsets, p),
  };
}

/**
 * For each shard (by index), its rank in the order the positions first need it (1 = first):
 * the order work is queued in. `positions`: the epoch's positions in order, in chunks (its
 * batches, or EpochBatches.spans).
 */
export function shardPriorities(plan: SubsetPlan, positions: Iterable<Int32Array>): Int32Array {
  const rank = new Int32Array(plan.shards.length);
  let next = 1;
  for (const b of positions) {
    for (const p of b) {
      const s = shardOf(plan, p);
      if (rank[s] === 0) rank[s] = next++;
    }
  }
  for (let s = 0; s < rank.length; s++) if (rank[s] === 0) rank[s] = next++;
  return rank;
}

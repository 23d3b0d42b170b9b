/**
 * MLTK's `datagen_context` / `get_datagen_creator`: what the generator of one subset would
 * use — batch size, shuffle, seed, augmentation, class mode, dtype, sample and batch
 * counts, and whether validation runs after a given epoch — computed from the same rules
 * as a batch stream (epoch-plan.ts, stream.ts), without streaming.
 */
import { batchesPerEpoch, DEFAULT_EPOCH_SEED, epochBatches } from '../../core/datasets/index.ts';
import type { ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import type { ClassMode, FeatureDtype, SubsetName } from '../../core/schemas.ts';
import type { Standardization } from '../../core/tensors/standardize.ts';
import { deliveredDtype } from '../features/plan.ts';
import { standardizationOf } from '../registry/settings.ts';
import { subsetFor } from '../registry/subsets.ts';
import type { DatasetRecord, StoredSubsets } from '../registry/types.ts';
import { augmentationFor } from './stream.ts';
import { validationSchedule } from './validation-schedule.ts';

export interface DatagenParams {
  subset: SubsetName;
  epoch?: number;
  batchSize?: number;
  validationBatchSize?: number;
  shuffle?: boolean;
  stepsPerEpoch?: number;
  validationSteps?: number;
  classMode?: ClassMode;
  dtype?: FeatureDtype;
  augment?: boolean;
  /** Keras validation_freq: every N-th epoch, or a list of 1-based epochs. */
  validationFreq?: number | number[];
}

export interface DatagenContext extends Standardization {
  subset: SubsetName;
  batch_size: number;
  shuffle: boolean;
  seed: number | null;
  /** The seed the epoch order is drawn with (seed, or MLTK's default when none is set). */
  effective_seed: number;
  augmentation: ResolvedAugmentation | null;
  class_mode: ClassMode;
  /** The dtype of x (float32 whenever rescale / samplewise_* standardize it). */
  dtype: FeatureDtype;
  samples: number;
  /** Batches of one pass over the subset (ceil(samples / batch_size)). */
  batches_per_epoch: number;
  /** steps_per_epoch (training) or validation_steps (validation) when set, else null. */
  steps_per_epoch: number | null;
  /** Batches a stream of this subset sends per epoch. */
  batches: number;
  x_shape: number[];
  classes: string[];
  validation_freq: number | number[];
  /** With `epoch`: the 0-based epoch asked about, and whether Keras validates after it. */
  epoch: number | null;
  validation_after_epoch: boolean | null;
}

export function datagenContext(rec: DatasetRecord, subsets: StoredSubsets, p: DatagenParams): DatagenContext {
  const list = subsetFor(rec, subsets, p.subset);
  const n = list.entries.length;
  // The batches route's rule: validation and evaluation take validation_batch_size when given.
  const asked = p.subset === 'training' ? p.batchSize : (p.validationBatchSize ?? p.batchSize);
  const batchSize = asked ?? rec.settings.batch_size;
  const effectiveBatch = batchSize === -1 ? n : batchSize;
  const shuffle = p.shuffle === undefined ? (p.subset === 'evaluation' ? (rec.settings.eval_shuffle ?? false) : true) : p.shuffle;
  const steps = p.subset === 'training' ? p.stepsPerEpoch : p.subset === 'validation' ? p.validationSteps : p.stepsPerEpoch;
  const order = epochBatches(n, batchSize, { shuffle, seed: rec.settings.seed, epoch: 0, stepsPerEpoch: steps });
  const freq = p.validationFreq ?? 1;
  const epoch = p.epoch ?? null;
  return {
    subset: p.subset,
    batch_size: effectiveBatch,
    shuffle,
    seed: rec.settings.seed,
    effective_seed: rec.settings.seed ?? DEFAULT_EPOCH_SEED,
    augmentation: augmentationFor(rec, p.subset, p.augment),
    class_mode: p.classMode === undefined ? rec.settings.class_mode : p.classMode,
    dtype: deliveredDtype(rec, p.dtype),
    ...standardizationOf(rec.settings),
    samples: n,
    batches_per_epoch: batchesPerEpoch(n, batchSize),
    steps_per_epoch: steps ?? null,
    batches: order.length,
    x_shape: rec.audio_input_shape,
    classes: rec.settings.classes,
    validation_freq: freq,
    epoch,
    validation_after_epoch: epoch === null ? null : validationSchedule(epoch + 1, freq)[epoch]!.validate,
  };
}

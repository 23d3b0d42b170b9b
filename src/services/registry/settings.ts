/**
 * Registration settings: MLTK names and defaults (spec/dataset.md §2), the cross-field
 * checks JSON schema cannot express, and the mapping to the domain options.
 */
import { InvalidSettingsError } from '../../core/errors.ts';
import { frontendShape, resolveFrontendSettings } from '../../core/frontend/settings.ts';
import type { DatasetOptions } from '../../core/datasets/index.ts';
import { checkClassWeightsSpec } from '../../core/datasets/class-weights.ts';
import { hasControlCharacter } from '../../core/datasets/names.ts';
import { resolveAugmentation, type AugmentationSettings } from '../../core/audio/augment/index.ts';
import { DEFAULT_TRIM_THRESHOLD_DB } from '../../core/audio/index.ts';
import {
  checkStandardizationTarget,
  isStandardizing,
  resolveStandardization,
  type Standardization,
} from '../../core/tensors/standardize.ts';
import type { RegistrationListing, RegisterBodyT, UploadSettingsT } from './schemas.ts';
import type { EffectiveSettings } from './types.ts';

export const UNKNOWN_CLASS = '_unknown_';
export const SILENCE_CLASS = '_silence_';

export function effectiveSettings(
  body: Omit<RegisterBodyT, 'source'> | UploadSettingsT,
  impliedListing?: RegistrationListing,
): EffectiveSettings {
  const seen = new Set<string>();
  const dupes = body.classes.filter((c) => (seen.has(c) ? true : (seen.add(c), false)));
  if (dupes.length > 0) {
    // MLTK silently merges duplicates into one list (spec §6.3); a service should say so.
    throw new InvalidSettingsError(`classes must be unique; repeated: ${[...new Set(dupes)].join(', ')}`, {
      field: 'classes',
    });
  }
  for (const c of body.classes) {
    if (c.includes('/') || c.includes('\\') || c === '.' || c === '..' || hasControlCharacter(c)) {
      throw new InvalidSettingsError(`class name ${JSON.stringify(c)} is not a directory name`, { field: 'classes' });
    }
  }
  const weightsProblem = checkClassWeightsSpec(body.class_weights, body.classes);
  if (weightsProblem) throw new InvalidSettingsError(weightsProblem, { field: 'class_weights' });
  const frontendEnabled = body.frontend_enabled ?? true;
  if (frontendEnabled && body.sample_shape !== undefined) {
    throw new InvalidSettingsError('sample_shape can only be set when frontend_enabled is false (MLTK derives it from the frontend settings)', {
      field: 'sample_shape',
    });
  }
  if (!frontendEnabled && body.sample_shape === undefined) {
    throw new InvalidSettingsError('frontend_enabled is false: give sample_shape, the input shape of the model', {
      field: 'sample_shape',
    });
  }
  const listing = body.listing ?? impliedListing ?? 'generic';
  const shuffle = body.shuffle_dataset_enabled ?? false;
  if (listing === 'speech_commands_v2' && shuffle) {
    // MLTK's AssertionError, reported before any work is done.
    throw new InvalidSettingsError('Shuffling the index is not supported by this dataset (speech_commands_v2 listing)', {
      field: 'shuffle_dataset_enabled',
    });
  }
  const validationData = body.validation_data ?? null;
  if (validationData !== null && (body.validation_split ?? 0) !== 0) {
    throw new InvalidSettingsError(
      `validation_split must be 0 or absent with validation_data (got ${body.validation_split}): the validation subset is the whole validation_data, so no part of the training data is split off`,
      { field: 'validation_split' },
    );
  }
  if (listing === 'speech_commands_lists' && (body.validation_split ?? 0) !== 0) {
    throw new InvalidSettingsError(
      `validation_split must be 0 or absent with listing speech_commands_lists (got ${body.validation_split}): validation_list.txt and testing_list.txt decide the subsets`,
      { field: 'validation_split' },
    );
  }
  if (listing === 'speech_commands_lists' && validationData !== null) {
    throw new InvalidSettingsError(
      'validation_data cannot be combined with listing speech_commands_lists: validation_list.txt already names the validation subset',
      { field: 'validation_data' },
    );
  }
  const dtype = body.dtype ?? 'float32';
  const standardization = resolveStandardization(body);
  checkStandardizationTarget(standardization, frontendEnabled, dtype);
  const frontendSettings = resolveFrontendSettings(body.frontend_settings ?? {});
  if (!frontendEnabled && body.sample_shape !== undefined) {
    // Without the frontend a row is the clip itself: sample_length samples (spec §13/§14).
    const samples = Math.floor((frontendSettings.sample_rate_hz * frontendSettings.sample_length_ms) / 1000);
    const product = body.sample_shape.reduce((a, b) => a * b, 1);
    if (product !== samples) {
      throw new InvalidSettingsError(
        `sample_shape ${JSON.stringify(body.sample_shape)} holds ${product} values, but a clip is ${samples} samples ` +
          `(sample_rate_hz ${frontendSettings.sample_rate_hz} × sample_length_ms ${frontendSettings.sample_length_ms} / 1000): ` +
          'with frontend_enabled false the product of sample_shape must equal the clip length',
        { field: 'sample_shape', expected_elements: samples, got_elements: product },
      );
    }
  }
  return {
    classes: [...body.classes],
    validation_split: body.validation_split ?? 0,
    unknown_class_percentage: body.unknown_class_percentage ?? 1.0,
    silence_class_percentage: body.silence_class_percentage ?? 0.6,
    follow_links: body.follow_links ?? true,
    shuffle_dataset_enabled: shuffle,
    class_mode: body.class_mode === undefined ? 'categorical' : body.class_mode,
    class_weights: body.class_weights ?? null,
    seed: body.seed ?? null,
    batch_size: body.batch_size ?? 32,
    max_samples_per_class: body.max_samples_per_class ?? -1,
    listing,
    validation_data: validationData,
    eval_shuffle: body.eval_shuffle ?? false,
    eval_augment: body.eval_augment ?? false,
    eval_max_samples_per_class: body.eval_max_samples_per_class ?? -1,
    dtype,
    add_channel_dimension: body.add_channel_dimension ?? true,
    frontend_enabled: frontendEnabled,
    sample_shape: body.sample_shape ?? null,
    frontend_settings: frontendSettings,
    trim_threshold_db: body.trim_threshold_db ?? DEFAULT_TRIM_THRESHOLD_DB,
    ...standardization,
    augmentation: body.augmentation ? resolveAugmentation(body.augmentation as AugmentationSettings) : null,
  };
}

/** A dataset's standardization (off for records registered before it existed). */
export function standardizationOf(s: EffectiveSettings): Standardization {
  return resolveStandardization(s);
}

/** The standardization a dataset's batches get, or null when every step is off. */
export function activeStandardization(s: EffectiveSettings): Standardization | null {
  const st = standardizationOf(s);
  return isStandardizing(st) ? st : null;
}

export function validateBatchSize(batchSize: number): void {
  if (batchSize === 0 || batchSize < -1) {
    throw new InvalidSettingsError('batch_size must be a positive integer, or -1 for the whole subset', { field: 'batch_size' });
  }
}

/** spec §13: (height, width[, 1]) from the frontend, or the declared shape without it. */
export function audioInputShape(s: EffectiveSettings): number[] {
  if (!s.frontend_enabled) return [...(s.sample_shape ?? [])];
  const { height, width } = frontendShape(s.frontend_settings);
  return s.add_channel_dimension ? [height, width, 1] : [height, width];
}

export function datasetOptions(s: EffectiveSettings): DatasetOptions {
  return {
    classes: s.classes,
    validationSplit: s.validation_split,
    unknownClassPercentage: s.unknown_class_percentage,
    silenceClassPercentage: s.silence_class_percentage,
    followLinks: s.follow_links,
    shuffleDatasetEnabled: s.shuffle_dataset_enabled,
    listing: s.listing,
    maxSamplesPerClass: s.max_samples_per_class,
    evalMaxSamplesPerClass: s.eval_max_samples_per_class ?? -1,
    seed: s.seed,
  };
}

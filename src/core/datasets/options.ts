/** Validation of dataset options: values a client can get wrong are rejected up front. */
import { InvalidSettingsError } from '../errors.ts';
import { isPseudoClass } from './subset.ts';
import { hasControlCharacter } from './names.ts';
import type { DatasetOptions } from './types.ts';

const LISTINGS = new Set(['generic', 'speech_commands_v2', 'speech_commands_lists']);

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export function validateOptions(opts: DatasetOptions): DatasetOptions {
  const { classes } = opts;
  if (!Array.isArray(classes) || classes.length === 0) {
    throw new InvalidSettingsError('classes must be a non-empty list of class names', { setting: 'classes' });
  }
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const c of classes) {
    if (typeof c !== 'string' || c === '' || c === '.' || c === '..' || c.includes('/') || hasControlCharacter(c)) {
      throw new InvalidSettingsError(`Invalid class name: ${JSON.stringify(c)} (must name a directory of the dataset)`, {
        setting: 'classes',
      });
    }
    if (seen.has(c)) duplicates.push(c);
    seen.add(c);
  }
  if (duplicates.length > 0) {
    // MLTK collapses duplicates into one list labelled with the first index (spec §6.3).
    throw new InvalidSettingsError(`Duplicate class names: ${duplicates.join(', ')}`, { setting: 'classes', duplicates });
  }
  if (!classes.some((c) => !isPseudoClass(c))) {
    throw new InvalidSettingsError('classes must contain at least one class other than _unknown_ and _silence_', {
      setting: 'classes',
    });
  }
  if (!finite(opts.validationSplit) || opts.validationSplit < 0 || opts.validationSplit > 1) {
    throw new InvalidSettingsError(`validation_split must be a number in [0, 1], got ${String(opts.validationSplit)}`, {
      setting: 'validation_split',
    });
  }
  for (const [key, name] of [
    ['unknownClassPercentage', 'unknown_class_percentage'],
    ['silenceClassPercentage', 'silence_class_percentage'],
  ] as const) {
    const v = opts[key];
    if (!finite(v) || v < 0) {
      throw new InvalidSettingsError(`${name} must be a non-negative number, got ${String(v)}`, { setting: name });
    }
  }
  for (const [key, name] of [
    ['followLinks', 'follow_links'],
    ['shuffleDatasetEnabled', 'shuffle_dataset_enabled'],
  ] as const) {
    if (typeof opts[key] !== 'boolean') {
      throw new InvalidSettingsError(`${name} must be a boolean`, { setting: name });
    }
  }
  if (!LISTINGS.has(opts.listing)) {
    throw new InvalidSettingsError(
      `listing must be 'generic', 'speech_commands_v2' or 'speech_commands_lists', got ${String(opts.listing)}`,
      { setting: 'listing' },
    );
  }
  if (opts.listing === 'speech_commands_lists' && opts.validationSplit !== 0) {
    throw new InvalidSettingsError(
      `validation_split must be 0 or absent with listing speech_commands_lists (got ${opts.validationSplit}): validation_list.txt and testing_list.txt decide the subsets`,
      { setting: 'validation_split' },
    );
  }
  if (!Number.isInteger(opts.maxSamplesPerClass) || opts.maxSamplesPerClass < -1) {
    throw new InvalidSettingsError(
      `max_samples_per_class must be -1 (all) or a non-negative integer, got ${String(opts.maxSamplesPerClass)}`,
      { setting: 'max_samples_per_class' },
    );
  }
  const evalMax = opts.evalMaxSamplesPerClass ?? -1;
  if (!Number.isInteger(evalMax) || evalMax < -1) {
    throw new InvalidSettingsError(
      `eval_max_samples_per_class must be -1 (all) or a non-negative integer, got ${String(opts.evalMaxSamplesPerClass)}`,
      { setting: 'eval_max_samples_per_class' },
    );
  }
  if (opts.seed !== null && (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff)) {
    throw new InvalidSettingsError(`seed must be null or an integer in [0, 2^32 - 1], got ${String(opts.seed)}`, {
      setting: 'seed',
    });
  }
  return { ...opts, classes: [...classes], evalMaxSamplesPerClass: evalMax };
}

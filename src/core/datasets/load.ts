/**
 * Dataset loads (spec §8): `training` builds the training subset then the validation
 * subset; `validation` and `evaluation` build the validation subset only. Every class
 * directory is listed once per load and both subsets are cut from the same lists.
 *
 * Fixes: Q-01 (path normalised), Q-10 (unknown candidates in code-point order), Q-11
 * (no unknown samples → "No samples found for class: _unknown_"), Q-12 (a training load
 * with validation_split = 0 has no validation subset; validation/evaluation loads then
 * fail with `no-validation-subset`), Q-23 (counts are fresh per load).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatasetError } from '../errors.ts';
import { sortByCodePoint } from './code-point-order.ts';
import {
  chooseIndexPlace,
  resolveGenericIndexes,
  resolveShuffleSeed,
  type ClassIndex,
  type IndexContext,
} from './index-files.ts';
import { validateOptions } from './options.ts';
import { resolveSpeechCommandsIndexes, SHUFFLE_NOT_SUPPORTED, speechCommandsSplitPoint } from './speech-commands.ts';
import { genericSplitPoint, sliceSubset } from './split.ts';
import type { StoredSubsetName } from '../schemas.ts';
import { assembleSubset, isPseudoClass, SILENCE_CLASS, UNKNOWN_CLASS, type Subset } from './subset.ts';
import type { DatasetDirs, DatasetOptions, LoadKind, LoadResult } from './types.ts';

/** MLTK's `_unknown_` shuffle seed: `seed if seed else 43` (so seed 0 also means 43). */
export function unknownSeed(seed: number | null): number {
  return seed ? seed : 43;
}

/**
 * Unknown candidates (§6.1): directories of the dataset dir (symlinks followed) that are
 * not requested classes and do not start with `_`, `~` or `.`, in code-point order.
 */
export async function findUnknownCandidates(datasetDir: string, classes: readonly string[]): Promise<string[]> {
  const names = await fs.readdir(datasetDir);
  const requested = new Set(classes);
  const out: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      if (requested.has(name) || name.startsWith('_') || name.startsWith('~') || name.startsWith('.')) return;
      try {
        if ((await fs.stat(path.join(datasetDir, name))).isDirectory()) out.push(name);
      } catch {
        // dangling link or unreadable entry: not a directory
      }
    }),
  );
  return sortByCodePoint(out);
}

async function assertDirectory(dir: string): Promise<void> {
  try {
    if ((await fs.stat(dir)).isDirectory()) return;
  } catch {
    // reported below
  }
  throw new DatasetError('dataset-dir-not-found', `Dataset directory not found: ${dir}`, { datasetDir: dir });
}

interface Prepared {
  opts: DatasetOptions;
  datasetDir: string;
  ctx: IndexContext;
  known: string[];
  candidates: string[];
  unknownActive: boolean;
  silenceActive: boolean;
}

async function prepare(dirs: DatasetDirs, options: DatasetOptions, warnings: string[]): Promise<Prepared> {
  const opts = validateOptions(options);
  const datasetDir = path.resolve(dirs.datasetDir);
  await assertDirectory(datasetDir);
  if (opts.listing === 'speech_commands_v2' && opts.shuffleDatasetEnabled) {
    throw new DatasetError('shuffle-not-supported', SHUFFLE_NOT_SUPPORTED, { listing: opts.listing });
  }
  const unknownActive = opts.classes.includes(UNKNOWN_CLASS) && opts.unknownClassPercentage !== 0;
  const silenceActive = opts.classes.includes(SILENCE_CLASS) && opts.silenceClassPercentage !== 0;
  const candidates = unknownActive ? await findUnknownCandidates(datasetDir, opts.classes) : [];
  if (unknownActive && candidates.length === 0) {
    throw new DatasetError('no-unknown-candidates', `Failed to find 'unknown' classes in ${datasetDir}`, { datasetDir });
  }
  const place = await chooseIndexPlace(
    datasetDir,
    path.resolve(dirs.fallbackIndexDir),
    path.resolve(dirs.shuffleIndexDir),
    opts.shuffleDatasetEnabled,
  );
  const shuffleSeed = place.location === 'shuffle_index_dir' ? await resolveShuffleSeed(place.dir, opts.seed) : 0;
  return {
    opts,
    datasetDir,
    ctx: { datasetDir, place, followLinks: opts.followLinks, shuffleSeed, warnings },
    known: opts.classes.filter((c) => !isPseudoClass(c)),
    candidates,
    unknownActive,
    silenceActive,
  };
}

function buildSubset(p: Prepared, lists: Map<string, string[]>, name: StoredSubsetName): Subset {
  const { opts } = p;
  const cut = (entries: string[]): string[] => {
    const b =
      opts.listing === 'speech_commands_v2'
        ? speechCommandsSplitPoint(entries, opts.validationSplit)
        : genericSplitPoint(entries, opts.validationSplit);
    return sliceSubset(entries, b, name);
  };
  return assembleSubset({
    name,
    classes: opts.classes,
    known: new Map(p.known.map((c) => [c, cut(lists.get(c)!)])),
    unknownCandidates: p.candidates.map((c) => [c, cut(lists.get(c)!)] as const),
    unknownActive: p.unknownActive,
    silenceActive: p.silenceActive,
    unknownClassPercentage: opts.unknownClassPercentage,
    silenceClassPercentage: opts.silenceClassPercentage,
    maxSamplesPerClass: opts.maxSamplesPerClass,
    unknownSeed: unknownSeed(opts.seed),
  });
}

async function resolveIndexes(p: Prepared, force: boolean): Promise<ClassIndex[]> {
  const names = [...p.known, ...p.candidates];
  return p.opts.listing === 'speech_commands_v2'
    ? resolveSpeechCommandsIndexes(p.ctx, names, { force, failOnEmpty: !force })
    : resolveGenericIndexes(p.ctx, names, force);
}

export async function loadDataset(dirs: DatasetDirs, opts: DatasetOptions, kind: LoadKind): Promise<LoadResult> {
  if (kind !== 'training' && kind !== 'validation' && kind !== 'evaluation') {
    throw new DatasetError('invalid-load-kind', `Invalid load kind: ${String(kind)}; expected training, validation or evaluation`);
  }
  const warnings: string[] = [];
  const p = await prepare(dirs, opts, warnings);
  const wantValidation = kind !== 'training' || p.opts.validationSplit > 0;
  if (kind !== 'training' && p.opts.validationSplit === 0) {
    throw new DatasetError(
      'no-validation-subset',
      `validation_split is 0, so there is no validation subset: a ${kind} load needs validation_split > 0`,
      { kind },
    );
  }
  const indexes = await resolveIndexes(p, false);
  const lists = new Map(indexes.map((ix) => [ix.name, ix.entries]));
  const result: LoadResult = {
    kind,
    classCounts: {},
    indexLocation: p.ctx.place.location,
    indexFiles: indexes.map((ix) => ix.file),
    warnings,
  };
  if (kind === 'training') {
    result.training = buildSubset(p, lists, 'training');
    result.classCounts.training = result.training.classCounts;
    if (!wantValidation) {
      warnings.push('validation_split is 0: the training load has no validation subset');
    }
  }
  if (wantValidation) {
    result.validation = buildSubset(p, lists, 'validation');
    result.classCounts.validation = result.validation.classCounts;
  }
  return result;
}

/**
 * One subset on its own (what MLTK builds first inside a training load); used to report
 * the training subset when the validation half of a training load fails.
 */
export async function listSubset(dirs: DatasetDirs, opts: DatasetOptions, subset: StoredSubsetName): Promise<Subset> {
  const p = await prepare(dirs, opts, []);
  const indexes = await resolveIndexes(p, false);
  return buildSubset(p, new Map(indexes.map((ix) => [ix.name, ix.entries])), subset);
}

/**
 * Explicit re-index: regenerates the index file of every class directory a load
 * with these options would list, ignoring existing files. A shuffled index is permuted
 * anew with `opts.seed` (or the artifact's recorded seed, or a fresh random one).
 */
export async function reindex(dirs: DatasetDirs, opts: DatasetOptions): Promise<void> {
  const p = await prepare(dirs, opts, []);
  await resolveIndexes(p, true);
}

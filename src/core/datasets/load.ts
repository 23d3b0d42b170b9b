/**
 * Dataset loads (spec §8). Which subsets a load builds depends on where the validation
 * subset comes from ("mode"):
 *
 * - split (`generic`, `speech_commands_v2`): training → training + validation (Q-12 fix:
 *   no validation subset when validation_split = 0); validation → validation;
 *   evaluation → validation (MLTK evaluates on the validation files).
 * - `speech_commands_lists`: training → training + validation; validation → validation;
 *   evaluation → evaluation (`testing_list.txt`), a subset of its own.
 * - `validation_data` (`DatasetDirs.validationData`): training → training (the whole
 *   training dir) + validation (the whole validation dir); validation → validation;
 *   evaluation → validation. Validation and evaluation loads do not list the training dir.
 *
 * An evaluation load uses `evalMaxSamplesPerClass` instead of `maxSamplesPerClass` (MLTK's
 * `eval_max_samples_per_class`). Every subset is assembled by `assembleSubset` (§6) with
 * the same `_unknown_` seed (`seed if seed else 43`), as MLTK does for each of its
 * generators. Every class directory is listed once per load and all subsets are cut from
 * the same lists.
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
import { listPart, readSplitLists, type SplitLists } from './split-lists.ts';
import { assembleSubset, isPseudoClass, SILENCE_CLASS, UNKNOWN_CLASS, type Subset, type SubsetName } from './subset.ts';
import type { DatasetDirs, DatasetOptions, IndexDirs, IndexInfo, LoadKind, LoadResult } from './types.ts';
import { assertSameClasses, checkValidationDataOptions } from './validation-data.ts';

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

/**
 * The subset a load returns under `name`; for an evaluation load of a split listing or of
 * `validation_data` that is the validation subset (MLTK evaluates on the validation
 * files), with `speech_commands_lists` its own evaluation subset.
 */
export function loadedSubset(result: LoadResult, name: SubsetName): Subset | undefined {
  if (name === 'evaluation') return result.evaluation ?? (result.kind === 'evaluation' ? result.validation : undefined);
  return result[name];
}

async function assertDirectory(dir: string, role?: 'validation_data'): Promise<void> {
  try {
    if ((await fs.stat(dir)).isDirectory()) return;
  } catch {
    // reported below
  }
  throw new DatasetError(
    'dataset-dir-not-found',
    `${role ? 'validation_data directory' : 'Dataset directory'} not found: ${dir}`,
    role ? { datasetDir: dir, role } : { datasetDir: dir },
  );
}

type Mode = 'split' | 'lists' | 'validation_data';

/** Options-level facts shared by every dataset dir of a load. */
interface Plan {
  opts: DatasetOptions;
  mode: Mode;
  unknownActive: boolean;
  silenceActive: boolean;
  known: string[];
}

/** One dataset dir ready to be listed. */
interface Source {
  datasetDir: string;
  ctx: IndexContext;
  candidates: string[];
}

/** A listed dataset dir: index entries of every known class and unknown candidate. */
interface Listed {
  source: Source;
  indexes: ClassIndex[];
  lists: Map<string, string[]>;
}

/** This subset's part of one class list. */
type Part = (entries: string[]) => string[];

function planOf(dirs: DatasetDirs, options: DatasetOptions): Plan {
  const opts = validateOptions(options);
  if (dirs.validationData) checkValidationDataOptions(dirs, dirs.validationData, opts);
  const mode: Mode = dirs.validationData ? 'validation_data' : opts.listing === 'speech_commands_lists' ? 'lists' : 'split';
  return {
    opts,
    mode,
    unknownActive: opts.classes.includes(UNKNOWN_CLASS) && opts.unknownClassPercentage !== 0,
    silenceActive: opts.classes.includes(SILENCE_CLASS) && opts.silenceClassPercentage !== 0,
    known: opts.classes.filter((c) => !isPseudoClass(c)),
  };
}

async function prepareSource(
  plan: Plan,
  dirs: IndexDirs,
  warnings: string[],
  role?: 'validation_data',
): Promise<Source> {
  const { opts } = plan;
  const datasetDir = path.resolve(dirs.datasetDir);
  await assertDirectory(datasetDir, role);
  if (opts.listing === 'speech_commands_v2' && opts.shuffleDatasetEnabled) {
    throw new DatasetError('shuffle-not-supported', SHUFFLE_NOT_SUPPORTED, { listing: opts.listing });
  }
  const candidates = plan.unknownActive ? await findUnknownCandidates(datasetDir, opts.classes) : [];
  if (plan.unknownActive && candidates.length === 0) {
    throw new DatasetError('no-unknown-candidates', `Failed to find 'unknown' classes in ${datasetDir}`, { datasetDir });
  }
  const place = await chooseIndexPlace(
    datasetDir,
    path.resolve(dirs.fallbackIndexDir),
    path.resolve(dirs.shuffleIndexDir),
    opts.shuffleDatasetEnabled,
  );
  const shuffleSeed = place.location === 'shuffle_index_dir' ? await resolveShuffleSeed(place.dir, opts.seed) : 0;
  return { datasetDir, ctx: { datasetDir, place, followLinks: opts.followLinks, shuffleSeed, warnings, maxListFileBytes: opts.maxListFileBytes }, candidates };
}

async function resolveIndexes(plan: Plan, source: Source, force: boolean): Promise<ClassIndex[]> {
  const names = [...plan.known, ...source.candidates];
  return plan.opts.listing === 'speech_commands_v2'
    ? resolveSpeechCommandsIndexes(source.ctx, names, { force, failOnEmpty: !force })
    : resolveGenericIndexes(source.ctx, names, force);
}

async function listSource(plan: Plan, source: Source): Promise<Listed> {
  const indexes = await resolveIndexes(plan, source, false);
  return { source, indexes, lists: new Map(indexes.map((ix) => [ix.name, ix.entries])) };
}

/** Per-class split (§5): validation = head `[0, b)`, training = tail. */
function splitPart(opts: DatasetOptions, side: StoredSubsetName): Part {
  return (entries) => {
    const b =
      opts.listing === 'speech_commands_v2'
        ? speechCommandsSplitPoint(entries, opts.validationSplit)
        : genericSplitPoint(entries, opts.validationSplit);
    return sliceSubset(entries, b, side);
  };
}

const wholeList: Part = (entries) => [...entries];

function buildSubset(plan: Plan, listed: Listed, name: SubsetName, part: Part, maxSamplesPerClass: number): Subset {
  const { opts } = plan;
  return assembleSubset({
    name,
    datasetDir: listed.source.datasetDir,
    classes: opts.classes,
    known: new Map(plan.known.map((c) => [c, part(listed.lists.get(c)!)])),
    unknownCandidates: listed.source.candidates.map((c) => [c, part(listed.lists.get(c)!)] as const),
    unknownActive: plan.unknownActive,
    silenceActive: plan.silenceActive,
    unknownClassPercentage: opts.unknownClassPercentage,
    silenceClassPercentage: opts.silenceClassPercentage,
    maxSamplesPerClass,
    unknownSeed: unknownSeed(opts.seed),
    maxEntries: opts.maxSubsetEntries,
  });
}

/** A subset a load builds: its name (= LoadResult field) and its max_samples_per_class. */
interface Want {
  name: SubsetName;
  max: number;
}

function wantsOf(plan: Plan, kind: LoadKind): Want[] {
  const { opts, mode } = plan;
  const max = opts.maxSamplesPerClass;
  const evalMax = opts.evalMaxSamplesPerClass ?? -1;
  if (kind === 'evaluation') return [{ name: mode === 'lists' ? 'evaluation' : 'validation', max: evalMax }];
  if (kind === 'validation') return [{ name: 'validation', max }];
  const wants: Want[] = [{ name: 'training', max }];
  if (mode !== 'split' || opts.validationSplit > 0) wants.push({ name: 'validation', max });
  return wants;
}

interface Built {
  subsets: Subset[];
  /** Index of the (training) dataset dir. */
  primary: IndexInfo;
  validationData?: IndexInfo;
}

function indexInfo(source: Source, listed: Listed | null): IndexInfo {
  return {
    datasetDir: source.datasetDir,
    location: source.ctx.place.location,
    files: listed ? listed.indexes.map((ix) => ix.file) : [],
  };
}

/** Lists what the wanted subsets need and assembles them, in `wants` order. */
async function build(plan: Plan, dirs: DatasetDirs, wants: Want[], warnings: string[]): Promise<Built> {
  const { opts } = plan;
  if (plan.mode === 'validation_data') {
    const validationDirs = dirs.validationData!;
    const needTraining = wants.some((w) => w.name === 'training');
    const trainingDir = path.resolve(dirs.datasetDir);
    const validationDir = path.resolve(validationDirs.datasetDir);
    await assertDirectory(trainingDir);
    await assertDirectory(validationDir, 'validation_data');
    await assertSameClasses(trainingDir, validationDir, opts.classes);
    let trainingListed: Listed | null = null;
    let primaryInfo: IndexInfo;
    if (needTraining) {
      trainingListed = await listSource(plan, await prepareSource(plan, dirs, warnings));
      primaryInfo = indexInfo(trainingListed.source, trainingListed);
    } else {
      // The training dir is not listed by a validation or evaluation load.
      const place = await chooseIndexPlace(
        trainingDir,
        path.resolve(dirs.fallbackIndexDir),
        path.resolve(dirs.shuffleIndexDir),
        opts.shuffleDatasetEnabled,
      );
      primaryInfo = { datasetDir: trainingDir, location: place.location, files: [] };
    }
    const validationListed = await listSource(plan, await prepareSource(plan, validationDirs, warnings, 'validation_data'));
    const subsets = wants.map((w) =>
      w.name === 'training'
        ? buildSubset(plan, trainingListed!, 'training', wholeList, w.max)
        : buildSubset(plan, validationListed, w.name, wholeList, w.max),
    );
    return {
      subsets,
      primary: primaryInfo,
      validationData: indexInfo(validationListed.source, validationListed),
    };
  }

  const source = await prepareSource(plan, dirs, warnings);
  let lists: SplitLists | null = null;
  if (plan.mode === 'lists') {
    // Read and check the list files before any index file is written.
    lists = await readSplitLists(source.datasetDir, [...plan.known, ...source.candidates], source.ctx.existence, opts.maxListFileBytes);
  }
  const listed = await listSource(plan, source);
  const subsets = wants.map((w) => {
    const part: Part =
      lists !== null ? (entries) => listPart(entries, lists!, w.name) : splitPart(opts, w.name === 'training' ? 'training' : 'validation');
    return buildSubset(plan, listed, w.name, part, w.max);
  });
  return { subsets, primary: indexInfo(source, listed) };
}

/**
 * MLTK `load_dataset(subset)`. `dirs.validationData` switches to `validation_data`;
 * `opts.listing = 'speech_commands_lists'` to the list-file split (see the module table).
 */
export async function loadDataset(dirs: DatasetDirs, opts: DatasetOptions, kind: LoadKind): Promise<LoadResult> {
  if (kind !== 'training' && kind !== 'validation' && kind !== 'evaluation') {
    throw new DatasetError('invalid-load-kind', `Invalid load kind: ${String(kind)}; expected training, validation or evaluation`);
  }
  const warnings: string[] = [];
  const plan = planOf(dirs, opts);
  if (plan.mode === 'split' && kind !== 'training' && plan.opts.validationSplit === 0) {
    // Checked after the dataset dir, as before: a missing dir is the more useful report.
    await prepareSource(plan, dirs, warnings);
    throw new DatasetError(
      'no-validation-subset',
      `validation_split is 0, so there is no validation subset: a ${kind} load needs validation_split > 0`,
      { kind },
    );
  }
  const wants = wantsOf(plan, kind);
  const built = await build(plan, dirs, wants, warnings);
  const result: LoadResult = {
    kind,
    classCounts: {},
    indexLocation: built.primary.location,
    indexFiles: built.primary.files,
    warnings,
  };
  if (built.validationData) result.validationDataIndex = built.validationData;
  for (const subset of built.subsets) {
    result[subset.name] = subset;
    result.classCounts[subset.name] = subset.classCounts;
  }
  if (plan.mode === 'split' && kind === 'training' && !result.validation) {
    warnings.push('validation_split is 0: the training load has no validation subset');
  }
  return result;
}

/**
 * One subset on its own (what MLTK builds first inside a training load); used to report
 * the training subset when the validation half of a training load fails. `evaluation`
 * gives what an evaluation load would return (see `loadedSubset`).
 */
export async function listSubset(dirs: DatasetDirs, opts: DatasetOptions, subset: SubsetName): Promise<Subset> {
  const plan = planOf(dirs, opts);
  const want: Want =
    subset === 'evaluation' ? wantsOf(plan, 'evaluation')[0]! : { name: subset, max: plan.opts.maxSamplesPerClass };
  const built = await build(plan, dirs, [want], []);
  return built.subsets[0]!;
}

/**
 * Explicit re-index: regenerates the index file of every class directory a load
 * with these options would list (with `validation_data`, in both dirs), ignoring existing
 * files. A shuffled index is permuted anew with `opts.seed` (or the artifact's recorded
 * seed, or a fresh random one).
 */
export async function reindex(dirs: DatasetDirs, opts: DatasetOptions): Promise<void> {
  const plan = planOf(dirs, opts);
  await resolveIndexes(plan, await prepareSource(plan, dirs, []), true);
  if (dirs.validationData) {
    await resolveIndexes(plan, await prepareSource(plan, dirs.validationData, [], 'validation_data'), true);
  }
}

/**
 * Assembling one subset (spec §6): known classes, `_unknown_` (§6.1), `_silence_`
 * (§6.2), clamping, counts and the zero-count check (§6.3).
 */
import { DatasetError } from '../errors.ts';
import { noSamplesError } from './speech-commands.ts';
import { RandomState } from '../random.ts';
import type { SubsetName } from '../schemas.ts';

export const UNKNOWN_CLASS = '_unknown_';
export const SILENCE_CLASS = '_silence_';

export function isPseudoClass(name: string): boolean {
  return name === UNKNOWN_CLASS || name === SILENCE_CLASS;
}

/** `evaluation` is a subset of its own only with `speech_commands_lists` (types.ts LoadResult). */
export type { SubsetName };

export interface Subset {
  name: SubsetName;
  /**
   * Absolute dataset dir the entries are relative to: the training dir, or with
   * `validation_data` the validation dir for the validation/evaluation subset.
   */
  datasetDir: string;
  /** Entries relative to `datasetDir`; `null` = a `_silence_` sample. */
  entries: (string | null)[];
  labels: number[];
  /** Class name → count, insertion order = `classes` order. */
  classCounts: Record<string, number>;
}

export interface SubsetSpec {
  name: SubsetName;
  datasetDir: string;
  classes: readonly string[];
  /** This subset's part of every known class (already split). */
  known: ReadonlyMap<string, readonly string[]>;
  /** This subset's part of every unknown candidate, in candidate order (code-point order, Q-10). */
  unknownCandidates: readonly (readonly [string, readonly string[]])[];
  unknownActive: boolean;
  silenceActive: boolean;
  unknownClassPercentage: number;
  silenceClassPercentage: number;
  maxSamplesPerClass: number;
  /** Seed of the fresh RandomState used for each candidate (MLTK: `seed if seed else 43`). */
  unknownSeed: number;
  /** Largest subset allowed (checked before the `_silence_` list is allocated); omitted = none. */
  maxEntries?: number;
}

/** A subset larger than the configured bound (MAX_SUBSET_ENTRIES): 422, before it is built. */
export function subsetTooLargeError(subset: string, requested: number, limit: number): DatasetError {
  return new DatasetError(
    'subset-too-large',
    `the ${subset} subset would hold ${requested} entries, more than the limit of ${limit} (MAX_SUBSET_ENTRIES): ` +
      'lower silence_class_percentage / unknown_class_percentage or set max_samples_per_class, or raise MAX_SUBSET_ENTRIES',
    { subset, requested, limit, setting: 'MAX_SUBSET_ENTRIES' },
  );
}

function clamp<T>(list: T[], max: number): T[] {
  return max === -1 ? list : list.slice(0, max);
}

/** §6.1 steps 2–5; an empty result is reported by the zero-count check (Q-11 fix). */
export function selectUnknown(
  candidates: SubsetSpec['unknownCandidates'],
  avg: number,
  percentage: number,
  seed: number,
): string[] {
  const kept = candidates.filter(([, list]) => list.length > 0);
  const target = Math.max(Math.floor(avg * percentage), 1);
  const out: string[] = [];
  if (kept.length === 0) return out; // MLTK: ZeroDivisionError
  const perCandidate = Math.max(Math.floor(target / kept.length), 1);
  for (const [, list] of kept) {
    const shuffled = [...list];
    new RandomState(seed).shuffle(shuffled);
    for (let i = 0; i < Math.min(shuffled.length, perCandidate); i++) out.push(shuffled[i]!);
    if (out.length >= target) break;
  }
  return out;
}

export function assembleSubset(spec: SubsetSpec): Subset {
  const { classes, maxSamplesPerClass } = spec;
  const lists = new Map<string, (string | null)[]>();
  let total = 0;
  for (const name of classes) {
    if (isPseudoClass(name)) continue;
    const list = clamp([...(spec.known.get(name) ?? [])], maxSamplesPerClass);
    lists.set(name, list);
    total += list.length;
  }
  const nKnown = classes.length - (spec.unknownActive ? 1 : 0) - (spec.silenceActive ? 1 : 0);
  const avg = Math.floor(total / nKnown);

  if (classes.includes(UNKNOWN_CLASS)) {
    lists.set(
      UNKNOWN_CLASS,
      spec.unknownActive ? selectUnknown(spec.unknownCandidates, avg, spec.unknownClassPercentage, spec.unknownSeed) : [],
    );
  }
  if (classes.includes(SILENCE_CLASS)) {
    const wanted = spec.silenceActive ? Math.max(1, Math.floor(avg * spec.silenceClassPercentage)) : 0;
    // Clamped here as below, so the bound is checked on what would really be allocated.
    const count = maxSamplesPerClass === -1 ? wanted : Math.min(wanted, maxSamplesPerClass);
    const requested = total + (lists.get(UNKNOWN_CLASS)?.length ?? 0) + count;
    if (spec.maxEntries !== undefined && (!Number.isSafeInteger(count) || requested > spec.maxEntries)) {
      throw subsetTooLargeError(spec.name, Number.isSafeInteger(requested) ? requested : Number.MAX_SAFE_INTEGER, spec.maxEntries);
    }
    lists.set(SILENCE_CLASS, new Array<null>(count).fill(null));
  }
  if (spec.maxEntries !== undefined) {
    const requested = [...lists.values()].reduce((n, l) => n + l.length, 0);
    if (requested > spec.maxEntries) throw subsetTooLargeError(spec.name, requested, spec.maxEntries);
  }

  // Class names are data: a null-prototype table, so `__proto__` or `constructor` is a key like any other.
  const classCounts: Record<string, number> = Object.create(null) as Record<string, number>;
  const entries: (string | null)[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  classes.forEach((name, label) => {
    const list = clamp(lists.get(name)!, maxSamplesPerClass);
    classCounts[name] = list.length;
    if (list.length === 0) empty.push(name);
    for (const e of list) {
      entries.push(e);
      labels.push(label);
    }
  });
  if (empty.length > 0) throw noSamplesError(empty, { subset: spec.name, classCounts });
  return { name: spec.name, datasetDir: spec.datasetDir, entries, labels, classCounts };
}

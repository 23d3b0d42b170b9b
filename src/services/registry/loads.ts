/**
 * The loads a dataset holds. MLTK's `load_dataset(subset)` is per-process state; a shared
 * service keeps one load per subset name at once, so a trainer streaming `training` and
 * an evaluator that loads `evaluation` never take each other's data away. Each load keeps
 * what MLTK computed for it (class counts, summary, the training load's class weights);
 * the record's top-level `loaded_subset`, `class_counts`, `summary` and `warnings` are the
 * most recent load's, which is what MLTK shows after that call, and `class_weights` is the
 * training load's (a training computation).
 *
 * Stored lists: a training load makes `training` and `validation` (none with
 * validation_split = 0), a validation load `validation` (the same list: both are computed
 * from the same index with max_samples_per_class), an evaluation load `evaluation` (the
 * testing list with speech_commands_lists, else the validation files with
 * eval_max_samples_per_class).
 */
import { computeClassWeights, loadedSubset, summarizeDataset, type LoadResult } from '../../core/datasets/index.ts';
import type { ClassCountsBySubset, DatasetRecord, EffectiveSettings, LoadKind, LoadRecord, StoredListName, StoredSubset, StoredSubsets } from './types.ts';

export const LOAD_KINDS: readonly LoadKind[] = ['training', 'validation', 'evaluation'];

/** The loads of a record (a record stored before loads were kept holds the one `loaded_subset` names). */
export function loadsOf(rec: DatasetRecord): Partial<Record<LoadKind, LoadRecord>> {
  if (rec.loads) return rec.loads;
  if (!rec.loaded_subset || rec.status !== 'ready') return {};
  const kind = rec.loaded_subset;
  const lists: StoredListName[] =
    kind === 'training' ? ['training', 'validation'] : kind === 'validation' ? ['validation'] : ['evaluation', 'validation'];
  return {
    [kind]: {
      loaded_at: rec.updated_at,
      class_counts: rec.class_counts,
      summary: rec.summary,
      class_weights: kind === 'training' ? rec.class_weights : null,
      warnings: rec.warnings,
      lists,
    },
  };
}

/** The subset names loaded, in MLTK's order (training, validation, evaluation). */
export function loadedKinds(rec: DatasetRecord): LoadKind[] {
  const loads = loadsOf(rec);
  return LOAD_KINDS.filter((k) => loads[k] !== undefined);
}

/**
 * Class counts as the record holds them, the same whether fresh or read back from Redis:
 * JSON data whose keys are own properties (defined, never assigned, so a class named
 * `__proto__` is a key like any other). Read them with Object.hasOwn / Object.entries,
 * never `counts[name]` alone.
 */
export function countsAsData(counts: ClassCountsBySubset): ClassCountsBySubset {
  const out: ClassCountsBySubset = {};
  for (const kind of LOAD_KINDS) {
    const c = counts[kind];
    if (c) out[kind] = Object.fromEntries(Object.entries(c));
  }
  return out;
}

/** What one load computed, as the record keeps it. */
export function loadRecordOf(result: LoadResult, settings: EffectiveSettings, loadedAt: string): LoadRecord {
  const weights =
    result.kind === 'training' && result.classCounts.training
      ? computeClassWeights(settings.class_weights, settings.classes, result.classCounts.training)
      : null;
  return {
    loaded_at: loadedAt,
    class_counts: countsAsData(result.classCounts),
    summary: summarizeDataset(result, settings.classes),
    class_weights: weights ? { value: weights.value, log: weights.log, warning: weights.warning } : null,
    warnings: result.warnings,
    lists: Object.keys(listsOfLoad(result)) as StoredListName[],
  };
}

/** The lists a load result makes, by stored name (an evaluation load's list is `evaluation`). */
export function listsOfLoad(result: LoadResult): Partial<Record<StoredListName, LoadResult['training']>> {
  if (result.kind === 'evaluation') return { evaluation: loadedSubset(result, 'evaluation') };
  if (result.kind === 'validation') return { validation: result.validation };
  const out: Partial<Record<StoredListName, LoadResult['training']>> = { training: result.training };
  if (result.validation) out.validation = result.validation;
  return out;
}

/**
 * The record with `loads` as its loads: status, the most recent load's fields, the
 * training load's weights.
 */
export function withLoads(rec: DatasetRecord, loads: Partial<Record<LoadKind, LoadRecord>>): DatasetRecord {
  const kinds = LOAD_KINDS.filter((k) => loads[k] !== undefined);
  // The most recent load; on a tie (one reindex), MLTK's order decides.
  let latest: LoadKind | null = null;
  for (const k of kinds) if (latest === null || loads[k]!.loaded_at >= loads[latest]!.loaded_at) latest = k;
  const last = latest ? loads[latest]! : null;
  return {
    ...rec,
    loads,
    status: last ? 'ready' : 'unloaded',
    loaded_subset: latest,
    class_counts: last ? last.class_counts : {},
    summary: last ? last.summary : 'No dataset loaded',
    warnings: last ? last.warnings : rec.warnings,
    class_weights: loads.training?.class_weights ?? null,
  };
}

/**
 * The stored lists once `loads` are held: every list a held load made, the lists of
 * `fresh` (name → list) replacing the stored ones of the same name.
 */
export function listsFor(
  loads: Partial<Record<LoadKind, LoadRecord>>,
  stored: StoredSubsets,
  fresh: StoredSubsets,
): StoredSubsets {
  const out: StoredSubsets = {};
  for (const k of LOAD_KINDS) {
    for (const name of loads[k]?.lists ?? []) {
      const list: StoredSubset | undefined = fresh[name] ?? stored[name];
      if (list) out[name] = list;
    }
  }
  return out;
}

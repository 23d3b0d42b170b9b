/** Per-class training/validation split (spec §5.1). */
import type { StoredSubsetName } from '../schemas.ts';

/** `ceil(v × n)` in IEEE double arithmetic, exactly as MLTK (`0.28 × 25` → 8). */
export function splitPoint(validationSplit: number, n: number): number {
  return Math.ceil(validationSplit * n);
}

/** Validation is the head `[0, b)`, training the tail `[b, n)` of the class list. */
export function sliceSubset<T>(entries: readonly T[], b: number, subset: StoredSubsetName): T[] {
  return subset === 'validation' ? entries.slice(0, b) : entries.slice(b);
}

export function genericSplitPoint(entries: readonly unknown[], validationSplit: number): number {
  return Math.min(splitPoint(validationSplit, entries.length), entries.length);
}

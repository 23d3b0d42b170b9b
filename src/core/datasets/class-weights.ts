/**
 * Class weights (spec §11). Every failure becomes "no weights" plus MLTK's warning, as
 * in MLTK (Q-22, copied), and the reason is exposed.
 *
 * JSON cannot carry Python's int dict keys: a dict whose first key is a canonical
 * integer that is not a class name is treated as MLTK's int-keyed dict
 * (`inputKeysAreInts`). Values must be finite numbers (MLTK would pass anything on to
 * Keras, which then fails).
 */
import { formatFixed2, pyFloatRepr, rjust, codePointLength } from './py-format.ts';

export const CLASS_WEIGHTS_WARNING = "Failed to compute class weights\nSet my_model.class_weights = 'none' to disable";

export interface ClassWeightsFailure {
  code: 'invalid-class-weights' | 'class-not-found' | 'no-training-samples' | 'zero-class-count';
  message: string;
}

export interface ClassWeightsResult {
  /** Class id (as a string) → weight; `null` = no weights (uniform). */
  value: Record<string, number> | null;
  /** Exact text MLTK logs; `null` when no weights are used. */
  log: string | null;
  /** MLTK's warning when computing failed (then `value` is null). */
  warning: string | null;
  inputKeysAreInts: boolean;
  /** Why computing failed (Q-22). */
  reason: ClassWeightsFailure | null;
}

class Failure extends Error {
  constructor(readonly failure: ClassWeightsFailure) {
    super(failure.message);
  }
}

const INT_KEY = /^-?(0|[1-9][0-9]*)$/;

/** Whether `key` is one of `o`'s own keys (class names are data: `constructor` is not inherited here). */
const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(spec: unknown): boolean {
  if (spec === null || spec === undefined || spec === false || spec === 0 || spec === '') return true;
  if (Array.isArray(spec)) return spec.length === 0;
  if (isPlainObject(spec)) return Object.keys(spec).length === 0;
  return false;
}

function weightValue(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Failure({ code: 'invalid-class-weights', message: `class weight for ${what} must be a finite number, got ${String(v)}` });
  }
  return v;
}

function invalid(spec: unknown): Failure {
  const shown = typeof spec === 'string' ? spec : JSON.stringify(spec);
  return new Failure({ code: 'invalid-class-weights', message: `Invalid my_model.class_weights argument given: ${shown}` });
}

function compute(
  spec: unknown,
  classes: readonly string[],
  counts: Readonly<Record<string, number>>,
): [number, number][] {
  if (typeof spec === 'string') {
    const lower = spec.toLowerCase();
    if (lower !== 'balanced' && lower !== 'balance') throw invalid(spec);
    let total = 0;
    for (const c of classes) {
      const n = hasOwn(counts, c) ? counts[c] : undefined;
      if (typeof n !== 'number') throw new Failure({ code: 'class-not-found', message: `No training count for class: ${c}` });
      total += n;
    }
    if (total === 0) {
      throw new Failure({ code: 'no-training-samples', message: 'No training samples to balance the class weights with' });
    }
    const k = classes.length;
    return classes.map((c, i) => {
      const n = counts[c]!;
      if (n === 0) throw new Failure({ code: 'zero-class-count', message: `Class ${c} has no training samples` });
      return [i, total / (k * n)];
    });
  }
  if (Array.isArray(spec)) {
    const m = Math.min(spec.length, classes.length);
    const ids: [number, number][] = [];
    for (let i = 0; i < m; i++) ids.push([i, weightValue(spec[i], `class id ${i}`)]);
    return ids;
  }
  if (isPlainObject(spec)) {
    const keys = Object.keys(spec);
    if (INT_KEY.test(keys[0]!) && !classes.includes(keys[0]!)) {
      return keys.map((key) => [Number(key), weightValue(spec[key], `class id ${key}`)]);
    }
    return classes.map((c, i) => {
      if (!hasOwn(spec, c)) throw new Failure({ code: 'class-not-found', message: `Class weight not given for class: ${c}` });
      return [i, weightValue(spec[c], `class ${c}`)];
    });
  }
  throw invalid(spec);
}

/**
 * Explicit weights (a list or a dict) checked against the classes before anything is
 * loaded: one finite, non-negative weight per class, keyed by every class name or by
 * every class id. Returns what is wrong, or null. MLTK would register such weights and
 * fail later (or, for a wrong list length, silently weight only some classes); strings
 * (`'balanced'`, `'none'`, anything else) keep MLTK's behaviour (Q-22).
 */
export function checkClassWeightsSpec(spec: unknown, classes: readonly string[]): string | null {
  if (isEmpty(spec) || typeof spec === 'string') return null;
  const bad = (v: unknown) => typeof v !== 'number' || !Number.isFinite(v) || v < 0;
  if (Array.isArray(spec)) {
    if (spec.length !== classes.length) {
      return `class_weights lists ${spec.length} weights for ${classes.length} classes: give one per class, in the order of classes`;
    }
    const i = spec.findIndex(bad);
    return i < 0 ? null : `class_weights[${i}] must be a finite number ≥ 0, got ${String(spec[i])}`;
  }
  if (isPlainObject(spec)) {
    const keys = Object.keys(spec);
    const byId = INT_KEY.test(keys[0]!) && !classes.includes(keys[0]!);
    const expected = byId ? classes.map((_, i) => String(i)) : [...classes];
    const unknown = keys.filter((k) => !expected.includes(k));
    if (unknown.length > 0) {
      return `class_weights names ${unknown.map((k) => JSON.stringify(k)).join(', ')}, not ${byId ? 'a class id (0 … ' + (classes.length - 1) + ')' : 'a class in classes'}`;
    }
    const missing = expected.filter((k) => !hasOwn(spec, k));
    if (missing.length > 0) return `class_weights gives no weight for ${byId ? 'class id' : 'class'} ${missing.join(', ')}`;
    const k = keys.find((key) => bad(spec[key]));
    return k === undefined ? null : `class_weights[${JSON.stringify(k)}] must be a finite number ≥ 0, got ${String(spec[k])}`;
  }
  return 'class_weights must be a string, a list of numbers or an object of numbers';
}

/** `Class weights:` table, or Python's dict repr when an id of a class is missing. */
export function formatClassWeightsLog(ids: readonly [number, number][], classes: readonly string[]): string {
  const byId = new Map(ids);
  if (classes.every((_, i) => byId.has(i))) {
    const width = Math.max(...classes.map(codePointLength));
    return ['Class weights:', ...classes.map((c, i) => `${rjust(c, width)} = ${formatFixed2(byId.get(i)!)}`)].join('\n');
  }
  return `Class weights: {${ids.map(([id, w]) => `${id}: ${pyFloatRepr(w)}`).join(', ')}}`;
}

export function computeClassWeights(
  spec: unknown,
  classes: string[],
  trainingCounts: Record<string, number>,
): ClassWeightsResult {
  const none: ClassWeightsResult = { value: null, log: null, warning: null, inputKeysAreInts: false, reason: null };
  if (isEmpty(spec) || (typeof spec === 'string' && spec.toLowerCase() === 'none')) return none;
  const inputKeysAreInts =
    isPlainObject(spec) && INT_KEY.test(Object.keys(spec)[0]!) && !classes.includes(Object.keys(spec)[0]!);
  try {
    const ids = compute(spec, classes, trainingCounts);
    // Keyed by class id (a canonical integer), never by a name.
    const value: Record<string, number> = {};
    for (const [id, w] of ids) value[String(id)] = w;
    return { value, log: formatClassWeightsLog(ids, classes), warning: null, inputKeysAreInts, reason: null };
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    return { ...none, warning: CLASS_WEIGHTS_WARNING, inputKeysAreInts, reason: err.failure };
  }
}

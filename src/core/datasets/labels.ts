/**
 * Batch labels per class_mode (spec §9.1). `binary` is the class id, exactly like
 * `sparse` (Q-15, copied). `input` means y is a copy of the x batch, which only the
 * batch builder has, so it is signalled rather than built; `null` = no labels.
 */
import { DatasetError, InvalidSettingsError } from '../errors.ts';
import type { ClassMode } from './types.ts';
import type { LabelDtype } from '../schemas.ts';

export type LabelArray = Float32Array | Int8Array | Uint16Array | Int32Array;

export type LabelBatch =
  | { kind: 'labels'; dtype: LabelDtype; data: LabelArray; shape: number[] }
  | { kind: 'input'; dtype: LabelDtype };

export const CLASS_MODES: readonly ClassMode[] = ['categorical', 'binary', 'sparse', 'input', null];

const CONSTRUCTORS = {
  float32: Float32Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int32: Int32Array,
} as const;

const RANGES: Record<LabelDtype, [number, number]> = {
  float32: [-Infinity, Infinity],
  int8: [-128, 127],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
};

export function assertClassMode(mode: unknown): asserts mode is ClassMode {
  if (!CLASS_MODES.includes(mode as ClassMode)) {
    throw new DatasetError(
      'invalid-class-mode',
      `Invalid class_mode: ${String(mode)}; expected one of: categorical, binary, sparse, input, None`,
      { classMode: mode },
    );
  }
}

export function buildLabels(
  labels: readonly number[],
  classMode: ClassMode,
  numClasses: number,
  dtype: LabelDtype,
): LabelBatch | null {
  assertClassMode(classMode);
  const Ctor = CONSTRUCTORS[dtype];
  if (!Ctor) throw new InvalidSettingsError(`Unsupported label dtype: ${String(dtype)}`, { setting: 'dtype' });
  if (classMode === null) return null;
  if (classMode === 'input') return { kind: 'input', dtype };
  const b = labels.length;
  for (const id of labels) {
    if (!Number.isInteger(id) || id < 0 || id >= numClasses) {
      throw new RangeError(`class id ${id} outside [0, ${numClasses})`);
    }
  }
  if (classMode === 'categorical') {
    const data = new Ctor(b * numClasses);
    labels.forEach((id, i) => {
      data[i * numClasses + id] = 1;
    });
    return { kind: 'labels', dtype, data, shape: [b, numClasses] };
  }
  const hi = RANGES[dtype][1];
  if (numClasses - 1 > hi) {
    throw new InvalidSettingsError(`dtype ${dtype} cannot hold class ids up to ${numClasses - 1}`, { setting: 'dtype' });
  }
  return { kind: 'labels', dtype, data: Ctor.from(labels), shape: [b] };
}

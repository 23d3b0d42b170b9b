/**
 * One interface over both batch wire formats, so the streaming route writes
 * `begin()`, then `batch()` per training batch, then `end()`, whatever the client asked for.
 */
import {
  ArrowBatchWriter,
  type ArrowBatchWriterOptions,
  type FeatureArray,
  type LabelArray,
} from './arrow.ts';
import { encodeNpy } from './npy.ts';

export type BatchFormat = 'arrow' | 'npy';

export const CONTENT_TYPES: Record<BatchFormat, string> = {
  arrow: 'application/vnd.apache.arrow.stream',
  npy: 'application/x-npy-stream',
};

export interface BatchColumns {
  x: FeatureArray;
  /** null when yKind is 'none'; for 'input' null means "the same array as x". */
  y: LabelArray | null;
  sampleWeight: Float32Array | null;
  rows: number;
}

/** Same description for both formats; `metadata` only reaches the Arrow schema. */
export type BatchEncoderSpec = ArrowBatchWriterOptions;

export interface BatchEncoder {
  contentType: string;
  /** Column names in wire order, for the X-Audiofeed-Columns header. */
  columns: string[];
  begin(): Uint8Array[];
  batch(cols: BatchColumns): Uint8Array[];
  end(): Uint8Array[];
}

export function columnsOf(spec: Pick<BatchEncoderSpec, 'yKind' | 'sampleWeight'>): string[] {
  const cols = ['x'];
  if (spec.yKind !== 'none') cols.push('y');
  if (spec.sampleWeight) cols.push('sample_weight');
  return cols;
}

export function createBatchEncoder(format: BatchFormat, spec: BatchEncoderSpec): BatchEncoder {
  const columns = columnsOf(spec);
  if (format === 'arrow') {
    const writer = new ArrowBatchWriter(spec);
    return {
      contentType: CONTENT_TYPES.arrow,
      columns,
      begin: () => writer.begin(),
      batch: (cols) => writer.writeBatch(cols),
      end: () => writer.finish(),
    };
  }
  if (format === 'npy') return npyEncoder(spec, columns);
  throw new TypeError(`unsupported batch format ${String(format)}`);
}

function npyEncoder(spec: BatchEncoderSpec, columns: string[]): BatchEncoder {
  const { xShape, xDtype, yKind, numClasses, yDtype, sampleWeight } = spec;
  const expect = (arr: ArrayBufferView, dtype: string, name: string) => {
    const ok =
      (dtype === 'float32' && arr instanceof Float32Array) ||
      (dtype === 'int8' && arr instanceof Int8Array) ||
      (dtype === 'uint16' && arr instanceof Uint16Array) ||
      (dtype === 'int32' && arr instanceof Int32Array);
    if (!ok) throw new TypeError(`${name} does not match dtype ${dtype}`);
  };
  return {
    contentType: CONTENT_TYPES.npy,
    columns,
    // A .npy stream has no stream-level header or trailer: every array describes itself.
    begin: () => [],
    end: () => [],
    batch: ({ x, y, sampleWeight: w, rows }) => {
      expect(x, xDtype, 'x');
      const out: Uint8Array[] = encodeNpy(x, [rows, ...xShape]);
      if (yKind === 'categorical' || yKind === 'scalar') {
        if (y == null) throw new TypeError('y is required by this batch layout');
        expect(y, yDtype, 'y');
        out.push(...encodeNpy(y, yKind === 'categorical' ? [rows, numClasses] : [rows]));
      } else if (yKind === 'input') {
        const target = y ?? x;
        expect(target, xDtype, 'y');
        out.push(...encodeNpy(target, [rows, ...xShape]));
      }
      if (sampleWeight) {
        if (w == null) throw new TypeError('sampleWeight is required by this batch layout');
        out.push(...encodeNpy(w, [rows]));
      }
      return out;
    },
  };
}

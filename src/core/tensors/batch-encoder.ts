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
import { fillFrame, layoutOf, type FrameLayout, type PlaceholderColumns } from './frame.ts';
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

/** A buffer for one encoded batch and the view of it where x's values go. */
export interface BatchFrame {
  bytes: Uint8Array;
  x: FeatureArray;
}

export interface BatchEncoder {
  contentType: string;
  /** Column names in wire order, for the X-Audiofeed-Columns header. */
  columns: string[];
  begin(): Uint8Array[];
  batch(cols: BatchColumns): Uint8Array[];
  end(): Uint8Array[];
  /**
   * A frame for a batch of `rows` rows: assemble x into `frame.x` and encodeFrame copies
   * none of it. In `reuse` (a frame no longer being written) when it is large enough.
   */
  frame(rows: number, reuse?: Uint8Array): BatchFrame;
  /**
   * The bytes `batch(cols)` returns, as one buffer: `frame.bytes` when given (x is copied in
   * unless it is `frame.x`), else a new one. Like `batch`, it may be called between begin() and end().
   */
  encodeFrame(cols: BatchColumns, frame?: BatchFrame): Uint8Array;
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
    return withFrames(spec, {
      contentType: CONTENT_TYPES.arrow,
      columns,
      begin: () => writer.begin(),
      batch: (cols) => writer.writeBatch(cols),
      end: () => writer.finish(),
      // A record batch message does not depend on the ones before it: a writer of its own
      // (its schema message dropped) encodes the placeholders.
      pieces: (cols) => {
        const w = new ArrowBatchWriter(spec);
        w.begin();
        return w.writeBatch(cols);
      },
    });
  }
  if (format === 'npy') {
    const npy = npyEncoder(spec, columns);
    return withFrames(spec, { ...npy, pieces: npy.batch });
  }
  throw new TypeError(`unsupported batch format ${String(format)}`);
}

type PieceEncoder = Omit<BatchEncoder, 'frame' | 'encodeFrame'> & {
  /** batch() without the encoder's state (for the placeholders of a layout). */
  pieces(cols: BatchColumns): Uint8Array[];
};

const CTOR = { float32: Float32Array, int8: Int8Array, uint16: Uint16Array, int32: Int32Array } as const;
/** Row counts whose layouts an encoder keeps (a stream has one or two: full batches and the last). */
const LAYOUTS_KEPT = 8;

/** Adds frames to an encoder: the layout per row count is learnt once from `pieces`. */
function withFrames(spec: BatchEncoderSpec, enc: PieceEncoder): BatchEncoder {
  const xWidth = spec.xShape.reduce((a, b) => a * b, 1);
  const layouts = new Map<number, FrameLayout>();
  const layoutFor = (rows: number): FrameLayout => {
    let layout = layouts.get(rows);
    if (layout) return layout;
    const ph: PlaceholderColumns = {
      x: new CTOR[spec.xDtype](rows * xWidth),
      y:
        spec.yKind === 'categorical'
          ? new CTOR[spec.yDtype](rows * spec.numClasses)
          : spec.yKind === 'scalar'
            ? new CTOR[spec.yDtype](rows)
            : spec.yKind === 'input'
              ? new CTOR[spec.xDtype](rows * xWidth)
              : null,
      sampleWeight: spec.sampleWeight ? new Float32Array(rows) : null,
    };
    layout = layoutOf(rows, ph, enc.pieces({ ...ph, rows }));
    if (layouts.size >= LAYOUTS_KEPT) layouts.clear();
    layouts.set(rows, layout);
    return layout;
  };
  return {
    contentType: enc.contentType,
    columns: enc.columns,
    begin: enc.begin,
    batch: enc.batch,
    end: enc.end,
    frame(rows, reuse) {
      const layout = layoutFor(rows);
      // A reused buffer is not cleared: encodeFrame writes every byte of the frame.
      const bytes = reuse && reuse.byteLength >= layout.byteLength ? reuse.subarray(0, layout.byteLength) : new Uint8Array(layout.byteLength);
      const Ctor = CTOR[spec.xDtype];
      const x = layout.xAt >= 0 && (bytes.byteOffset + layout.xAt) % Ctor.BYTES_PER_ELEMENT === 0 ? new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset + layout.xAt, rows * xWidth) : new Ctor(rows * xWidth);
      return { bytes, x };
    },
    encodeFrame(cols, frame) {
      if (!Number.isSafeInteger(cols.rows) || cols.rows < 0) throw new RangeError(`invalid rows ${cols.rows}`);
      const layout = layoutFor(cols.rows);
      // class_mode "input": y is x unless given.
      const y = spec.yKind === 'input' ? (cols.y ?? cols.x) : cols.y;
      const out = frame && frame.bytes.byteLength >= layout.byteLength ? frame.bytes : new Uint8Array(layout.byteLength);
      return fillFrame(layout, { x: cols.x, y, sampleWeight: cols.sampleWeight }, out);
    },
  };
}

function npyEncoder(spec: BatchEncoderSpec, columns: string[]): Omit<BatchEncoder, 'frame' | 'encodeFrame'> {
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

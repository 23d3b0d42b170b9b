/**
 * Arrow IPC stream writer for the default batch format (`application/vnd.apache.arrow.stream`):
 * one stream per response, one record batch per training batch.
 *
 * Columns: `x` FixedSizeList<feature type>[prod(xShape)] with field metadata
 * `{"shape": "[98,32,1]"}`; `y` per class_mode (categorical: FixedSizeList[K], sparse/binary:
 * a plain column, input: same as x); optional Float32 `sample_weight`.
 *
 * Record batches are built with makeData over the caller's typed arrays and the returned
 * chunks view those arrays (no copy): the caller must not overwrite a batch's arrays until
 * its chunks are written to the socket.
 */
import {
  Data,
  DataType,
  Field,
  FixedSizeList,
  Float32,
  Int8,
  Int32,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Uint16,
  makeData,
} from 'apache-arrow';
import type { FeatureDtype, LabelDtype } from '../schemas.ts';

export type FeatureArray = Float32Array | Int8Array | Uint16Array;
export type LabelArray = FeatureArray | Int32Array;

/** How `y` is laid out: categorical one-hot rows, one scalar per row (binary/sparse), a copy of x (input), or absent. */
export type YKind = 'categorical' | 'scalar' | 'input' | 'none';

export interface ArrowBatchWriterOptions {
  /** Per-sample shape, e.g. [98, 32, 1]. */
  xShape: readonly number[];
  xDtype: FeatureDtype;
  yKind: YKind;
  /** K, the width of categorical rows (ignored for other kinds). */
  numClasses: number;
  /** Labels take the sample dtype (spec §9.1); int32 is accepted for callers outside MLTK's rules. */
  yDtype: LabelDtype;
  sampleWeight: boolean;
  /** Schema-level metadata (audiofeed.dataset, audiofeed.epoch, ...). */
  metadata: Record<string, string>;
}

export interface ArrowBatchInput {
  x: FeatureArray;
  /** Required for categorical and scalar; for input it defaults to x itself. */
  y?: LabelArray | null;
  sampleWeight?: Float32Array | null;
  rows: number;
}

type Scalar = Float32 | Int8 | Uint16 | Int32;

const ARRAY_OF: Record<LabelDtype, typeof Float32Array | typeof Int8Array | typeof Uint16Array | typeof Int32Array> = {
  float32: Float32Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int32: Int32Array,
};

function scalarType(dtype: LabelDtype): Scalar {
  switch (dtype) {
    case 'float32':
      return new Float32();
    case 'int8':
      return new Int8();
    case 'uint16':
      return new Uint16();
    case 'int32':
      return new Int32();
    default:
      throw new TypeError(`unsupported dtype ${String(dtype)}`);
  }
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * RecordBatchStreamWriter sends its output to an internal async queue meant to be
 * consumed as a stream. Capturing each chunk as it is produced lets writeBatch return
 * exactly the bytes of one batch, synchronously, so the route can interleave them with
 * its own backpressure instead of buffering a whole epoch.
 */
class CapturingStreamWriter extends RecordBatchStreamWriter {
  captured: Uint8Array[] = [];

  protected override _write(chunk: ArrayBufferView): this {
    if (this._started && chunk.byteLength > 0) {
      this.captured.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this._position += chunk.byteLength;
    }
    return this;
  }

  take(): Uint8Array[] {
    const out = this.captured;
    this.captured = [];
    return out;
  }
}

export class ArrowBatchWriter {
  readonly schema: Schema;
  private readonly options: ArrowBatchWriterOptions;
  private readonly xWidth: number;
  private readonly xType: FixedSizeList<Scalar>;
  private readonly yType: DataType | null;
  private readonly writer = new CapturingStreamWriter();
  private started = false;
  private finished = false;

  constructor(options: ArrowBatchWriterOptions) {
    this.options = options;
    const { xShape, xDtype, yKind, numClasses, yDtype, sampleWeight, metadata } = options;
    for (const d of xShape) {
      if (!Number.isSafeInteger(d) || d <= 0) throw new RangeError(`invalid x shape ${JSON.stringify(xShape)}`);
    }
    this.xWidth = product(xShape);
    const shapeMeta = new Map([['shape', JSON.stringify(xShape)]]);
    this.xType = new FixedSizeList(this.xWidth, new Field('item', scalarType(xDtype), false));
    const fields: Field[] = [new Field('x', this.xType, false, shapeMeta)];

    switch (yKind) {
      case 'categorical':
        if (!Number.isSafeInteger(numClasses) || numClasses <= 0) throw new RangeError(`invalid numClasses ${numClasses}`);
        this.yType = new FixedSizeList(numClasses, new Field('item', scalarType(yDtype), false));
        fields.push(new Field('y', this.yType, false));
        break;
      case 'scalar':
        this.yType = scalarType(yDtype);
        fields.push(new Field('y', this.yType, false));
        break;
      case 'input':
        // An autoencoder target is the input itself: same type and shape metadata as x.
        this.yType = this.xType;
        fields.push(new Field('y', this.xType, false, new Map(shapeMeta)));
        break;
      case 'none':
        this.yType = null;
        break;
      default:
        throw new TypeError(`unsupported y kind ${String(yKind)}`);
    }
    if (sampleWeight) fields.push(new Field('sample_weight', new Float32(), false));
    this.schema = new Schema(fields, new Map(Object.entries(metadata)));
  }

  /** The schema message; empty once sent. Lets a response start before the first batch is ready. */
  begin(): Uint8Array[] {
    if (this.finished) throw new Error('ArrowBatchWriter is finished');
    if (!this.started) {
      this.writer.reset(undefined, this.schema);
      this.started = true;
    }
    return this.writer.take();
  }

  /** The bytes of one record batch (preceded by the schema on the first call). */
  writeBatch(input: ArrowBatchInput): Uint8Array[] {
    const head = this.begin();
    const batch = this.recordBatch(input);
    this.writer.write(batch);
    const body = this.writer.take();
    return head.length > 0 ? [...head, ...body] : body;
  }

  /** End-of-stream marker (and the schema if no batch was written, so the stream stays valid). */
  finish(): Uint8Array[] {
    const head = this.begin();
    this.finished = true;
    this.writer.finish();
    return [...head, ...this.writer.take()];
  }

  private recordBatch({ x, y, sampleWeight, rows }: ArrowBatchInput): RecordBatch {
    const { xDtype, yKind, numClasses, yDtype } = this.options;
    if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`invalid rows ${rows}`);
    const xData = this.listData(this.xType, x, xDtype, rows, 'x');
    const children: Data[] = [xData];

    if (yKind === 'categorical') {
      children.push(this.listData(this.yType as FixedSizeList<Scalar>, need(y, 'y'), yDtype, rows, 'y', numClasses));
    } else if (yKind === 'scalar') {
      const values = need(y, 'y');
      checkArray(values, yDtype, rows, 'y');
      children.push(scalarData(this.yType as Scalar, values, rows));
    } else if (yKind === 'input') {
      children.push(y == null || y === x ? xData : this.listData(this.xType, y, xDtype, rows, 'y'));
    }

    if (this.options.sampleWeight) {
      const w = need(sampleWeight, 'sampleWeight');
      checkArray(w, 'float32', rows, 'sampleWeight');
      children.push(scalarData(new Float32(), w, rows));
    }
    const struct = makeData({ type: new Struct(this.schema.fields), length: rows, nullCount: 0, children });
    return new RecordBatch(this.schema, struct);
  }

  private listData(
    type: FixedSizeList<Scalar>,
    values: LabelArray,
    dtype: LabelDtype,
    rows: number,
    name: string,
    width = this.xWidth,
  ): Data<FixedSizeList<Scalar>> {
    checkArray(values, dtype, rows * width, name);
    const child = scalarData(type.valueType, values, rows * width);
    return makeData({ type, length: rows, nullCount: 0, child });
  }
}

function scalarData(type: Scalar, values: LabelArray, length: number): Data<Scalar> {
  // makeData's overloads are split by type family; every flat numeric type takes the same
  // runtime path (it wraps `values` without copying), so one overload serves them all.
  return makeData({ type: type as Float32, length, nullCount: 0, data: values as Float32Array }) as Data<Scalar>;
}

function need<T>(value: T | null | undefined, name: string): T {
  if (value == null) throw new TypeError(`${name} is required by this batch layout`);
  return value;
}

function checkArray(values: LabelArray, dtype: LabelDtype, length: number, name: string): void {
  const Ctor = ARRAY_OF[dtype];
  if (!(values instanceof Ctor)) throw new TypeError(`${name} must be a ${Ctor.name} for dtype ${dtype}`);
  if (values.length !== length) throw new RangeError(`${name} has ${values.length} values, expected ${length}`);
}

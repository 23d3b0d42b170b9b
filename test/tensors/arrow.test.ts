import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, FixedSizeList, RecordBatchReader, Type, tableFromIPC, type Data, type Field } from 'apache-arrow';
import { ArrowBatchWriter, type FeatureArray, type YKind } from '../../src/core/tensors/arrow.ts';
import type { FeatureDtype } from '../../src/core/schemas.ts';
import { createBatchEncoder } from '../../src/core/tensors/batch-encoder.ts';

const CTORS = { float32: Float32Array, int8: Int8Array, uint16: Uint16Array } as const;
const DTYPES: FeatureDtype[] = ['float32', 'int8', 'uint16'];
const KINDS: YKind[] = ['categorical', 'scalar', 'input', 'none'];
const X_SHAPE = [6, 4, 1];
const X_WIDTH = 24;
const K = 5;
const ROWS = [4, 4, 3]; // the last batch is short

function fill(dtype: FeatureDtype, n: number, seed: number): FeatureArray {
  const a = new CTORS[dtype](n);
  for (let i = 0; i < n; i++) {
    const v = (i * 7919 + seed * 104729) % 65536;
    a[i] = dtype === 'float32' ? v / 256 - 100.125 : dtype === 'int8' ? (v % 256) - 128 : v;
  }
  return a;
}

interface Batch {
  x: FeatureArray;
  y: FeatureArray | null;
  sampleWeight: Float32Array | null;
  rows: number;
}

function makeBatches(dtype: FeatureDtype, kind: YKind, weighted: boolean): Batch[] {
  return ROWS.map((rows, b) => {
    const x = fill(dtype, rows * X_WIDTH, b + 1);
    let y: FeatureArray | null = null;
    if (kind === 'categorical') {
      y = new CTORS[dtype](rows * K);
      for (let r = 0; r < rows; r++) y[r * K + ((r * 3 + b) % K)] = 1;
    } else if (kind === 'scalar') {
      y = new CTORS[dtype](rows);
      for (let r = 0; r < rows; r++) y[r] = (r * 3 + b) % K;
    } else if (kind === 'input') {
      y = x.slice();
    }
    const sampleWeight = weighted ? Float32Array.from({ length: rows }, (_, r) => 0.25 + r * 0.5 + b) : null;
    return { x, y, sampleWeight, rows };
  });
}

const META = {
  'audiofeed.dataset': 'ds-1',
  'audiofeed.subset': 'training',
  'audiofeed.epoch': '3',
  'audiofeed.from_batch': '0',
  'audiofeed.batches': String(ROWS.length),
  'audiofeed.class_mode': 'categorical',
  'audiofeed.classes': JSON.stringify(['on', 'off', '_unknown_', '_silence_', 'ünïcode']),
};

function writeStream(dtype: FeatureDtype, kind: YKind, weighted: boolean, batches: Batch[]) {
  const writer = new ArrowBatchWriter({
    xShape: X_SHAPE,
    xDtype: dtype,
    yKind: kind,
    numClasses: K,
    yDtype: dtype,
    sampleWeight: weighted,
    metadata: META,
  });
  const perBatch = batches.map((b) => writer.writeBatch(b));
  const end = writer.finish();
  return { perBatch, end, bytes: Buffer.concat([...perBatch.flat(), ...end]) };
}

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** The flat values of one column chunk, whether a plain column or a fixed-size list. */
function flatValues(data: Data): ArrayBufferView {
  if (data.type instanceof FixedSizeList) {
    const child = data.children[0]!;
    const width = data.type.listSize;
    return (child.values as Uint8Array).subarray((child.offset + data.offset * width), child.offset + (data.offset + data.length) * width);
  }
  return (data.values as Uint8Array).subarray(data.offset, data.offset + data.length);
}

function assertScalarType(type: DataType, dtype: FeatureDtype | 'float32', what: string) {
  if (dtype === 'float32') {
    assert.equal(type.typeId, Type.Float, what);
    assert.equal(String(type), 'Float32', what);
  } else {
    assert.equal(type.typeId, Type.Int, what);
    assert.equal(String(type), dtype === 'int8' ? 'Int8' : 'Uint16', what);
  }
}

function assertList(field: Field, width: number, dtype: FeatureDtype, what: string) {
  assert.ok(field.type instanceof FixedSizeList, `${what} is a FixedSizeList`);
  assert.equal(field.type.listSize, width, what);
  assertScalarType(field.type.valueType, dtype, `${what} values`);
}

for (const dtype of DTYPES) {
  for (const [i, kind] of KINDS.entries()) {
    const weighted = i % 2 === 0;
    test(`arrow stream round-trips: ${dtype} x, y ${kind}${weighted ? ', sample_weight' : ''}`, () => {
      const batches = makeBatches(dtype, kind, weighted);
      const { bytes } = writeStream(dtype, kind, weighted, batches);

      // The reader releases its schema once iteration ends, so take it first.
      const reader = RecordBatchReader.from(bytes).open();
      const schema = reader.schema;
      const read = [...reader];
      const names = schema.fields.map((f) => f.name);
      assert.deepEqual(names, ['x', ...(kind === 'none' ? [] : ['y']), ...(weighted ? ['sample_weight'] : [])]);
      assert.deepEqual(Object.fromEntries(schema.metadata), META);

      const xField = schema.fields[0]!;
      assertList(xField, X_WIDTH, dtype, 'x');
      assert.deepEqual(JSON.parse(xField.metadata.get('shape')!), X_SHAPE);
      const yField = schema.fields.find((f) => f.name === 'y');
      if (kind === 'categorical') assertList(yField!, K, dtype, 'y');
      if (kind === 'scalar') assertScalarType(yField!.type, dtype, 'y');
      if (kind === 'input') {
        assertList(yField!, X_WIDTH, dtype, 'y');
        assert.equal(yField!.metadata.get('shape'), JSON.stringify(X_SHAPE));
      }
      if (weighted) assertScalarType(schema.fields.at(-1)!.type, 'float32', 'sample_weight');

      assert.deepEqual(read.map((b) => b.numRows), ROWS);
      read.forEach((rb, b) => {
        const src = batches[b]!;
        assert.ok(bytesOf(flatValues(rb.getChild('x')!.data[0]!)).equals(bytesOf(src.x)), `x bytes of batch ${b}`);
        if (src.y) assert.ok(bytesOf(flatValues(rb.getChild('y')!.data[0]!)).equals(bytesOf(src.y)), `y bytes of batch ${b}`);
        if (src.sampleWeight) {
          assert.ok(bytesOf(flatValues(rb.getChild('sample_weight')!.data[0]!)).equals(bytesOf(src.sampleWeight)), `weights of batch ${b}`);
        }
      });

      const table = tableFromIPC(bytes);
      assert.equal(table.numRows, ROWS.reduce((a, b) => a + b, 0));
      const lastRow = table.getChild('x')!.get(table.numRows - 1)!;
      assert.deepEqual(Array.from(lastRow.toArray() as FeatureArray), Array.from(batches[2]!.x.subarray(2 * X_WIDTH)));
    });
  }
}

test('each writeBatch returns a self-contained increment: the prefix up to any batch is a readable stream', () => {
  const batches = makeBatches('float32', 'categorical', true);
  const { perBatch, end } = writeStream('float32', 'categorical', true, batches);
  for (let n = 1; n <= perBatch.length; n++) {
    const prefix = Buffer.concat(perBatch.slice(0, n).flat());
    const read = [...RecordBatchReader.from(prefix)];
    assert.equal(read.length, n);
  }
  // End of stream: continuation marker 0xFFFFFFFF then a zero length.
  assert.equal(Buffer.concat(end).toString('hex'), 'ffffffff00000000');
});

test('only the first batch carries the schema message', () => {
  const batches = makeBatches('int8', 'scalar', false);
  const { perBatch } = writeStream('int8', 'scalar', false, batches);
  const schemaFirst = RecordBatchReader.from(Buffer.concat(perBatch[0]!));
  assert.equal([...schemaFirst].length, 1);
  // Later increments start directly with a record batch message, so on their own they are not a stream.
  assert.throws(() => [...RecordBatchReader.from(Buffer.concat(perBatch[1]!))]);
});

test('batch chunks view the caller arrays instead of copying them', () => {
  const batches = makeBatches('float32', 'scalar', false);
  const writer = new ArrowBatchWriter({ xShape: X_SHAPE, xDtype: 'float32', yKind: 'scalar', numClasses: K, yDtype: 'float32', sampleWeight: false, metadata: {} });
  const chunks = writer.writeBatch(batches[0]!);
  assert.ok(chunks.some((c) => c.buffer === batches[0]!.x.buffer && c.byteLength === batches[0]!.x.byteLength));
  assert.ok(chunks.some((c) => c.buffer === batches[0]!.y!.buffer));
});

test('a stream with no batches still has a schema and end marker', () => {
  const writer = new ArrowBatchWriter({ xShape: [98, 32, 1], xDtype: 'uint16', yKind: 'none', numClasses: 0, yDtype: 'uint16', sampleWeight: false, metadata: { 'audiofeed.batches': '0' } });
  const table = tableFromIPC(Buffer.concat(writer.finish()));
  assert.equal(table.numRows, 0);
  assert.equal(table.schema.metadata.get('audiofeed.batches'), '0');
  assert.equal(table.schema.fields[0]!.metadata.get('shape'), '[98,32,1]');
});

test('begin() sends the schema before the first batch is ready, and writeBatch then omits it', () => {
  const encoder = createBatchEncoder('arrow', { xShape: [2], xDtype: 'float32', yKind: 'categorical', numClasses: 2, yDtype: 'float32', sampleWeight: false, metadata: {} });
  assert.equal(encoder.contentType, 'application/vnd.apache.arrow.stream');
  assert.deepEqual(encoder.columns, ['x', 'y']);
  const head = encoder.begin();
  assert.ok(head.length > 0);
  assert.deepEqual(encoder.begin(), []);
  const body = encoder.batch({ x: new Float32Array([1, 2]), y: new Float32Array([0, 1]), sampleWeight: null, rows: 1 });
  const table = tableFromIPC(Buffer.concat([...head, ...body, ...encoder.end()]));
  assert.deepEqual(Array.from(table.getChild('y')!.get(0)!.toArray() as Float32Array), [0, 1]);
});

test('inputs that contradict the layout are rejected', () => {
  const writer = new ArrowBatchWriter({ xShape: [2, 2], xDtype: 'int8', yKind: 'categorical', numClasses: 3, yDtype: 'int8', sampleWeight: true, metadata: {} });
  const x = new Int8Array(8);
  const y = new Int8Array(6);
  const w = new Float32Array(2);
  assert.throws(() => writer.writeBatch({ x: new Float32Array(8), y, sampleWeight: w, rows: 2 }), /Int8Array/);
  assert.throws(() => writer.writeBatch({ x, y: new Int8Array(5), sampleWeight: w, rows: 2 }), /expected 6/);
  assert.throws(() => writer.writeBatch({ x, y: null, sampleWeight: w, rows: 2 }), /y is required/);
  assert.throws(() => writer.writeBatch({ x, y, sampleWeight: null, rows: 2 }), /sampleWeight is required/);
  assert.doesNotThrow(() => writer.writeBatch({ x, y, sampleWeight: w, rows: 2 }));
});

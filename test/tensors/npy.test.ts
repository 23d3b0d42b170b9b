import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { decodeNpy, encodeNpy, npyHeader, type NpyDtype, type NpyTypedArray } from '../../src/core/tensors/npy.ts';
import { createBatchEncoder } from '../../src/core/tensors/batch-encoder.ts';

/** Runs a python3 snippet (numpy available) with `input` on stdin; returns stdout. */
function python(script: string, input: string | Buffer = ''): string {
  return execFileSync('python3', ['-c', script], { input, timeout: 240_000, maxBuffer: 256 << 20 }).toString('utf8');
}

const CTORS = { float32: Float32Array, int8: Int8Array, uint16: Uint16Array, int32: Int32Array } as const;
const NUMPY_DTYPE: Record<NpyDtype, string> = { float32: 'float32', int8: 'int8', uint16: 'uint16', int32: 'int32' };
const DTYPES: NpyDtype[] = ['float32', 'int8', 'uint16', 'int32'];

/** Deterministic values that exercise sign, fractions and the dtype's range. */
function sample(dtype: NpyDtype, n: number): NpyTypedArray {
  const a = new CTORS[dtype](n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32') a[i] = (i * 7919) % 1000 / 8 - 60.25;
    else if (dtype === 'int8') a[i] = ((i * 37) % 256) - 128;
    else if (dtype === 'uint16') a[i] = (i * 40503) % 65536;
    else a[i] = (i * 2654435761) % 4294967296 - 2147483648;
  }
  return a;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

// Shapes chosen for header lengths on both sides of the 64-byte boundaries: scalar, 1-D,
// the service's batch shapes, a zero-length batch and many-axis shapes whose header
// lands exactly on a multiple of 64 (numpy then pads a full 64 bytes).
const SHAPES: number[][] = [
  [],
  [1],
  [32],
  [5, 4],
  [32, 98, 32, 1],
  [3, 59, 40],
  [0, 98, 32, 1],
  ...Array.from({ length: 14 }, (_, k) => Array<number>(k + 2).fill(1)),
  // Zero rows keep these empty while the header length walks through every residue mod 64.
  ...Array.from({ length: 22 * 3 }, (_, k) => [0, ...Array<number>(Math.floor(k / 3)).fill(1), Number('9'.repeat((k % 3) + 1))]),
];

test('npy files are byte-identical to numpy.save for every dtype and shape', () => {
  const cases = DTYPES.flatMap((dtype) => SHAPES.map((shape) => ({ dtype, shape, values: Array.from(sample(dtype, count(shape))) })));
  const out = python(
    `
import json, sys, io, numpy
res = []
for c in json.load(sys.stdin):
    a = numpy.array(c['values'], dtype=c['dtype']).reshape(c['shape'])
    f = io.BytesIO(); numpy.save(f, a); res.append(f.getvalue().hex())
print(json.dumps(res))
`,
    JSON.stringify(cases.map((c) => ({ ...c, dtype: NUMPY_DTYPE[c.dtype] }))),
  );
  const expected = JSON.parse(out) as string[];
  const pads = new Set<number>();
  cases.forEach((c, i) => {
    const ours = Buffer.concat(encodeNpy(CTORS[c.dtype].from(c.values as number[]) as NpyTypedArray, c.shape));
    assert.equal(ours.toString('hex'), expected[i], `${c.dtype} ${JSON.stringify(c.shape)}`);
    const header = npyHeader(c.dtype, c.shape);
    assert.equal(header.length % 64, 0, 'data starts on a 64-byte boundary');
    // Spaces after the dict = numpy's growth room (21 − digits of the first axis) + alignment padding.
    const spaces = header.length - 1 - (header.lastIndexOf('}') + 1);
    pads.add(spaces - (c.shape.length > 0 ? 21 - String(c.shape[0]).length : 0));
  });
  // numpy pads with 1..64 spaces before the newline; both edges must have been compared.
  assert.ok(pads.has(1) && pads.has(64), `padding sizes seen: ${[...pads].sort((a, b) => a - b).join(',')}`);
});

test('headers with large first dimensions match numpy (growth padding shrinks as digits grow)', () => {
  const shapes = [[9], [99999], [123456789], [2 ** 40, 3], [10 ** 15, 1, 2]];
  const out = python(
    `
import json, sys, io, numpy.lib.format as fmt
res = []
for s in json.load(sys.stdin):
    for d in ('<f4', '|i1', '<u2', '<i4'):
        f = io.BytesIO(); fmt.write_array_header_1_0(f, {'descr': d, 'fortran_order': False, 'shape': tuple(s)})
        res.append(f.getvalue().hex())
print(json.dumps(res))
`,
    JSON.stringify(shapes),
  );
  const expected = JSON.parse(out) as string[];
  let i = 0;
  for (const s of shapes) {
    for (const d of DTYPES) {
      assert.equal(npyHeader(d, s).toString('hex'), expected[i++], `${d} ${JSON.stringify(s)}`);
    }
  }
});

test('encodeNpy returns a view over the typed array, not a copy', () => {
  const x = new Float32Array(8);
  const [, body] = encodeNpy(x, [2, 4]);
  x[3] = 1.5;
  assert.equal(body!.readFloatLE(12), 1.5);
  assert.equal(body!.buffer, x.buffer);
});

test('encodeNpy rejects a shape that does not match the array length', () => {
  assert.throws(() => encodeNpy(new Int8Array(6), [4, 2]), RangeError);
  assert.throws(() => npyHeader('float32', [2, -1]), RangeError);
});

test('decodeNpy round-trips every dtype, also from an unaligned offset', () => {
  for (const dtype of DTYPES) {
    const shape = [3, 5, 2];
    const values = sample(dtype, count(shape));
    const file = Buffer.concat(encodeNpy(values, shape));
    const decoded = decodeNpy(file);
    assert.equal(decoded.dtype, dtype);
    assert.deepEqual(decoded.shape, shape);
    assert.deepEqual(Array.from(decoded.data), Array.from(values));
    assert.equal(decoded.byteLength, file.length);

    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const fromOdd = decodeNpy(shifted.subarray(1));
    assert.deepEqual(Array.from(fromOdd.data), Array.from(values));
  }
});

test('decodeNpy reads what numpy.save writes', () => {
  const hex = python(`
import io, numpy
f = io.BytesIO(); numpy.save(f, numpy.arange(12, dtype='<u2').reshape(3, 4) * 1000); print(f.getvalue().hex())
`).trim();
  const d = decodeNpy(Buffer.from(hex, 'hex'));
  assert.equal(d.dtype, 'uint16');
  assert.deepEqual(d.shape, [3, 4]);
  assert.deepEqual(Array.from(d.data), Array.from({ length: 12 }, (_, i) => i * 1000));
});

test('decodeNpy rejects truncated data and foreign formats', () => {
  const file = Buffer.concat(encodeNpy(new Float32Array(4), [4]));
  assert.throws(() => decodeNpy(file.subarray(0, file.length - 1)), /truncated/);
  assert.throws(() => decodeNpy(Buffer.from('PK\x03\x04 not npy at all')), /magic/);
});

test('a batch stream of consecutive arrays is read by numpy.lib.format.read_array one after another', () => {
  const xShape = [4, 3, 1];
  const encoder = createBatchEncoder('npy', {
    xShape,
    xDtype: 'int8',
    yKind: 'categorical',
    numClasses: 3,
    yDtype: 'int8',
    sampleWeight: true,
    metadata: {},
  });
  assert.equal(encoder.contentType, 'application/x-npy-stream');
  assert.deepEqual(encoder.columns, ['x', 'y', 'sample_weight']);
  const rowsPerBatch = [5, 5, 2];
  const batches = rowsPerBatch.map((rows, b) => {
    const x = sample('int8', rows * 12) as Int8Array;
    x[0] = b;
    const y = new Int8Array(rows * 3);
    for (let r = 0; r < rows; r++) y[r * 3 + ((r + b) % 3)] = 1;
    const w = Float32Array.from({ length: rows }, (_, r) => 0.5 + r + b);
    return { x, y, sampleWeight: w, rows };
  });
  const stream = Buffer.concat([...encoder.begin(), ...batches.flatMap((c) => encoder.batch(c)), ...encoder.end()]);

  // read() only, like an HTTP response body: numpy must not need seek or fileno.
  const out = python(
    `
import json, sys, numpy.lib.format as fmt
class Body:
    def __init__(self, f): self.f = f
    def read(self, n=-1): return self.f.read(n)
body, arrays = Body(sys.stdin.buffer), []
while True:
    head = body.f.peek(1)[:1]
    if not head: break
    a = fmt.read_array(body)
    arrays.append({'descr': a.dtype.str, 'shape': list(a.shape), 'values': a.ravel().tolist()})
print(json.dumps(arrays))
`,
    stream,
  );
  const arrays = JSON.parse(out) as { descr: string; shape: number[]; values: number[] }[];
  assert.equal(arrays.length, 9);
  batches.forEach((b, i) => {
    const [x, y, w] = arrays.slice(i * 3, i * 3 + 3);
    assert.deepEqual(x, { descr: '|i1', shape: [b.rows, ...xShape], values: Array.from(b.x) });
    assert.deepEqual(y, { descr: '|i1', shape: [b.rows, 3], values: Array.from(b.y) });
    assert.deepEqual(w, { descr: '<f4', shape: [b.rows], values: Array.from(b.sampleWeight) });
  });
});

test('npy encoder lays out y per kind: scalar (B,), input same as x, none absent', () => {
  const base = { xShape: [2, 2], xDtype: 'float32', numClasses: 4, yDtype: 'float32', sampleWeight: false, metadata: {} } as const;
  const x = Float32Array.from({ length: 12 }, (_, i) => i / 4);

  const scalar = createBatchEncoder('npy', { ...base, yKind: 'scalar' });
  const [sx, sy] = splitNpy(Buffer.concat(scalar.batch({ x, y: new Float32Array([3, 0, 2]), sampleWeight: null, rows: 3 })));
  assert.deepEqual(sx!.shape, [3, 2, 2]);
  assert.deepEqual([sy!.dtype, sy!.shape, Array.from(sy!.data)], ['float32', [3], [3, 0, 2]]);

  const input = createBatchEncoder('npy', { ...base, yKind: 'input' });
  const [, iy] = splitNpy(Buffer.concat(input.batch({ x, y: null, sampleWeight: null, rows: 3 })));
  assert.deepEqual([iy!.shape, Array.from(iy!.data)], [[3, 2, 2], Array.from(x)]);

  const none = createBatchEncoder('npy', { ...base, yKind: 'none' });
  assert.deepEqual(none.columns, ['x']);
  assert.equal(splitNpy(Buffer.concat(none.batch({ x, y: null, sampleWeight: null, rows: 3 }))).length, 1);

  assert.throws(() => scalar.batch({ x: new Int8Array(12), y: new Float32Array(3), sampleWeight: null, rows: 3 }), /dtype/);
});

function splitNpy(buf: Buffer) {
  const arrays = [];
  for (let at = 0; at < buf.length; ) {
    const a = decodeNpy(buf.subarray(at));
    arrays.push(a);
    at += a.byteLength;
  }
  return arrays;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureArray, YKind } from '../../src/core/tensors/arrow.ts';
import type { FeatureDtype } from '../../src/core/schemas.ts';
import { FRAME_OVERHEAD_MAX } from '../../src/core/tensors/frame.ts';
import { createBatchEncoder, type BatchColumns, type BatchEncoderSpec, type BatchFormat } from '../../src/core/tensors/batch-encoder.ts';

const CTORS = { float32: Float32Array, int8: Int8Array, uint16: Uint16Array } as const;
const DTYPES: FeatureDtype[] = ['float32', 'int8', 'uint16'];
const KINDS: YKind[] = ['categorical', 'scalar', 'input', 'none'];
const FORMATS: BatchFormat[] = ['arrow', 'npy'];
// 7×5×1 = 35 values a row: an odd byte length for int8, so whatever follows x is unaligned.
const X_SHAPE = [7, 5, 1];
const X_WIDTH = 35;
const K = 6;
// Full batches, a short last one, one row, none.
const ROWS = [4, 4, 3, 1, 0];

function specOf(dtype: FeatureDtype, yKind: YKind, sampleWeight: boolean): BatchEncoderSpec {
  return { xShape: X_SHAPE, xDtype: dtype, yKind, numClasses: K, yDtype: dtype, sampleWeight, metadata: { 'audiofeed.dataset': 'frames' } };
}

function fill(a: FeatureArray | Float32Array, seed: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = (i * 7919 + seed * 104729) % 65536;
    a[i] = a instanceof Float32Array ? v / 256 - 100.125 : a instanceof Int8Array ? (v % 256) - 128 : v;
  }
}

function columns(dtype: FeatureDtype, kind: YKind, weighted: boolean, rows: number, seed: number, x?: FeatureArray): BatchColumns {
  x ??= new CTORS[dtype](rows * X_WIDTH);
  fill(x, seed);
  let y: FeatureArray | null = null;
  if (kind === 'categorical') {
    y = new CTORS[dtype](rows * K);
    for (let r = 0; r < rows; r++) y[r * K + ((r + seed) % K)] = 1;
  } else if (kind === 'scalar') {
    y = new CTORS[dtype](rows);
    for (let r = 0; r < rows; r++) y[r] = (r + seed) % K;
  }
  const sampleWeight = weighted ? Float32Array.from({ length: rows }, (_, r) => 0.5 + r + seed) : null;
  return { x, y, sampleWeight, rows };
}

const concat = (pieces: Uint8Array[]) => Buffer.concat(pieces);

for (const format of FORMATS) {
  for (const dtype of DTYPES) {
    for (const kind of KINDS) {
      for (const weighted of [false, true]) {
        const what = `${format} ${dtype} y ${kind}${weighted ? ' sample_weight' : ''}`;
        test(`one frame per batch holds the bytes of the batch's pieces: ${what}`, () => {
          const spec = specOf(dtype, kind, weighted);
          const pieces = createBatchEncoder(format, spec);
          const frames = createBatchEncoder(format, spec);
          const want = [concat(pieces.begin())];
          const got = [concat(frames.begin())];
          ROWS.forEach((rows, b) => {
            want.push(concat(pieces.batch(columns(dtype, kind, weighted, rows, b))));
            // Alternately: x assembled in the frame, x copied into a frame, a frame of its own.
            if (b % 3 === 0) {
              const frame = frames.frame(rows);
              if (rows > 0) assert.equal(frame.x.buffer, frame.bytes.buffer, 'x is a view of the frame');
              const cols = columns(dtype, kind, weighted, rows, b, frame.x);
              got.push(Buffer.from(frames.encodeFrame(cols, frame)));
            } else if (b % 3 === 1) {
              got.push(Buffer.from(frames.encodeFrame(columns(dtype, kind, weighted, rows, b), frames.frame(rows))));
            } else {
              got.push(Buffer.from(frames.encodeFrame(columns(dtype, kind, weighted, rows, b))));
            }
            assert.ok(got[b + 1]!.equals(want[b + 1]!), `batch ${b} (${rows} rows)`);
            const c = columns(dtype, kind, weighted, rows, b);
            const values = c.x.byteLength * (kind === 'input' ? 2 : 1) + (c.y?.byteLength ?? 0) + (c.sampleWeight?.byteLength ?? 0);
            assert.ok(got[b + 1]!.length - values <= FRAME_OVERHEAD_MAX, `overhead ${got[b + 1]!.length - values}`);
          });
          want.push(concat(pieces.end()));
          got.push(concat(frames.end()));
          assert.ok(Buffer.concat(got).equals(Buffer.concat(want)), 'the whole stream');
        });
      }
    }
  }
}

test('a reused frame buffer holds only the new batch, whatever was in it', () => {
  for (const format of FORMATS) {
    for (const dtype of DTYPES) {
      const spec = specOf(dtype, 'categorical', true);
      const pieces = createBatchEncoder(format, spec);
      const frames = createBatchEncoder(format, spec);
      pieces.begin();
      frames.begin();
      const buffer = new Uint8Array(frames.frame(4).bytes.byteLength + 100).fill(0xab);
      ROWS.forEach((rows, b) => {
        const frame = frames.frame(rows, buffer);
        if (rows > 0) assert.equal(frame.x.buffer, buffer.buffer, 'the frame is in the reused buffer');
        const got = Buffer.from(frames.encodeFrame(columns(dtype, 'categorical', true, rows, b, frame.x), frame));
        assert.ok(got.equals(concat(pieces.batch(columns(dtype, 'categorical', true, rows, b)))), `${format} ${dtype} batch ${b}`);
        buffer.fill(0xcd);
      });
    }
  }
});

test('a frame refuses columns that do not match its layout, as batch() does', () => {
  for (const format of FORMATS) {
    const enc = createBatchEncoder(format, specOf('uint16', 'categorical', true));
    enc.begin();
    const ok = columns('uint16', 'categorical', true, 4, 1);
    assert.throws(() => enc.encodeFrame({ ...ok, x: new Float32Array(4 * X_WIDTH) }), TypeError);
    assert.throws(() => enc.encodeFrame({ ...ok, x: new Uint16Array(3 * X_WIDTH) }), RangeError);
    assert.throws(() => enc.encodeFrame({ ...ok, y: null }), TypeError);
    assert.throws(() => enc.encodeFrame({ ...ok, sampleWeight: null }), TypeError);
  }
});

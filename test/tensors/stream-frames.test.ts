/**
 * StreamFramer (src/core/tensors/stream-frames.ts): the frames of the two batch wire
 * formats are found at the right byte offsets however the bytes are chunked, and a
 * header that declares more than the limit, garbage, or data after the end of an Arrow
 * stream is a StreamFrameError as soon as the header is in, before its data arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrowBatchWriter } from '../../src/core/tensors/arrow.ts';
import { encodeNpy, npyHeader } from '../../src/core/tensors/npy.ts';
import { StreamFrameError, StreamFramer, type Frame } from '../../src/core/tensors/stream-frames.ts';

const LIMITS = { maxFrameBytes: 1 << 20 };

/** Feeds `bytes` in chunks of `size` (the last may be shorter); all frames, in order. */
function frameAll(format: 'npy' | 'arrow', bytes: Buffer, size: number): Frame[] {
  const framer = new StreamFramer(format, LIMITS);
  const frames: Frame[] = [];
  for (let i = 0; i < bytes.length; i += size) frames.push(...framer.push(bytes.subarray(i, i + size)));
  assert.equal(framer.inFrame, false);
  return frames;
}

function npyStream(): { bytes: Buffer; ends: number[] } {
  const arrays = [
    encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
    encodeNpy(new Int32Array([7, 8]), [2]),
    encodeNpy(new Uint16Array(0), [0, 4]),
    encodeNpy(new Int8Array([1, -1, 3]), [3, 1]),
  ].map((parts) => Buffer.concat(parts));
  const ends: number[] = [];
  let at = 0;
  for (const a of arrays) ends.push((at += a.length));
  return { bytes: Buffer.concat(arrays), ends };
}

function arrowStream(): { bytes: Buffer; batchEnds: number[]; schemaEnd: number } {
  const w = new ArrowBatchWriter({ xShape: [2, 3, 1], xDtype: 'uint16', yKind: 'scalar', numClasses: 2, yDtype: 'uint16', sampleWeight: true, metadata: {} });
  const head = Buffer.concat(w.begin());
  const batches = [4, 4, 1].map((rows, b) =>
    Buffer.concat(w.writeBatch({ x: new Uint16Array(rows * 6).fill(b), y: new Uint16Array(rows), sampleWeight: new Float32Array(rows).fill(1), rows })),
  );
  const end = Buffer.concat(w.finish());
  const batchEnds: number[] = [];
  let at = head.length;
  for (const b of batches) batchEnds.push((at += b.length));
  return { bytes: Buffer.concat([head, ...batches, end]), batchEnds, schemaEnd: head.length };
}

test('an .npy stream: one frame per array, ending where the next array starts, in any chunking', () => {
  const { bytes, ends } = npyStream();
  for (const size of [1, 3, 7, 64, 100, bytes.length]) {
    const frames = frameAll('npy', bytes, size);
    assert.deepEqual(frames.map((f) => f.end), ends, `chunks of ${size}`);
    assert.deepEqual(
      frames.map((f) => (f.kind === 'npy' ? [f.header.dtype, f.header.shape] : null)),
      [['float32', [2, 3]], ['int32', [2]], ['uint16', [0, 4]], ['int8', [3, 1]]],
    );
  }
});

test('an Arrow stream: the schema, one frame per record batch with its rows, then the end marker', () => {
  const { bytes, batchEnds, schemaEnd } = arrowStream();
  for (const size of [1, 5, 64, 333, bytes.length]) {
    const frames = frameAll('arrow', bytes, size);
    assert.deepEqual(frames.map((f) => f.kind), ['schema', 'record-batch', 'record-batch', 'record-batch', 'eos'], `chunks of ${size}`);
    assert.deepEqual(frames.map((f) => f.end), [schemaEnd, ...batchEnds, bytes.length]);
    assert.deepEqual(frames.flatMap((f) => (f.kind === 'record-batch' ? [f.rows] : [])), [4, 4, 1]);
  }
});

test('an .npy header declaring more than the limit is refused before its data', () => {
  const framer = new StreamFramer('npy', LIMITS);
  const header = npyHeader('float32', [1_000_000, 1_000_000]);
  assert.throws(() => framer.push(header), (err: Error) => err instanceof StreamFrameError && /declares shape \[1000000,1000000\] float32 \(4000000000000 bytes\); the limit is 1048576 bytes/.test(err.message));
  // A shape beyond any integer too.
  assert.throws(() => new StreamFramer('npy', LIMITS).push(npyHeader('uint16', [2 ** 52, 2 ** 52])), StreamFrameError);
});

test('garbage is refused: bad magic, a malformed shape, an over-long header', () => {
  assert.throws(() => new StreamFramer('npy', LIMITS).push(Buffer.from('<html>not an array</html>')), /bad magic/);
  const bad = Buffer.from(npyHeader('float32', [2, 3]).toString('latin1').replace('(2, 3)', '(2, x)'), 'latin1');
  assert.throws(() => new StreamFramer('npy', LIMITS).push(bad), /malformed .npy shape/);
  const long = Buffer.alloc(12);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]).copy(long);
  long.writeUInt32LE(0x7fffffff, 8);
  assert.throws(() => new StreamFramer('npy', LIMITS).push(long), /header of 2147483647 bytes/);
});

test('an Arrow message declaring a body or metadata over the limit is refused before its body', () => {
  const { bytes, schemaEnd, batchEnds } = arrowStream();
  // The first record batch's prefix and metadata, with its body length rewritten to the limit + 1.
  const framer = new StreamFramer('arrow', { maxFrameBytes: 16 });
  assert.deepEqual(framer.push(bytes.subarray(0, schemaEnd)).map((f) => f.kind), ['schema']);
  assert.throws(() => framer.push(bytes.subarray(schemaEnd, batchEnds[0])), (err: Error) => err instanceof StreamFrameError && /declares a body of \d+ bytes; the limit is 16 bytes/.test(err.message));
  const huge = Buffer.alloc(8);
  huge.writeUInt32LE(0xffffffff, 0);
  huge.writeInt32LE(0x7fffffff, 4);
  assert.throws(() => new StreamFramer('arrow', LIMITS).push(huge), /declares 2147483647 bytes of metadata/);
});

test('bytes after the Arrow end-of-stream marker are refused', () => {
  const { bytes } = arrowStream();
  const framer = new StreamFramer('arrow', LIMITS);
  assert.throws(() => framer.push(Buffer.concat([bytes, Buffer.from([1, 2, 3])])), /data after the end-of-stream marker/);
});

/**
 * NumPy `.npy` encoding (format 1.0, what `numpy.save` writes) for the
 * `application/x-npy-stream` batch format, and a minimal decoder for tests and JS readers.
 *
 * Arrays are sent as header + the typed array's own bytes, so the machine byte order
 * must be the wire byte order ('<').
 */
import { endianness } from 'node:os';
import type { LabelDtype } from '../schemas.ts';

if (endianness() !== 'LE') {
  // The payload is the typed array's memory as is; a big-endian host would send
  // bytes that contradict the '<' in the header.
  throw new Error('audiofeed npy writer requires a little-endian host');
}

/** The dtypes a .npy of this service holds: the label dtypes. */
export type NpyDtype = LabelDtype;
export type NpyTypedArray = Float32Array | Int8Array | Uint16Array | Int32Array;

const DESCR: Record<NpyDtype, string> = {
  float32: '<f4',
  int8: '|i1',
  uint16: '<u2',
  int32: '<i4',
};

const CTOR = {
  float32: Float32Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int32: Int32Array,
} as const;

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const ARRAY_ALIGN = 64;
/** numpy leaves room so the first axis can grow to 21 digits without rewriting the header. */
const GROWTH_AXIS_MAX_DIGITS = 21;

export function dtypeOf(array: NpyTypedArray): NpyDtype {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Int8Array) return 'int8';
  if (array instanceof Uint16Array) return 'uint16';
  if (array instanceof Int32Array) return 'int32';
  throw new TypeError('unsupported typed array for .npy');
}

function checkShape(shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid .npy shape ${JSON.stringify(shape)}`);
  }
}

/** Python's repr of a tuple of ints: `()`, `(3,)`, `(3, 4)`. */
function pyTuple(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The header `numpy.save` writes for a C-order array of this dtype and shape. */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): Buffer {
  const descr = DESCR[dtype];
  if (descr === undefined) throw new TypeError(`unsupported .npy dtype ${String(dtype)}`);
  checkShape(shape);
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyTuple(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  // Version 1.0 has a 2-byte header length; numpy falls back to 2.0 (4 bytes) only
  // when the header does not fit, which needs a shape with thousands of axes.
  const hlen = dict.length + 1; // + '\n'
  let version = 1;
  let prefixLen = MAGIC.length + 2 + 2;
  let padlen = ARRAY_ALIGN - ((prefixLen + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    version = 2;
    prefixLen = MAGIC.length + 2 + 4;
    padlen = ARRAY_ALIGN - ((prefixLen + hlen) % ARRAY_ALIGN);
  }
  const out = Buffer.alloc(prefixLen + hlen + padlen, 0x20);
  MAGIC.copy(out, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(hlen + padlen, 8);
  else out.writeUInt32LE(hlen + padlen, 8);
  out.write(dict, prefixLen, 'latin1');
  out[out.length - 1] = 0x0a;
  return out;
}

/**
 * The `.npy` encoding of `array` with `shape`: a fresh header and a Buffer that views
 * the array's memory (no copy; do not reuse the array until the bytes are sent).
 */
export function encodeNpy(array: NpyTypedArray, shape: readonly number[]): Buffer[] {
  checkShape(shape);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== array.length) {
    throw new RangeError(`shape ${JSON.stringify(shape)} holds ${count} values, array has ${array.length}`);
  }
  return [npyHeader(dtypeOf(array), shape), Buffer.from(array.buffer, array.byteOffset, array.byteLength)];
}

export interface DecodedNpy {
  dtype: NpyDtype;
  shape: number[];
  data: NpyTypedArray;
  /** Bytes of `buf` this array occupied (header + data): where the next array starts. */
  byteLength: number;
}

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Where the data starts (the header's length with its prefix). */
  dataStart: number;
  /** The data's length as the header declares it (Infinity when beyond any integer). */
  dataBytes: number;
}

/**
 * Reads the header of the `.npy` array at the start of `buf` (versions 1–3, C order, one
 * of our four dtypes): null when `buf` ends before the header does. Throws for anything
 * else, including a header longer than `maxHeaderBytes`, so a reader can bound what it
 * holds before it knows the array.
 */
export function readNpyHeader(buf: Uint8Array, maxHeaderBytes = 1 << 20): NpyHeader | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8) {
    if (!MAGIC.subarray(0, Math.min(b.length, 6)).equals(b.subarray(0, 6))) throw new Error('not a .npy array (bad magic)');
    return null;
  }
  if (!b.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy array (bad magic)');
  const major = b[6]!;
  if (major !== 1 && major !== 2 && major !== 3) throw new Error(`unsupported .npy version ${major}.${b[7]}`);
  const headerStart = major === 1 ? 10 : 12;
  if (b.length < headerStart) return null;
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  if (headerLen > maxHeaderBytes) throw new Error(`.npy header of ${headerLen} bytes (at most ${maxHeaderBytes})`);
  const dataStart = headerStart + headerLen;
  if (b.length < dataStart) return null;
  const header = b.toString(major === 3 ? 'utf8' : 'latin1', headerStart, dataStart);

  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`malformed .npy header ${JSON.stringify(header.slice(0, 200))}`);
  }
  if (fortran === 'True') throw new Error('Fortran-order .npy arrays are not supported');
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr || (d === 'int8' && descr === '<i1'));
  if (dtype === undefined) throw new Error(`unsupported .npy dtype ${descr}`);
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (dims.some((d) => !/^\d+$/.test(d))) throw new Error(`malformed .npy shape (${shapeText})`);
  const shape = dims.map((d) => Number(d));
  let dataBytes = CTOR[dtype].BYTES_PER_ELEMENT;
  for (const d of shape) dataBytes = dataBytes * d;
  if (!Number.isSafeInteger(dataBytes) || shape.some((d) => !Number.isSafeInteger(d))) dataBytes = Infinity;
  return { dtype, shape, dataStart, dataBytes };
}

/**
 * Reads one `.npy` array (versions 1–3, C order, one of our four dtypes) from the start
 * of `buf`. The data is a view over `buf` when aligned, a copy otherwise.
 */
export function decodeNpy(buf: Uint8Array): DecodedNpy {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const head = readNpyHeader(b);
  if (head === null) throw new Error(b.length < 10 ? 'not a .npy array (bad magic)' : 'truncated .npy header');
  const { dtype, shape, dataStart, dataBytes } = head;
  if (!Number.isFinite(dataBytes)) throw new Error(`.npy shape ${JSON.stringify(shape)} is too large`);
  const Ctor = CTOR[dtype];
  const count = dataBytes / Ctor.BYTES_PER_ELEMENT;
  if (b.length < dataStart + dataBytes) throw new Error(`truncated .npy data: need ${dataBytes} bytes`);
  const offset = b.byteOffset + dataStart;
  let data: NpyTypedArray;
  if (offset % Ctor.BYTES_PER_ELEMENT === 0) {
    data = new Ctor(b.buffer as ArrayBuffer, offset, count);
  } else {
    // A typed array cannot start at an unaligned offset: copy the bytes out.
    const copy = new Uint8Array(dataBytes);
    copy.set(b.subarray(dataStart, dataStart + dataBytes));
    data = new Ctor(copy.buffer);
  }
  return { dtype, shape, data, byteLength: dataStart + dataBytes };
}

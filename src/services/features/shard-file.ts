/**
 * Feature shard files: the features of a contiguous run of subset entries, with a
 * self-describing header, written atomically (temp file in the same directory, fsync,
 * rename) so a reader never sees half a shard and a killed worker leaves nothing behind.
 *
 * Layout (version 2): "AFSHARD2" | u32 LE header length | u32 LE CRC-32 of the header
 * bytes | JSON header (space-padded so the data starts on a 64-byte boundary) | rows ×
 * prod(row_shape) values, little-endian. The header holds the CRC-32 of every row
 * (`row_crc32`), so a reader verifies the header when it opens a shard and each row when
 * it reads it. A file that fails (bad checksum, wrong size, unparsable, another version)
 * raises ShardCorruptError; src/services/features/integrity.ts moves it aside.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { nodeAtomicFs, writeFileAtomic, type AtomicFs } from '../../core/atomic-file.ts';

export const SHARD_MAGIC = 'AFSHARD2';
/** Every shard magic starts with this; the digit after it is the layout version. */
const MAGIC_STEM = 'AFSHARD';
const PRELUDE = SHARD_MAGIC.length + 8;

/** Why a shard file cannot be used (the `reason` label of audiofeed_shard_corruptions_total). */
export type ShardCorruption = 'header-checksum' | 'row-checksum' | 'truncated' | 'unparsable' | 'old-version' | 'missing';

export class ShardCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly reason: ShardCorruption,
    detail: string,
    /** Inode of the file that failed (so a reader never quarantines a fresh replacement). */
    readonly ino?: number,
  ) {
    super(`${file}: ${detail}`);
  }
}

export const crc32 = (b: Uint8Array): number => zlib.crc32(b);
export type ShardDtype = 'uint16' | 'float32';

export interface ShardFailure {
  row: number;
  entry: string | null;
  reason: string;
  detail: string;
}

export interface ShardHeader {
  version: number;
  dtype: ShardDtype;
  row_shape: number[];
  rows: number;
  entries: (string | null)[];
  failures: ShardFailure[];
  feature_hash: string;
  /** CRC-32 of each row's bytes (filled in by writeShard). */
  row_crc32?: number[];
}

export const BYTES: Record<ShardDtype, number> = { uint16: 2, float32: 4 };

export function rowBytes(h: Pick<ShardHeader, 'dtype' | 'row_shape'>): number {
  return h.row_shape.reduce((a, b) => a * b, 1) * BYTES[h.dtype];
}

export function encodeShardHeader(header: ShardHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const unpadded = PRELUDE + json.length;
  const total = Math.ceil(unpadded / 64) * 64;
  const buf = Buffer.alloc(total, 0x20);
  buf.write(SHARD_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(total - PRELUDE, SHARD_MAGIC.length);
  json.copy(buf, PRELUDE);
  buf.writeUInt32LE(crc32(buf.subarray(PRELUDE)), SHARD_MAGIC.length + 4);
  return buf;
}

/**
 * Writes header + data atomically at `file`, with the checksums of the header and of every
 * row: every byte written (short writes continued, no progress = ENOSPC), the size checked
 * with fstat, fsync, rename (src/core/atomic-file.ts). `io`: the file system (tests).
 */
export async function writeShard(file: string, header: ShardHeader, data: Uint8Array, io: AtomicFs = nodeAtomicFs): Promise<void> {
  const rb = rowBytes(header);
  if (data.byteLength !== header.rows * rb) {
    throw new Error(`shard data is ${data.byteLength} bytes, header says ${header.rows} rows of ${rb}`);
  }
  const row_crc32 = new Array<number>(header.rows);
  for (let r = 0; r < header.rows; r++) row_crc32[r] = crc32(data.subarray(r * rb, (r + 1) * rb));
  header = { ...header, version: 2, row_crc32 };
  await writeFileAtomic(file, [encodeShardHeader(header), data], { io });
}

/**
 * Removes temp files a killed attempt at the same shard left behind. Called by the job
 * that (re)computes the shard: the job lock means no live attempt of it is writing.
 */
export async function removeStaleTemps(file: string): Promise<number> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  const stale = names.filter((n) => n.startsWith(prefix) && n.endsWith('.tmp'));
  await Promise.all(stale.map((n) => fsp.rm(path.join(dir, n), { force: true })));
  return stale.length;
}

export interface OpenShard {
  header: ShardHeader;
  dataOffset: number;
  rowBytes: number;
  fd: number;
  file: string;
  ino: number;
}

/** Reads and verifies the header; keeps the descriptor open for row reads. ShardCorruptError when the file cannot be used. */
export function openShardSync(file: string): OpenShard {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ShardCorruptError(file, 'missing', 'the shard file is gone');
    throw err;
  }
  const st = fs.fstatSync(fd);
  const size = st.size;
  try {
    const pre = Buffer.alloc(PRELUDE);
    const got = fs.readSync(fd, pre, 0, pre.length, 0);
    const magic = pre.toString('latin1', 0, SHARD_MAGIC.length);
    if (got >= SHARD_MAGIC.length && magic !== SHARD_MAGIC && magic.startsWith(MAGIC_STEM)) {
      throw new ShardCorruptError(file, 'old-version', `shard layout ${magic} is not ${SHARD_MAGIC}`);
    }
    if (got < PRELUDE) throw new ShardCorruptError(file, 'truncated', `${size} bytes: shorter than a shard header`);
    if (magic !== SHARD_MAGIC) throw new ShardCorruptError(file, 'unparsable', 'not a feature shard (bad magic)');
    const len = pre.readUInt32LE(SHARD_MAGIC.length);
    if (PRELUDE + len > size) throw new ShardCorruptError(file, 'truncated', `${size} bytes: the header alone needs ${PRELUDE + len}`);
    const hbuf = Buffer.alloc(len);
    fs.readSync(fd, hbuf, 0, len, PRELUDE);
    if (crc32(hbuf) !== pre.readUInt32LE(SHARD_MAGIC.length + 4)) throw new ShardCorruptError(file, 'header-checksum', 'header checksum mismatch');
    let header: ShardHeader;
    try {
      header = JSON.parse(hbuf.toString('utf8')) as ShardHeader;
    } catch (err) {
      throw new ShardCorruptError(file, 'unparsable', `header is not JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(header.row_crc32) || header.row_crc32.length !== header.rows) {
      throw new ShardCorruptError(file, 'unparsable', 'header has no row checksums');
    }
    const rb = rowBytes(header);
    const want = PRELUDE + len + header.rows * rb;
    if (size !== want) throw new ShardCorruptError(file, 'truncated', `${size} bytes, its header says ${want}`);
    return { header, dataOffset: PRELUDE + len, rowBytes: rb, fd, file, ino: st.ino };
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof ShardCorruptError && err.ino === undefined) throw new ShardCorruptError(file, err.reason, err.message.slice(file.length + 2), st.ino);
    throw err;
  }
}

/** Copies one row into `out` at byte offset `at` and verifies its checksum. */
export function readRowSync(shard: OpenShard, row: number, out: Uint8Array, at: number): void {
  readRowsSync(shard, row, 1, out, at);
}

/** Copies `count` consecutive rows from `row` into `out` at byte offset `at` with one read, and verifies each row's checksum. */
export function readRowsSync(shard: OpenShard, row: number, count: number, out: Uint8Array, at: number): void {
  const rb = shard.rowBytes;
  const n = fs.readSync(shard.fd, out, at, count * rb, shard.dataOffset + row * rb);
  if (n !== count * rb) throw new ShardCorruptError(shard.file, 'truncated', `short read of rows ${row}..${row + count - 1}`, shard.ino);
  for (let r = 0; r < count; r++) {
    if (crc32(out.subarray(at + r * rb, at + (r + 1) * rb)) !== shard.header.row_crc32![row + r]) {
      throw new ShardCorruptError(shard.file, 'row-checksum', `row ${row + r} checksum mismatch`, shard.ino);
    }
  }
}

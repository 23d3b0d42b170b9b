/**
 * Feature shard files: the features of a contiguous run of subset entries, with a
 * self-describing header, written atomically (temp file in the same directory, fsync,
 * rename) so a reader never sees half a shard and a killed worker leaves nothing behind.
 *
 * Layout: "AFSHARD1" | u32 LE header length | JSON header (space-padded so the data
 * starts on a 64-byte boundary) | rows × prod(row_shape) values, little-endian.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export const SHARD_MAGIC = 'AFSHARD1';
export type ShardDtype = 'uint16' | 'float32';

export interface ShardFailure {
  row: number;
  entry: string | null;
  reason: string;
  detail: string;
}

export interface ShardHeader {
  version: 1;
  dtype: ShardDtype;
  row_shape: number[];
  rows: number;
  entries: (string | null)[];
  failures: ShardFailure[];
  feature_hash: string;
}

export const BYTES: Record<ShardDtype, number> = { uint16: 2, float32: 4 };

export function rowBytes(h: Pick<ShardHeader, 'dtype' | 'row_shape'>): number {
  return h.row_shape.reduce((a, b) => a * b, 1) * BYTES[h.dtype];
}

export function encodeShardHeader(header: ShardHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const unpadded = SHARD_MAGIC.length + 4 + json.length;
  const total = Math.ceil(unpadded / 64) * 64;
  const buf = Buffer.alloc(total, 0x20);
  buf.write(SHARD_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(total - SHARD_MAGIC.length - 4, SHARD_MAGIC.length);
  json.copy(buf, SHARD_MAGIC.length + 4);
  return buf;
}

/** Writes header + data atomically at `file`. */
export async function writeShard(file: string, header: ShardHeader, data: Uint8Array): Promise<void> {
  if (data.byteLength !== header.rows * rowBytes(header)) {
    throw new Error(`shard data is ${data.byteLength} bytes, header says ${header.rows} rows of ${rowBytes(header)}`);
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx');
  try {
    await fh.writev([encodeShardHeader(header), data]);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await fsp.rename(tmp, file);
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
}

/** Reads and validates the header; keeps the descriptor open for row reads. */
export function openShardSync(file: string): OpenShard {
  const fd = fs.openSync(file, 'r');
  try {
    const pre = Buffer.alloc(SHARD_MAGIC.length + 4);
    fs.readSync(fd, pre, 0, pre.length, 0);
    if (pre.toString('latin1', 0, SHARD_MAGIC.length) !== SHARD_MAGIC) throw new Error(`${file} is not a feature shard`);
    const len = pre.readUInt32LE(SHARD_MAGIC.length);
    const hbuf = Buffer.alloc(len);
    fs.readSync(fd, hbuf, 0, len, pre.length);
    const header = JSON.parse(hbuf.toString('utf8')) as ShardHeader;
    const rb = rowBytes(header);
    const size = fs.fstatSync(fd).size;
    if (size !== pre.length + len + header.rows * rb) throw new Error(`${file} has ${size} bytes, its header disagrees`);
    return { header, dataOffset: pre.length + len, rowBytes: rb, fd };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Copies one row into `out` at byte offset `at`. */
export function readRowSync(shard: OpenShard, row: number, out: Uint8Array, at: number): void {
  const n = fs.readSync(shard.fd, out, at, shard.rowBytes, shard.dataOffset + row * shard.rowBytes);
  if (n !== shard.rowBytes) throw new Error(`short read of row ${row}`);
}

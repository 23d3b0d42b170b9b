/**
 * Atomic file writes: a temp file in the target's directory, every byte written (a write
 * may write fewer bytes than asked, e.g. on a nearly full disk, without failing: the rest
 * is written in a loop, and a write that makes no progress is ENOSPC), its size checked
 * with fstat, fsync, then rename over the target. A reader sees the old file or the whole
 * new one, never a short one; on any failure the temp file is removed and the target is
 * left as it was.
 *
 * The file system is a small port (`AtomicFs`), so a test can hand in one whose writes
 * are short or whose disk fills up.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** What the writer needs of an open file (node's FileHandle has all of it). */
export interface AtomicFileHandle {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  stat(): Promise<{ size: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** What the writer needs of the file system. */
export interface AtomicFs {
  /** Opens a new file for writing; fails if it exists (flags 'wx'). */
  openExclusive(file: string): Promise<AtomicFileHandle>;
  rename(from: string, to: string): Promise<void>;
  rm(file: string): Promise<void>;
  mkdirp(dir: string): Promise<void>;
  /** Makes a rename in `dir` durable (best effort: some file systems refuse to sync a directory). */
  syncDir(dir: string): Promise<void>;
}

export const nodeAtomicFs: AtomicFs = {
  openExclusive: (file) => fsp.open(file, 'wx'),
  rename: (from, to) => fsp.rename(from, to),
  rm: (file) => fsp.rm(file, { force: true }),
  mkdirp: async (dir) => {
    await fsp.mkdir(dir, { recursive: true });
  },
  syncDir: async (dir) => {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(dir, fs.constants.O_RDONLY);
      await fh.sync();
    } catch {
      // Refused (EISDIR/EINVAL/EPERM on some file systems): the rename is as durable as they make it.
    } finally {
      await fh?.close().catch(() => undefined);
    }
  },
};

/** Writes that make no progress in a row before the write is given up as ENOSPC. */
const MAX_STALLED_WRITES = 3;

export class ShortWriteError extends Error {
  readonly code: string;
  constructor(
    readonly file: string,
    readonly written: number,
    readonly expected: number,
    reason: 'no-progress' | 'size-mismatch',
  ) {
    super(
      reason === 'no-progress'
        ? `writing ${file}: the file system accepted ${written} of ${expected} bytes and then no more (disk full?)`
        : `writing ${file}: the file holds ${written} bytes after writing ${expected}`,
    );
    this.code = reason === 'no-progress' ? 'ENOSPC' : 'EIO';
  }
}

/**
 * Writes `chunks` one after the other from `start` (default 0), each until every byte is written:
 * a short write is continued where it stopped; MAX_STALLED_WRITES writes in a row that
 * write nothing fail with ShortWriteError (ENOSPC). Returns the bytes written.
 */
export async function writeFully(
  fh: Pick<AtomicFileHandle, 'write'>,
  chunks: readonly Uint8Array[],
  file = 'file',
  start = 0,
): Promise<number> {
  const expected = chunks.reduce((n, c) => n + c.byteLength, 0);
  let position = start;
  for (const chunk of chunks) {
    let offset = 0;
    let stalled = 0;
    while (offset < chunk.byteLength) {
      const { bytesWritten } = await fh.write(chunk, offset, chunk.byteLength - offset, position);
      if (!Number.isInteger(bytesWritten) || bytesWritten < 0 || bytesWritten > chunk.byteLength - offset) {
        throw new Error(`writing ${file}: a write reported ${String(bytesWritten)} bytes for ${chunk.byteLength - offset}`);
      }
      if (bytesWritten === 0) {
        if (++stalled >= MAX_STALLED_WRITES) throw new ShortWriteError(file, position - start, expected, 'no-progress');
        continue;
      }
      stalled = 0;
      offset += bytesWritten;
      position += bytesWritten;
    }
  }
  return position - start;
}

export interface AtomicWriteOptions {
  io?: AtomicFs;
  /** Sync the directory after the rename (the rename itself survives a crash). */
  syncDir?: boolean;
  /**
   * Called once the temp file is complete and synced, just before the rename: false
   * discards it (e.g. another writer published a newer version meanwhile).
   */
  beforeRename?: () => Promise<boolean>;
}

/** A temp file name beside `file` (hidden, unique per process and call, ends in `.tmp`). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes `data` (bytes, a string as UTF-8, or chunks written in order) to `file`
 * atomically: temp file, every byte written, size verified, fsync, rename. Resolves
 * false when `beforeRename` discarded it, true once it is published.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string | readonly Uint8Array[], opts: AtomicWriteOptions = {}): Promise<boolean> {
  const io = opts.io ?? nodeAtomicFs;
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  const expected = chunks.reduce((n, c) => n + c.byteLength, 0);
  const dir = path.dirname(file);
  await io.mkdirp(dir);
  const tmp = tempPathFor(file);
  const fh = await io.openExclusive(tmp);
  try {
    await writeFully(fh, chunks, file);
    const { size } = await fh.stat();
    if (size !== expected) throw new ShortWriteError(file, size, expected, 'size-mismatch');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await io.rm(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    if (opts.beforeRename && !(await opts.beforeRename())) {
      await io.rm(tmp);
      return false;
    }
    await io.rename(tmp, file);
  } catch (err) {
    await io.rm(tmp).catch(() => undefined);
    throw err;
  }
  if (opts.syncDir) await io.syncDir(dir);
  return true;
}

/**
 * Upload sources: a zip or tar(.gz) archive, or many files with relative paths, unpacked
 * into a private temporary directory. Every entry name is checked before anything is
 * written (no absolute paths, no `..`, no NUL), links and device entries are refused,
 * and sizes are counted as bytes arrive, so limits hold even when an archive lies about
 * its sizes. The caller renames the directory into place only when all of it is there.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser as TarParser, type ReadEntry } from 'tar';
import yauzl from 'yauzl';
import { BadRequestError, PayloadTooLargeError } from '../../../core/errors.ts';
import { escapedName, hasControlCharacter } from '../../../core/datasets/names.ts';

export interface UploadLimits {
  /** Bytes received over the wire (archive or files). */
  maxBytes: number;
  /** Files after unpacking. */
  maxFiles: number;
  /** Bytes after unpacking. */
  maxUnpackedBytes: number;
}

/** Running totals for one upload; throws the 413 as soon as a limit is crossed. */
export class UploadBudget {
  received = 0;
  files = 0;
  unpacked = 0;
  constructor(readonly limits: UploadLimits) {}

  addReceived(n: number): void {
    this.received += n;
    if (this.received > this.limits.maxBytes) {
      throw new PayloadTooLargeError(`the upload exceeds UPLOAD_MAX_BYTES (${this.limits.maxBytes} bytes)`, {
        limit: this.limits.maxBytes,
      });
    }
  }
  addFile(): void {
    this.files += 1;
    if (this.files > this.limits.maxFiles) {
      throw new PayloadTooLargeError(`the upload holds more than UPLOAD_MAX_FILES (${this.limits.maxFiles}) files`, {
        limit: this.limits.maxFiles,
      });
    }
  }
  addUnpacked(n: number): void {
    this.unpacked += n;
    if (this.unpacked > this.limits.maxUnpackedBytes) {
      throw new PayloadTooLargeError(
        `the unpacked upload exceeds UPLOAD_MAX_UNPACKED_BYTES (${this.limits.maxUnpackedBytes} bytes)`,
        { limit: this.limits.maxUnpackedBytes },
      );
    }
  }
}

function unsafe(name: string, why: string): BadRequestError {
  return new BadRequestError('unsafe-upload-entry', `upload entry ${escapedName(name)} is refused: ${why}`, {
    entry: name,
  });
}

/**
 * Validates an entry name from an archive or a multipart filename and returns it as a
 * clean relative POSIX path. Directory entries may end in `/`.
 */
/** `./` and `.` name the archive's root directory itself: nothing to create. */
export function isRootEntry(name: string): boolean {
  return /^(\.\/?)+$/.test(name);
}

export function safeRelativePath(name: string): string {
  if (name.length === 0) throw unsafe(name, 'empty name');
  if (name.includes('\0')) throw unsafe(name, 'NUL byte in name');
  if (hasControlCharacter(name)) throw unsafe(name, 'control character in name (a newline or other control character would corrupt the index files)');
  if (name.includes('\\')) throw unsafe(name, 'backslash in name (use / as the separator)');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw unsafe(name, 'absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe(name, 'parent-directory (..) component');
  if (parts.length === 0) throw unsafe(name, 'empty path');
  if (parts.length > 64) throw unsafe(name, 'too deeply nested');
  return parts.join('/');
}

function counting(fn: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        fn(chunk.length);
        cb(null, chunk);
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/** Writes one file of the upload at `rel` below `root`, counting bytes against the budget. */
export async function writeUploadedFile(
  root: string,
  rel: string,
  source: Readable,
  budget: UploadBudget,
  countReceived: boolean,
): Promise<void> {
  const clean = safeRelativePath(rel);
  budget.addFile();
  const dest = path.join(root, clean);
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  await pipeline(
    source,
    counting((n) => {
      if (countReceived) budget.addReceived(n);
      budget.addUnpacked(n);
    }),
    fs.createWriteStream(dest, { flags: 'wx' }),
  );
}

/** Streams a request part to a file, counting received bytes. */
export async function saveStream(source: Readable, dest: string, budget: UploadBudget): Promise<void> {
  await pipeline(source, counting((n) => budget.addReceived(n)), fs.createWriteStream(dest, { flags: 'wx' }));
}

export type ArchiveKind = 'zip' | 'tar' | 'tar.gz';

/** Recognises an archive by its magic bytes (never by its name). */
export async function detectArchive(file: string): Promise<ArchiveKind | null> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0x04034b50) return 'zip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0x06054b50) return 'zip'; // empty zip
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'tar.gz';
    if (bytesRead >= 262 && buf.toString('latin1', 257, 262) === 'ustar') return 'tar';
    return null;
  } finally {
    await fh.close();
  }
}

function badArchive(detail: string): BadRequestError {
  return new BadRequestError('invalid-archive', `the archive cannot be unpacked: ${detail}`);
}

export async function extractArchive(file: string, kind: ArchiveKind, dest: string, budget: UploadBudget): Promise<void> {
  if (kind === 'zip') await extractZip(file, dest, budget);
  else await extractTar(file, kind === 'tar.gz', dest, budget);
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

async function extractZip(file: string, dest: string, budget: UploadBudget): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: true }, (err, z) =>
      err || !z ? reject(badArchive(err?.message ?? 'unreadable zip')) : resolve(z),
    ),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(err);
      };
      // yauzl validates names itself; its verdicts on them are ours too.
      zip.on('error', (err: Error) => {
        const m = /^(invalid relative path|absolute path|invalid characters in fileName): (.*)$/.exec(err.message);
        fail(m ? unsafe(m[2]!, m[1]!) : badArchive(err.message));
      });
      zip.on('end', () => {
        if (!failed) resolve();
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          const madeBy = entry.versionMadeBy >> 8;
          const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
          const isDir = entry.fileName.endsWith('/');
          // Unix-made entries may carry a file type: only regular files and directories pass
          // (a type of 0 means "not recorded", as Python's zipfile writes for plain files).
          const type = madeBy === 3 ? mode & S_IFMT : 0;
          if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
            throw unsafe(entry.fileName, 'links and device entries are not allowed');
          }
          if (isDir && isRootEntry(entry.fileName)) {
            zip.readEntry();
            return;
          }
          const rel = safeRelativePath(entry.fileName);
          if (isDir) {
            await fsp.mkdir(path.join(dest, rel), { recursive: true });
            zip.readEntry();
            return;
          }
          budget.addFile();
          // Declared size checked first (cheap), actual bytes counted while writing.
          if (budget.unpacked + entry.uncompressedSize > budget.limits.maxUnpackedBytes) {
            budget.addUnpacked(entry.uncompressedSize);
          }
          const stream = await new Promise<Readable>((res, rej) =>
            zip.openReadStream(entry, (err, s) => (err || !s ? rej(badArchive(err?.message ?? 'bad entry')) : res(s))),
          );
          const target = path.join(dest, rel);
          await fsp.mkdir(path.dirname(target), { recursive: true });
          await pipeline(stream, counting((n) => budget.addUnpacked(n)), fs.createWriteStream(target, { flags: 'wx' }));
          zip.readEntry();
        })().catch((err: unknown) => {
          const e = err as NodeJS.ErrnoException;
          fail(e.code === 'EEXIST' ? unsafe(entry.fileName, 'duplicate entry') : e instanceof Error && !('status' in e) ? badArchive(e.message) : e);
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

const TAR_OK_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
const TAR_META_TYPES = new Set(['GlobalExtendedHeader', 'ExtendedHeader', 'NextFileHasLongPath', 'NextFileHasLongLinkpath', 'OldExtendedHeader']);

async function extractTar(file: string, gzipped: boolean, dest: string, budget: UploadBudget): Promise<void> {
  const writes: Promise<void>[] = [];
  const outs: fs.WriteStream[] = [];
  let firstError: unknown = null;
  const parser = new TarParser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (firstError) return entry.resume();
      try {
        if (TAR_META_TYPES.has(entry.type)) return entry.resume();
        if (!TAR_OK_TYPES.has(entry.type)) throw unsafe(entry.path, `${entry.type} entries are not allowed`);
        if (entry.type === 'Directory' && isRootEntry(entry.path)) return entry.resume();
        const rel = safeRelativePath(entry.path);
        const target = path.join(dest, rel);
        if (entry.type === 'Directory') {
          entry.resume();
          writes.push(fsp.mkdir(target, { recursive: true }).then(() => undefined));
          return;
        }
        budget.addFile();
        budget.addUnpacked(entry.size ?? 0);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        const out = fs.createWriteStream(target, { flags: 'wx' });
        outs.push(out);
        writes.push(
          pipeline(entry, out).catch((err: NodeJS.ErrnoException) => {
            throw err.code === 'EEXIST' ? unsafe(entry.path, 'duplicate entry') : err;
          }),
        );
      } catch (err) {
        firstError ??= err;
        entry.resume();
      }
    },
  });
  try {
    const streams: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [fs.createReadStream(file)];
    if (gzipped) streams.push(createGunzip());
    await pipeline([...(streams as [Readable]), parser as unknown as NodeJS.WritableStream]);
  } catch (err) {
    firstError ??= err;
    // A truncated stream leaves the entry being written without an end: stop its writer.
    for (const out of outs) if (!out.closed) out.destroy(new Error('archive ended early'));
  }
  const results = await Promise.allSettled(writes);
  for (const r of results) if (r.status === 'rejected') firstError ??= r.reason;
  if (firstError) {
    const e = firstError as Error & { status?: number };
    throw e.status ? e : badArchive(e.message);
  }
  if (budget.files === 0) throw badArchive('it contains no files');
}

/**
 * Archives often wrap everything in one top-level folder (`corpus/yes/a.wav`). When the
 * unpacked tree is exactly one directory whose name is not a requested class, the
 * dataset directory is that folder.
 */
export async function datasetRootOf(dir: string, classes: string[]): Promise<string> {
  const entries = (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.name !== '__MACOSX');
  if (entries.length === 1 && entries[0]!.isDirectory() && !classes.includes(entries[0]!.name)) {
    return path.join(dir, entries[0]!.name);
  }
  return dir;
}

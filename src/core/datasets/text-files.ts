/**
 * Reading the text files a dataset brings along (speech_commands_lists' validation_list.txt
 * and testing_list.txt, MLTK index files) without ever blocking on them:
 *
 * - opened with O_NONBLOCK (and O_NOCTTY), so opening a FIFO returns at once instead of
 *   parking a thread-pool thread until a writer comes; then fstat: anything that is not a
 *   regular file (FIFO, socket, character or block device) is refused by name
 *   (`not-a-regular-file`, 422) before a single byte is read; a directory counts as absent;
 * - bounded: a file larger than `maxBytes` (MAX_LIST_FILE_BYTES, default 64 MiB) is refused
 *   (`list-file-too-large`, 422) from its size, before reading, and again if it grows while
 *   being read;
 * - streamed: read in chunks and split into lines as they come (`\n`, `\r\n`, `\r`, also
 *   across chunk boundaries), never as one string of the whole file.
 * UTF-8 with invalid sequences replaced (as fs.readFile(…, 'utf8')); a byte-order mark is
 * kept in the first line (the parsers drop it).
 */
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DatasetError } from '../errors.ts';

/** Default MAX_LIST_FILE_BYTES. */
export const DEFAULT_MAX_LIST_FILE_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** open(2) flags for reading a file that must not block: FIFOs open at once, no controlling tty is acquired. */
export const NONBLOCKING_READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

/** What a non-regular file is, for messages. */
export function fileKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

export function notRegularFileError(file: string, st: fs.Stats, what: string): DatasetError {
  return new DatasetError(
    'not-a-regular-file',
    `${what} ${file} is ${fileKind(st)}, not a regular file: only regular files are read`,
    { file, kind: fileKind(st).replace(/^an? /, '') },
  );
}

export function fileTooLargeError(file: string, size: number, maxBytes: number, what: string): DatasetError {
  return new DatasetError(
    'list-file-too-large',
    `${what} ${file} is ${size} bytes, more than MAX_LIST_FILE_BYTES (${maxBytes} bytes)`,
    { file, size, limit: maxBytes, setting: 'MAX_LIST_FILE_BYTES' },
  );
}

/**
 * Opens `file` for reading without blocking and checks it is a regular file of at most
 * `maxBytes`. Null when it does not exist (ENOENT, ENOTDIR) or is a directory.
 */
async function openRegular(file: string, maxBytes: number, what: string, directoryIsAbsent: boolean): Promise<FileHandle | null> {
  let fh: FileHandle;
  try {
    fh = await open(file, NONBLOCKING_READ_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || (code === 'EISDIR' && directoryIsAbsent)) return null;
    // ENXIO: a socket (or a FIFO opened for writing); ELOOP etc.: unreadable. Say which.
    if (code === 'ENXIO') {
      const st = await fs.promises.stat(file).catch(() => null);
      if (st && !st.isFile()) throw notRegularFileError(file, st, what);
    }
    throw err;
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory() && directoryIsAbsent) {
      await fh.close();
      return null;
    }
    if (!st.isFile()) throw notRegularFileError(file, st, what);
    if (st.size > maxBytes) throw fileTooLargeError(file, st.size, maxBytes, what);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The lines of a text file, streamed (see the module comment); null when the file does not
 * exist (or, with `directoryIsAbsent`, is a directory). `what` names the file in errors
 * ("list file", "index file").
 */
export async function readTextLines(
  file: string,
  maxBytes: number,
  what: string,
  directoryIsAbsent = true,
): Promise<AsyncIterable<string> | null> {
  const fh = await openRegular(file, maxBytes, what, directoryIsAbsent);
  if (fh === null) return null;
  return linesOf(fh, file, maxBytes, what);
}

/**
 * The text of `fh`, decoded chunk by chunk (the last chunk is the decoder's flush), refused
 * once more than `maxBytes` were read; `fh` is closed at the end, or when the reader stops.
 */
async function* textChunks(fh: FileHandle, file: string, maxBytes: number, what: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw fileTooLargeError(file, total, maxBytes, what);
      yield decoder.decode(buf.subarray(0, bytesRead), { stream: true });
    }
    yield decoder.decode();
  } finally {
    await fh.close();
  }
}

async function* linesOf(fh: FileHandle, file: string, maxBytes: number, what: string): AsyncGenerator<string> {
  let carry = '';
  for await (const chunk of textChunks(fh, file, maxBytes, what)) {
    let text = carry + chunk;
    // A `\r` at the end may be the first half of `\r\n`: keep it for the next chunk.
    let held = '';
    if (text.endsWith('\r')) {
      held = '\r';
      text = text.slice(0, -1);
    }
    const parts = text.split(/\r\n|\r|\n/);
    carry = parts.pop()! + held;
    yield* parts;
  }
  yield* carry.split(/\r\n|\r|\n/);
}

/**
 * The whole text of a regular file of at most `maxBytes`, exactly as stored (an index file
 * to download, a seed record); null when absent. Same checks as readTextLines.
 */
export async function readTextBounded(file: string, maxBytes: number, what: string): Promise<string | null> {
  const fh = await openRegular(file, maxBytes, what, true);
  if (fh === null) return null;
  const parts: string[] = [];
  for await (const chunk of textChunks(fh, file, maxBytes, what)) parts.push(chunk);
  return parts.join('');
}

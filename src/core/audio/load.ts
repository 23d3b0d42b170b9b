/**
 * MLTK's per-sample audio loading (spec §14 steps 1 and 4, deterministic part):
 * decode -> resample to `sampleRateHz` -> trim silence -> crop/pad to the target length.
 * Augmentation (speed, pitch, VTLP, loudness, noise) is not applied here.
 */
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import { InvalidSettingsError, WavDecodeError } from '../errors.ts';
import { adjustLength, targetLength } from './adjust-length.ts';
import { resample } from './resample.ts';
import { trimSilence } from './trim.ts';
import { decodeWav, MAX_SAMPLE_RATE, type DecodedWav } from './wav.ts';

export { toInt16 } from './pcm.ts';

/** Files larger than this are refused before reading (WavDecodeError 'file-too-large'). */
export const MAX_WAV_FILE_BYTES = 256 * 1024 * 1024;
/** MLTK's generator default for trim_threshold_db (spec §2): librosa top_db 20. */
export const DEFAULT_TRIM_THRESHOLD_DB = 20;
/** MLTK's silence entry: 16000 zeros at 16 kHz (what `raw` returns for it). */
const SILENCE_SOURCE_SAMPLES = 16000;

export interface LoadOptions {
  sampleRateHz: number;
  sampleLengthMs: number;
  /** librosa top_db = trunc(value); 0 disables trimming. Default 20. */
  trimThresholdDb?: number;
  /** Crop/pad offset in [0, 1]. Default 0 (pad after, keep the head). */
  offset?: number;
  /** Decode only: no resample, trim, pad or crop (device-parity checks). */
  raw?: boolean;
}

export interface Resolved {
  rate: number;
  T: number;
  topDb: number | null;
  offset: number;
}

/**
 * Validates load options and resolves them (target length, librosa top_db); throws
 * InvalidSettingsError. Shared with the batch pipeline (frontend/wav-batch.ts) and
 * computeShard, so every path checks the same way.
 */
export function resolveLoadOptions(opts: LoadOptions): Resolved {
  const { sampleRateHz, sampleLengthMs } = opts;
  const trim = opts.trimThresholdDb ?? DEFAULT_TRIM_THRESHOLD_DB;
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 1 || sampleRateHz > MAX_SAMPLE_RATE) {
    throw new InvalidSettingsError(`sample_rate_hz must be an integer in 1..${MAX_SAMPLE_RATE}, got ${sampleRateHz}`);
  }
  if (!Number.isFinite(sampleLengthMs) || sampleLengthMs <= 0) {
    throw new InvalidSettingsError(`sample_length_ms must be a positive number, got ${sampleLengthMs}`);
  }
  const T = targetLength(sampleRateHz, sampleLengthMs);
  if (T < 1) {
    throw new InvalidSettingsError(`sample_length_ms ${sampleLengthMs} at ${sampleRateHz} Hz gives no samples`);
  }
  if (!Number.isFinite(trim) || trim < 0) {
    throw new InvalidSettingsError(`trim_threshold_db must be a finite number >= 0, got ${trim}`);
  }
  if (!(offset >= 0 && offset <= 1)) {
    throw new InvalidSettingsError(`offset must be in [0, 1], got ${offset}`);
  }
  // MLTK: trimming runs when trim_threshold_db is non-zero, with top_db = int(value);
  // so 0.5 trims with top_db 0 (nothing is louder than the loudest frame: all removed).
  return { rate: sampleRateHz, T, topDb: trim === 0 ? null : Math.trunc(trim), offset };
}

/** Resample -> trim -> crop/pad. Returns exactly T samples, or the decoded ones with `raw`. */
export function prepareSample(decoded: DecodedWav, opts: LoadOptions): Float32Array {
  const r = resolveLoadOptions(opts);
  if (opts.raw) return decoded.samples;
  return prepareResolved(decoded.samples, decoded.sampleRate, r);
}

/**
 * Resample -> trim -> crop/pad with resolved options. `log10` is trim's (Math.log10 here;
 * the augmentation pipeline passes detmath's, shared with its native twin).
 */
export function prepareResolved(samples: Float32Array, fromHz: number, r: Resolved, log10: (x: number) => number = Math.log10): Float32Array {
  // resample checks its bounds (rate floor, input and output caps) before any work.
  const y = resample(samples, fromHz, r.rate);
  const trimmed = r.topDb === null ? y : trimSilence(y, r.topDb, log10);
  return adjustLength(y, trimmed, r.T, r.offset);
}

/** Both readers refuse a file above MAX_WAV_FILE_BYTES before allocating. */
function assertSizeWithinLimit(size: number, filePath: string): void {
  if (size > MAX_WAV_FILE_BYTES) {
    throw new WavDecodeError('file-too-large', `file is ${size} bytes; the limit is ${MAX_WAV_FILE_BYTES} bytes`, filePath);
  }
}

/** A failed read as both readers report it (their own WavDecodeErrors pass through). */
function asReadError(err: unknown, filePath: string): WavDecodeError {
  if (err instanceof WavDecodeError) return err;
  return new WavDecodeError('unreadable-file', `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, filePath);
}

/**
 * open(2) flags for clips: O_NONBLOCK so that opening a FIFO returns at once (a blocking
 * open waits for a writer, parking a thread-pool thread for good), O_NOCTTY so a terminal
 * never becomes ours; the fstat that follows refuses anything but a regular file.
 */
const CLIP_OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

/** The skipped-clip reason of a FIFO, socket or device (never read, never waited on). */
export const NOT_A_REGULAR_FILE = 'not-a-regular-file';

function notRegular(st: fs.Stats, filePath: string): WavDecodeError {
  const kind = st.isFIFO()
    ? 'a FIFO'
    : st.isSocket()
      ? 'a socket'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : st.isDirectory()
            ? 'a directory'
            : 'not a regular file';
  return new WavDecodeError(NOT_A_REGULAR_FILE, `${kind}, not a regular file: only regular files are read`, filePath);
}

/**
 * Read a whole file, refusing anything above MAX_WAV_FILE_BYTES before allocating, and
 * anything that is not a regular file (`not-a-regular-file`) without blocking on it.
 */
export async function readBounded(filePath: string): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(filePath, CLIP_OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A socket cannot be opened (ENXIO): say what it is.
    const st = code === 'ENXIO' ? await fs.promises.stat(filePath).catch(() => null) : null;
    if (st && !st.isFile()) throw notRegular(st, filePath);
    throw new WavDecodeError('unreadable-file', `cannot open file (${code ?? String(err)})`, filePath);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(st, filePath);
    assertSizeWithinLimit(st.size, filePath);
    // The file may shrink between stat and read: keep only what was actually read.
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } catch (err) {
    throw asReadError(err, filePath);
  } finally {
    await fh.close();
  }
}

/**
 * readBounded without the thread pool, for regular files: the same checks, errors and
 * bytes in four syscalls on the calling thread. For a page-cached clip this costs about
 * a third of the CPU of the five pool round trips of realpath + readBounded (open, fstat,
 * read, close), which is what a shard of small clips spent most of its non-frontend time
 * on. Returns null when the file cannot be opened or is not a regular file (a FIFO, a
 * directory): the caller then uses readBounded, whose errors (and whose wait on a FIFO,
 * off this thread) stay what they were.
 */
export function readRegularFileSync(filePath: string): Uint8Array | null {
  let fd: number;
  try {
    // Non-blocking, so opening a FIFO cannot stall this thread.
    fd = fs.openSync(filePath, CLIP_OPEN_FLAGS);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    assertSizeWithinLimit(st.size, filePath);
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const bytesRead = fs.readSync(fd, buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } catch (err) {
    throw asReadError(err, filePath);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Load one dataset entry. `null` or '' is a silence entry: T zeros (with `raw`, MLTK's
 * 16000 zeros at 16 kHz). Errors are WavDecodeError naming the file.
 */
export async function loadSample(filePath: string | null, opts: LoadOptions): Promise<Float32Array> {
  const r = resolveLoadOptions(opts);
  if (filePath === null || filePath === '') {
    return new Float32Array(opts.raw ? SILENCE_SOURCE_SAMPLES : r.T);
  }
  const decoded = decodeWav(await readBounded(filePath), filePath);
  if (opts.raw) return decoded.samples;
  try {
    return prepareResolved(decoded.samples, decoded.sampleRate, r);
  } catch (err) {
    if (err instanceof WavDecodeError && err.extra.file === undefined) {
      throw new WavDecodeError(err.reason, err.message, filePath);
    }
    throw err;
  }
}

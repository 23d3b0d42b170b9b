/**
 * Computes the features of one shard: load each clip as MLTK does (decode, resample,
 * trim, pad/crop with offset 0: the non-augmented path), convert to int16 and run the
 * frontend. A clip that cannot be read is recorded with its reason and gets an all-zero
 * row that every epoch skips.
 *
 * With the frontend enabled, the files are read here, synchronously (clipPathSync,
 * readRegularFileSync: for small clips the pool round trips of async reads cost the worker
 * about as much CPU as a third of the frontend), and the whole per-clip pipeline runs in
 * one FrontendBackend.featurizeWavs call per window of clips, writing straight into the
 * shard's data (native: on the thread pool, where it overlaps the next shard's reads;
 * the TypeScript backend gives the same bytes). Raw-audio specs (frontend off) and invalid
 * load options take the clip-by-clip loadSample path, which records the error per clip.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { loadSample, toInt16 } from '../../core/audio/index.ts';
import { readBounded, readRegularFileSync, resolveLoadOptions, type LoadOptions } from '../../core/audio/load.ts';
import { AudiofeedError, ResamplerUnavailableError, WavDecodeError } from '../../core/errors.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import type { WavBatchInput } from '../../core/frontend/wav-batch.ts';
import { isInside } from '../registry/sources/directory.ts';
import { rowShapeOf, shardDtypeOf, featureHash, type FeatureSpec } from './plan.ts';
import type { ShardFailure, ShardHeader } from './shard-file.ts';

const LOADS_IN_FLIGHT = 8;
/**
 * File bytes held at once by the batch path: a window of clips is read, featurized and
 * dropped before the next is read, so a shard of long recordings stays bounded (one
 * window holds a whole shard of one-second clips).
 */
const WINDOW_BYTES = 32 * 1024 * 1024;
/** Longest stretch of synchronous file reads before the event loop gets a turn. */
const READ_TURN_MS = 10;

export interface ComputeShardOptions {
  /** Most thread-pool threads one featurizeWavs call uses (undefined: the backend's default). */
  threads?: number;
}

export interface ShardInput {
  datasetDir: string;
  /** Data root the dataset lives in: no clip may resolve outside it. */
  root: string;
  entries: (string | null)[];
  spec: FeatureSpec;
}

/** Entries come from index files, which MLTK reuses verbatim: never trust them as paths. */
export async function clipPath(datasetDir: string, root: string, entry: string): Promise<string> {
  const abs = safeJoin(datasetDir, entry);
  let real: string;
  try {
    real = await fsp.realpath(abs);
  } catch (err) {
    throw realpathError(entry, err);
  }
  return checkedInside(real, root, entry);
}

/** clipPath on the calling thread (realpath(3), as fsp.realpath): same result and errors. */
export function clipPathSync(datasetDir: string, root: string, entry: string): string {
  const abs = safeJoin(datasetDir, entry);
  let real: string;
  try {
    real = fs.realpathSync.native(abs);
  } catch (err) {
    throw realpathError(entry, err);
  }
  return checkedInside(real, root, entry);
}

function safeJoin(datasetDir: string, entry: string): string {
  if (entry === '' || path.isAbsolute(entry) || entry.split('/').includes('..') || entry.includes('\0')) {
    throw new WavDecodeError('unsafe-entry', `index entry ${JSON.stringify(entry)} is not a path inside the dataset`);
  }
  return path.join(datasetDir, entry);
}

function realpathError(entry: string, err: unknown): WavDecodeError {
  const code = (err as NodeJS.ErrnoException).code;
  return new WavDecodeError(code === 'ENOENT' ? 'file-not-found' : 'unreadable', `${entry}: ${code === 'ENOENT' ? 'file not found (or a dangling link)' : (err as Error).message}`);
}

function checkedInside(real: string, root: string, entry: string): string {
  if (!isInside(real, root)) {
    throw new WavDecodeError('outside-root', `${entry} resolves outside the dataset's data root`);
  }
  return real;
}

export async function loadClip(input: Pick<ShardInput, 'datasetDir' | 'root' | 'spec'>, entry: string | null): Promise<Float32Array> {
  const s = input.spec.frontendSettings;
  const file = entry === null ? null : await clipPath(input.datasetDir, input.root, entry);
  return loadSample(file, {
    sampleRateHz: s.sample_rate_hz,
    sampleLengthMs: s.sample_length_ms,
    trimThresholdDb: input.spec.trimThresholdDb,
  });
}

export function failureOf(row: number, entry: string | null, err: unknown): ShardFailure {
  if (err instanceof WavDecodeError) return { row, entry, reason: err.reason, detail: err.message };
  if (err instanceof AudiofeedError) return { row, entry, reason: err.code, detail: err.message };
  const e = err as NodeJS.ErrnoException;
  return { row, entry, reason: e.code === 'ENOENT' ? 'file-not-found' : 'unreadable', detail: e.message };
}

export async function computeShard(
  input: ShardInput,
  frontend: FrontendBackend,
  options: ComputeShardOptions = {},
): Promise<{ header: ShardHeader; data: Uint8Array }> {
  const { spec } = input;
  const shard =
    !spec.frontendEnabled || !loadOptionsValid(spec)
      ? await computeShardClipByClip(input, frontend)
      : await computeShardBatched(input, frontend, options);
  // A clip that needs libsoxr on a worker without it is this worker's lack, not the clip's
  // fault: the shard is not written (a skipped clip would be cached for good), the job
  // fails with the reason, and a worker with libsoxr computes it.
  const unresampled = shard.header.failures.find((f) => f.reason === ResamplerUnavailableError.CODE);
  if (unresampled !== undefined) throw new ResamplerUnavailableError(`${unresampled.entry}: ${unresampled.detail}`);
  return shard;
}

function loadOptionsOf(spec: FeatureSpec): LoadOptions {
  const s = spec.frontendSettings;
  return { sampleRateHz: s.sample_rate_hz, sampleLengthMs: s.sample_length_ms, trimThresholdDb: spec.trimThresholdDb };
}

function loadOptionsValid(spec: FeatureSpec): boolean {
  try {
    resolveLoadOptions(loadOptionsOf(spec));
    return true;
  } catch {
    return false;
  }
}

/** The frontend path: files read here, everything else in featurizeWavs, window by window. */
async function computeShardBatched(
  input: ShardInput,
  frontend: FrontendBackend,
  options: ComputeShardOptions,
): Promise<{ header: ShardHeader; data: Uint8Array }> {
  const { spec, entries } = input;
  const header = headerOf(spec, entries, []);
  const rowElems = header.row_shape.reduce((a, b) => a * b, 1);
  const out = new Uint16Array(entries.length * rowElems);
  const failures: ShardFailure[] = [];
  const wavs: WavBatchInput[] = new Array(entries.length).fill(undefined);
  const files: (string | undefined)[] = new Array(entries.length).fill(undefined);
  const callOptions = options.threads === undefined ? {} : { threads: options.threads };
  let next = 0;
  while (next < entries.length) {
    // Files are read on this thread (readRegularFileSync: no pool round trips), in turns of
    // at most READ_TURN_MS so BullMQ and the other shard in flight are not held up.
    const start = next;
    let bytes = 0;
    let turn = performance.now();
    while (next < entries.length && bytes < WINDOW_BYTES) {
      if (performance.now() - turn > READ_TURN_MS) {
        await yieldToEventLoop();
        turn = performance.now();
      }
      const i = next++;
      const entry = entries[i]!;
      if (entry === null) {
        wavs[i] = null; // silence
        continue;
      }
      try {
        files[i] = clipPathSync(input.datasetDir, input.root, entry);
        const wav = readRegularFileSync(files[i]!) ?? (await readBounded(files[i]!));
        bytes += wav.length;
        wavs[i] = wav;
      } catch (err) {
        failures.push(failureOf(i, entry, err));
      }
    }
    const end = next;
    const r = await frontend.featurizeWavs(
      spec.frontendSettings,
      spec.trimThresholdDb,
      wavs.slice(start, end),
      out.subarray(start * rowElems, end * rowElems),
      { ...callOptions, files: files.slice(start, end) },
    );
    for (const f of r.failures) failures.push(failureOf(start + f.index, entries[start + f.index]!, f.error));
    wavs.fill(undefined, start, end); // drop the window's bytes
  }
  failures.sort((a, b) => a.row - b.row);
  header.failures = failures;
  return { header, data: new Uint8Array(out.buffer) };
}

/**
 * The clip-by-clip path: loadSample per clip, then one frontend call (or raw audio
 * rows). Exported as the reference the batched path is tested against.
 */
export async function computeShardClipByClip(input: ShardInput, frontend: FrontendBackend): Promise<{ header: ShardHeader; data: Uint8Array }> {
  const { spec, entries } = input;
  const failures: ShardFailure[] = [];
  const audio: (Float32Array | null)[] = new Array(entries.length).fill(null);
  // A few reads in flight keep the disk busy while the CPU decodes.
  let next = 0;
  const loader = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      try {
        audio[i] = await loadClip(input, entries[i]!);
      } catch (err) {
        failures.push(failureOf(i, entries[i]!, err));
      }
    }
  };
  await Promise.all(Array.from({ length: LOADS_IN_FLIGHT }, loader));
  failures.sort((a, b) => a.row - b.row);
  return packFeatures(spec, entries, audio, failures, frontend);
}

export function headerOf(spec: FeatureSpec, entries: (string | null)[], failures: ShardFailure[]): ShardHeader {
  return {
    version: 1,
    dtype: shardDtypeOf(spec),
    row_shape: rowShapeOf(spec),
    rows: entries.length,
    entries,
    failures,
    feature_hash: featureHash(spec),
  };
}

/**
 * Runs the frontend over the clips that loaded (one call for all of them) and packs the
 * rows in entry order; failed clips get zero rows and their reason in the header.
 */
export async function packFeatures(
  spec: FeatureSpec,
  entries: (string | null)[],
  audio: (Float32Array | null)[],
  failures: ShardFailure[],
  frontend: FrontendBackend,
): Promise<{ header: ShardHeader; data: Uint8Array }> {
  const header = headerOf(spec, entries, failures);
  const rowElems = header.row_shape.reduce((a, b) => a * b, 1);
  if (!spec.frontendEnabled) {
    const out = new Float32Array(entries.length * rowElems);
    audio.forEach((a, i) => a && out.set(a, i * rowElems));
    return { header, data: new Uint8Array(out.buffer) };
  }
  const ok = audio.map((a, i) => (a ? i : -1)).filter((i) => i >= 0);
  const spectra = await frontend.process(spec.frontendSettings, ok.map((i) => toInt16(audio[i]!)));
  const out = new Uint16Array(entries.length * rowElems);
  ok.forEach((row, k) => out.set(spectra[k]!, row * rowElems));
  return { header, data: new Uint8Array(out.buffer) };
}

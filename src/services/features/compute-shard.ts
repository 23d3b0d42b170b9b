/**
 * Computes the features of one shard: load each clip as MLTK does (decode, resample,
 * trim, pad/crop with offset 0: the non-augmented path), convert to int16 and run the
 * frontend on all clips of the shard in one call. A clip that cannot be read is recorded
 * with its reason and gets an all-zero row that every epoch skips.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadSample, toInt16 } from '../../core/audio/index.ts';
import { AudiofeedError, WavDecodeError } from '../../core/errors.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import { isInside } from '../registry/sources/directory.ts';
import { rowShapeOf, shardDtypeOf, featureHash, type FeatureSpec } from './plan.ts';
import type { ShardFailure, ShardHeader } from './shard-file.ts';

const LOADS_IN_FLIGHT = 8;

export interface ShardInput {
  datasetDir: string;
  /** Data root the dataset lives in: no clip may resolve outside it. */
  root: string;
  entries: (string | null)[];
  spec: FeatureSpec;
}

/** Entries come from index files, which MLTK reuses verbatim: never trust them as paths. */
export async function clipPath(datasetDir: string, root: string, entry: string): Promise<string> {
  if (entry === '' || path.isAbsolute(entry) || entry.split('/').includes('..') || entry.includes('\0')) {
    throw new WavDecodeError('unsafe-entry', `index entry ${JSON.stringify(entry)} is not a path inside the dataset`);
  }
  const abs = path.join(datasetDir, entry);
  let real: string;
  try {
    real = await fsp.realpath(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WavDecodeError(code === 'ENOENT' ? 'file-not-found' : 'unreadable', `${entry}: ${code === 'ENOENT' ? 'file not found (or a dangling link)' : (err as Error).message}`);
  }
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

export async function computeShard(input: ShardInput, frontend: FrontendBackend): Promise<{ header: ShardHeader; data: Uint8Array }> {
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
  const rowShape = rowShapeOf(spec);
  const rowElems = rowShape.reduce((a, b) => a * b, 1);
  const header: ShardHeader = {
    version: 1,
    dtype: shardDtypeOf(spec),
    row_shape: rowShape,
    rows: entries.length,
    entries,
    failures,
    feature_hash: featureHash(spec),
  };
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

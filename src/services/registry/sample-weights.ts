/**
 * Per-sample weights a client uploads for a subset (Keras' sample_weight, which MLTK's
 * generator cannot take): stored content-addressed in the dataset's artifact directory
 * and streamed as the batches' third column.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../core/atomic-file.ts';
import { InvalidSettingsError, NotFoundError } from '../../core/errors.ts';
import type { DatasetRecord } from './types.ts';

function weightsFile(rec: DatasetRecord, id: string): string {
  return path.join(rec.artifact_dir, 'sample-weights', `${id}.f32`);
}

export async function saveSampleWeights(rec: DatasetRecord, weights: number[], expected: number): Promise<{ id: string; length: number }> {
  if (weights.length !== expected) {
    throw new InvalidSettingsError(`${weights.length} weights given, the subset has ${expected} samples (one weight per sample, in subset order)`, {
      field: 'weights',
    });
  }
  const bad = weights.findIndex((w) => !Number.isFinite(w) || w < 0);
  if (bad >= 0) throw new InvalidSettingsError(`weight ${bad} is ${weights[bad]}: weights must be finite and >= 0`, { field: 'weights' });
  const arr = Float32Array.from(weights);
  const bytes = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  const id = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 32);
  const file = weightsFile(rec, id);
  await writeFileAtomic(file, bytes);
  return { id, length: arr.length };
}

export async function loadSampleWeights(rec: DatasetRecord, id: string): Promise<Float32Array> {
  const file = weightsFile(rec, id);
  if (!fs.existsSync(file)) throw new NotFoundError('sample-weights', `no sample weights ${id} for dataset ${rec.id}; upload them with POST /v1/datasets/${rec.id}/sample-weights`);
  const buf = await fsp.readFile(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

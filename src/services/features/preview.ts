/**
 * One sample of a registered dataset as the model sees it, for previews (the dashboard's
 * spectrogram images and audio players): the uint16 spectrogram from the sample's feature
 * shard when that shard exists, otherwise computed now by the shard computation itself
 * (computeShard on a one-entry list: decode, resample, trim, pad/crop, int16, frontend, on
 * the DSP pool),
 * so both paths give the same values bit for bit. A clip the featurization skipped (or
 * would skip) is an error with the same reason, never a picture of zeros.
 */
import fs from 'node:fs';
import { ConflictError, WavDecodeError } from '../../core/errors.ts';
import { encodeWavPcm16 } from '../../core/audio/wav-encode.ts';
import type { DspPort } from '../ports.ts';
import { subsetDir, type SampleRef } from '../registry/subsets.ts';
import type { DatasetRecord } from '../registry/types.ts';
import { featureHash, featureSpecOf, planList, rowOf, shardOf } from './plan.ts';
import { isShardCorrupt } from './integrity.ts';
import { openShardSync, readRowSync, type ShardCorruptError } from './shard-file.ts';

export interface SampleSpectrogram {
  /** [height (frames) × width (channels)], row-major, as stored in the feature shard. */
  values: Uint16Array;
  height: number;
  width: number;
  /** `shard`: read from the cached feature shard; `computed`: computed for this request. */
  source: 'shard' | 'computed';
}

function skipped(reason: string, detail: string, entry: string | null): WavDecodeError {
  return new WavDecodeError(reason, detail, entry ?? undefined);
}

/** The uint16 spectrogram of one sample, exactly the values the featurization stores. */
export async function sampleSpectrogram(
  rec: DatasetRecord,
  sample: SampleRef,
  featuresDir: string,
  dsp: Pick<DspPort, 'run'>,
  onCorrupt: (err: ShardCorruptError) => Promise<unknown> = async () => undefined,
): Promise<SampleSpectrogram> {
  const spec = featureSpecOf(rec);
  if (!spec.frontendEnabled) {
    throw new ConflictError(
      'frontend-disabled',
      `dataset ${rec.id} is registered with frontend_enabled = false: its samples are audio, not spectrograms (play …/audio.wav instead)`,
    );
  }
  const { datasetDir, root } = subsetDir(rec, sample.list);
  const plan = planList(rec, sample.list, featuresDir);
  const shard = plan.shards[shardOf(plan, sample.position)]!;
  const row = rowOf(plan, sample.position);
  if (fs.existsSync(shard.file)) {
    try {
      const fromShard = readSample(shard.file, row, sample.entry, featureHash(spec));
      if (fromShard) return fromShard;
    } catch (err) {
      // A shard that fails verification is quarantined; the sample is computed instead.
      if (!isShardCorrupt(err)) throw err;
      await onCorrupt(err);
    }
  }
  // Computed on the DSP pool (src/services/ports.ts DspPort), never on the caller's event loop.
  const { failure, rowShape, data } = await dsp.run({ kind: 'sample-features', input: { datasetDir, root, entries: [sample.entry], spec } });
  if (failure) throw skipped(failure.reason, failure.detail, sample.entry);
  const [height, width] = rowShape as [number, number];
  return { values: new Uint16Array(data.buffer, data.byteOffset, height * width), height, width, source: 'computed' };
}

/** The sample from its shard, or null when the file is not this sample's (hash or entry mismatch). */
function readSample(file: string, row: number, entry: string | null, hash: string): SampleSpectrogram | null {
  const open = openShardSync(file);
  try {
    const h = open.header;
    // The shard key derives from these entries and settings; a mismatch means the file is not ours.
    if (h.feature_hash !== hash || h.dtype !== 'uint16' || h.row_shape.length !== 2 || h.entries[row] !== entry) return null;
    const failure = h.failures.find((f) => f.row === row);
    if (failure) throw skipped(failure.reason, failure.detail, entry);
    const bytes = new Uint8Array(open.rowBytes);
    readRowSync(open, row, bytes, 0);
    const [height, width] = h.row_shape as [number, number];
    return { values: new Uint16Array(bytes.buffer, 0, height * width), height, width, source: 'shard' };
  } finally {
    fs.closeSync(open.fd);
  }
}

/** What a `_silence_` sample is before augmentation: sample_length_ms of zeros at sample_rate_hz. */
export function silenceWav(rec: DatasetRecord): Buffer {
  const fe = rec.settings.frontend_settings;
  return encodeWavPcm16(new Int16Array(Math.floor((fe.sample_rate_hz * fe.sample_length_ms) / 1000)), fe.sample_rate_hz);
}

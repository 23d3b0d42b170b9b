/**
 * Augmented batches (spec §14): each clip of a batch is decoded, transformed with
 * parameters drawn from a stream seeded by (seed, epoch, batch, position), and run
 * through the frontend. Unlike MLTK (clock-seeded, Q-20) an augmented epoch is therefore
 * reproducible. These features are computed per request and never cached.
 */
import { decodeWav } from '../../core/audio/wav.ts';
import { readBounded } from '../../core/audio/load.ts';
import {
  applyTransform,
  augmentRng,
  drawTransformParams,
  type BackgroundNoiseCache,
  type ResolvedAugmentation,
} from '../../core/audio/augment/index.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import { clipPath, failureOf, packFeatures, type ShardInput } from './compute-shard.ts';
import type { ShardFailure, ShardHeader } from './shard-file.ts';

export interface AugmentedBatchInput extends ShardInput {
  augmentation: ResolvedAugmentation;
  seed: number;
  epoch: number;
  batch: number;
}

/** MLTK's silence entry: 16000 zeros declared as 16 kHz, before any transform. */
const SILENCE = { samples: new Float32Array(16000), sampleRate: 16000 };

/** `noises` keeps the background noises (and their trim bounds) between batches: one per worker. */
export async function computeAugmentedBatch(
  input: AugmentedBatchInput,
  frontend: FrontendBackend,
  noises: BackgroundNoiseCache,
): Promise<{ header: ShardHeader; data: Uint8Array }> {
  const { spec, entries, augmentation } = input;
  const s = spec.frontendSettings;
  const bgNoises = await noises.load(augmentation.bg_noise_dir, s.sample_rate_hz);
  const failures: ShardFailure[] = [];
  const audio: (Float32Array | null)[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    try {
      const decoded = entry === null ? SILENCE : decodeWav(await readBounded(await clipPath(input.datasetDir, input.root, entry)), entry);
      const rng = augmentRng(input.seed, input.epoch, input.batch, i);
      const params = drawTransformParams(augmentation, rng, bgNoises.length);
      audio.push(
        applyTransform(decoded, params, {
          sampleRateHz: s.sample_rate_hz,
          sampleLengthMs: s.sample_length_ms,
          trimThresholdDb: spec.trimThresholdDb,
          bgNoises,
          bgTrimBounds: noises.trimBounds,
          noiseLevel: augmentation.noise_color_level,
        }),
      );
    } catch (err) {
      failures.push(failureOf(i, entry, err));
      audio.push(null);
    }
  }
  return packFeatures(spec, entries, audio, failures, frontend);
}

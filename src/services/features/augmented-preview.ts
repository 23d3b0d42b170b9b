/**
 * What an augmentation recipe does to one clip (the dashboard's augmentation preview,
 * POST /v1/datasets/{id}/samples/{n}/augmented/…): the augmented audio the frontend is fed
 * and its spectrogram, computed by the code the augmented epochs use —
 * computeAugmentedBatch (./augmented.ts: the parameter draws of ../../core/audio/augment,
 * then FrontendBackend.augmentBatch, the native addon or the TypeScript reference) — on a
 * one-clip batch whose stream is seeded by the user's seed (epoch 0, batch 0, position 0).
 * So the same seed and recipe give the same bytes, on either backend.
 *
 * `computeAugmentedPreview` is the whole computation in one call on plain data (paths,
 * settings, numbers): it can move to a worker thread as it is. The recipe is validated and
 * its background-noise directory resolved before it (FeatureService.augmentedPreview).
 */
import { augmentRng, drawTransformParams, type BackgroundNoiseCache, type ResolvedAugmentation, type TransformParams } from '../../core/audio/augment/index.ts';
import { toInt16 } from '../../core/audio/pcm.ts';
import { WavDecodeError } from '../../core/errors.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import { computeAugmentedBatch } from './augmented.ts';
import type { FeatureSpec } from './plan.ts';
import { encodeWavPcm16 } from '../../core/audio/wav-encode.ts';

export interface AugmentedPreviewInput {
  datasetDir: string;
  /** Data root the dataset lives in: the clip may not resolve outside it. */
  root: string;
  /** The index entry (null: a `_silence_` sample). */
  entry: string | null;
  spec: FeatureSpec;
  /** Validated, with bg_noise_dir resolved inside the data root (or null). */
  augmentation: ResolvedAugmentation;
  /** Seeds the draws (as a dataset's `seed` does for its epochs). */
  seed: number;
}

export interface AugmentedPreview {
  /** The augmented clip as 16-bit PCM at the dataset's sample rate: what the frontend is fed. */
  wav: Buffer;
  /** Its uint16 spectrogram [height × width] (null when the dataset's frontend is off). */
  spectrogram: { values: Uint16Array; height: number; width: number } | null;
  /** The transform drawn for the clip (offset, loudness, noise, speed, pitch, VTLP). */
  params: TransformParams;
}

/** The epoch, batch and position the preview's stream is seeded with, beside the seed. */
const EPOCH = 0;
const BATCH = 0;
const POSITION = 0;

export async function computeAugmentedPreview(input: AugmentedPreviewInput, frontend: FrontendBackend, noises: BackgroundNoiseCache): Promise<AugmentedPreview> {
  const { spec, augmentation, seed } = input;
  const batch = { datasetDir: input.datasetDir, root: input.root, entries: [input.entry], augmentation, seed, epoch: EPOCH, batch: BATCH };
  // The audio row: the same pipeline with the frontend off (transforms, crop/pad, loudness, noise).
  const audio = await computeAugmentedBatch({ ...batch, spec: { ...spec, frontendEnabled: false } }, frontend, noises);
  const failure = audio.header.failures[0];
  if (failure) throw new WavDecodeError(failure.reason, failure.detail, input.entry ?? undefined);
  const samples = new Float32Array(audio.data.buffer, audio.data.byteOffset, audio.data.byteLength / 4);
  const wav = encodeWavPcm16(toInt16(samples), spec.frontendSettings.sample_rate_hz);
  let spectrogram: AugmentedPreview['spectrogram'] = null;
  if (spec.frontendEnabled) {
    const features = await computeAugmentedBatch({ ...batch, spec }, frontend, noises);
    const f = features.header.failures[0];
    if (f) throw new WavDecodeError(f.reason, f.detail, input.entry ?? undefined);
    const [height, width] = features.header.row_shape as [number, number];
    spectrogram = { values: new Uint16Array(features.data.buffer, features.data.byteOffset, height * width), height, width };
  }
  const bgNoises = await noises.load(augmentation.bg_noise_dir, spec.frontendSettings.sample_rate_hz);
  const params = drawTransformParams(augmentation, augmentRng(seed, EPOCH, BATCH, POSITION), bgNoises.length);
  return { wav, spectrogram, params };
}

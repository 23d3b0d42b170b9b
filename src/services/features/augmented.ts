/**
 * Augmented batches (spec §14): each clip of a batch is decoded, transformed with
 * parameters drawn from a stream seeded by (seed, epoch, batch, position), and run
 * through the frontend. Unlike MLTK (clock-seeded, Q-20) an augmented epoch is therefore
 * reproducible. These features are computed per request and never cached.
 *
 * The parameters (every random number of a clip) are drawn here; the transforms and the
 * frontend run in one FrontendBackend.augmentBatch call for the whole batch: on the
 * native backend one addon call on the thread pool, on the TypeScript backend the
 * reference pipeline; both give the same bytes (test/audio/augment-native-parity.test.ts).
 * Files are read synchronously (no thread-pool round trips for small clips), as the
 * plain path's computeShard does.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { readBounded, readRegularFileSync } from '../../core/audio/load.ts';
import {
  augmentRng,
  drawTransformParams,
  type BackgroundNoiseCache,
  type ResolvedAugmentation,
} from '../../core/audio/augment/index.ts';
import type { AugmentClip } from '../../core/frontend/augment-batch.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import { clipPathSync, failureOf, headerOf, type ShardInput } from './compute-shard.ts';
import type { ShardFailure, ShardHeader } from './shard-file.ts';

export interface AugmentedBatchInput extends ShardInput {
  augmentation: ResolvedAugmentation;
  seed: number;
  epoch: number;
  batch: number;
}

export interface AugmentedBatchOptions {
  /** Most thread-pool threads the native backend uses for the batch (default: one per core). */
  threads?: number;
}

/** Longest stretch of synchronous file reads before the event loop gets a turn. */
const READ_TURN_MS = 10;

/** `noises` keeps the background noises (and their trim bounds) between batches: one per worker. */
export async function computeAugmentedBatch(
  input: AugmentedBatchInput,
  frontend: FrontendBackend,
  noises: BackgroundNoiseCache,
  options: AugmentedBatchOptions = {},
): Promise<{ header: ShardHeader; data: Uint8Array }> {
  const { spec, entries, augmentation } = input;
  const s = spec.frontendSettings;
  const bgNoises = await noises.load(augmentation.bg_noise_dir, s.sample_rate_hz);
  const failures: ShardFailure[] = [];
  const clips: AugmentClip[] = [];
  let turn = performance.now();
  for (let i = 0; i < entries.length; i++) {
    if (performance.now() - turn > READ_TURN_MS) {
      await yieldToEventLoop();
      turn = performance.now();
    }
    const entry = entries[i]!;
    const params = drawTransformParams(augmentation, augmentRng(input.seed, input.epoch, input.batch, i), bgNoises.length);
    if (entry === null) {
      clips.push({ audio: null, params });
      continue;
    }
    try {
      const file = clipPathSync(input.datasetDir, input.root, entry);
      const audio = readRegularFileSync(file) ?? (await readBounded(file));
      clips.push({ audio, params, file: entry });
    } catch (err) {
      failures.push(failureOf(i, entry, err));
      clips.push({ audio: undefined, params });
    }
  }
  const header = headerOf(spec, entries, []);
  const rowElems = header.row_shape.reduce((a, b) => a * b, 1);
  const out = spec.frontendEnabled ? new Uint16Array(entries.length * rowElems) : new Float32Array(entries.length * rowElems);
  const r = await frontend.augmentBatch(
    {
      settings: s,
      frontendEnabled: spec.frontendEnabled,
      trimThresholdDb: spec.trimThresholdDb,
      // Records registered before noise_color_level existed get the default.
      noiseLevel: augmentation.noise_color_level ?? 'mltk',
      bgNoises,
      bgTrimBounds: noises.trimBounds,
    },
    clips,
    out,
    options.threads === undefined ? {} : { threads: options.threads },
  );
  for (const f of r.failures) failures.push(failureOf(f.index, entries[f.index]!, f.error));
  failures.sort((a, b) => a.row - b.row);
  header.failures = failures;
  return { header, data: new Uint8Array(out.buffer) };
}

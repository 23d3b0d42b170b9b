/**
 * MLTK's random audio augmentation (`ParallelAudioDataGenerator.get_random_transform`
 * and `apply_transform`, spec §14 steps 3–4, settings §2), one file per step:
 *
 * - ./settings.ts          validation, defaults and MLTK's draw grids (quirks Q-17 copied)
 * - ./draws.ts             the seeded stream per sample (Q-20 fixed) and the parameter draws (Q-16 fixed)
 * - ./transforms.ts        applying the drawn parameters to one clip
 * - ./background-noise.ts  loading bg_noise_dir, and the cache a worker keeps them in
 */
export { NOISE_COLOR_LEVELS, NOISE_COLORS, type NoiseColor, type NoiseColorLevel } from '../noise.ts';
export {
  MAX_PITCH_STEPS,
  isAugmentationActive,
  pitchBounds,
  resolveAugmentation,
  roundToTenth,
  speedGrid,
  vtlpBounds,
  type AugmentationSettings,
  type Range,
  type ResolvedAugmentation,
} from './settings.ts';
export {
  addsColourNoise,
  AugmentRng,
  augmentRng,
  defaultTransformParams,
  drawTransformParams,
  mixesBackgroundNoise,
  type TransformParams,
} from './draws.ts';
export { applyTransform, backgroundNoiseCrop, type TransformContext } from './transforms.ts';
export { BackgroundNoiseCache, loadBackgroundNoises } from './background-noise.ts';

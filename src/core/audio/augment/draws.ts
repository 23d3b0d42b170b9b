/**
 * One sample's random transform (`get_random_transform`, spec §14 step 3), drawn in
 * MLTK's order from a stream seeded by (seed, epoch, batch, position): an augmented
 * epoch is reproducible (Q-20 fixed; MLTK seeds from the clock).
 *
 * Draws: offset ~ U(offset_range); loudness ~ U(loudness_range); noise colour = uniform
 * choice of `noise_colors` with factor ~ U(noise_color_range) (0 without a range);
 * background noise factor ~ U(bg_noise_range) (0 without a range) then a uniform file
 * choice; speed = uniform choice of the arange grid with 1.0 removed; pitch steps =
 * integer in [lo, hi) with non-integer bounds turned into trunc(bound * 12); VTLP =
 * integer in [trunc(lo), trunc(hi)) (0 and 1 mean off). Then, from the same stream, what
 * applying the transform consumes: four words seeding the colour noise (when it is added)
 * and the background-noise crop offset ~ U(0, 1) (when it is mixed), in that order. All of
 * it is drawn here, before any audio is touched, so the native pipeline gets the same
 * numbers as the TypeScript one.
 *
 * Q-16 (background noise): MLTK always drops the drawn file (its 50/50 coin is
 * `randint(0, 1)`, always 0, and runs even without colour noise because the default
 * colour is the string 'none'). `bg_noise_mode: 'mix'` (default) mixes it: with only
 * background noise configured every sample gets it; with colour noise too, a fair coin
 * per sample picks one of the two. `'mltk'` drops it as MLTK does.
 */
import { RandomState } from '../../random.ts';
import { drawNoiseSeed, type NoiseColor, type NoiseSeed, type WordSource } from '../noise.ts';
import { pitchBounds, speedGrid, vtlpBounds, type ResolvedAugmentation } from './settings.ts';

export interface TransformParams {
  offset: number;
  loudness: number;
  /** null: no colour noise (none configured, 'none' drawn, or the coin chose bg noise). */
  noiseColor: NoiseColor | null;
  noiseFactor: number;
  /** Index into the background-noise list, or null when none is mixed. */
  bgNoise: number | null;
  bgFactor: number;
  speed: number;
  pitch: number;
  vtlp: number;
  /** Seed of the colour noise's normals, when colour noise is added (noiseColor set, factor > 0). */
  noiseSeed: NoiseSeed | null;
  /** Offset in [0, 1) of the background-noise crop, when one is mixed (bgNoise set, factor > 0). */
  bgOffset: number | null;
}

/** MLTK's `default_transform`: what non-augmented batches use. */
export function defaultTransformParams(): TransformParams {
  return {
    offset: 0,
    loudness: 1,
    noiseColor: null,
    noiseFactor: 0,
    bgNoise: null,
    bgFactor: 0,
    speed: 1,
    pitch: 0,
    vtlp: 1,
    noiseSeed: null,
    bgOffset: null,
  };
}

/** Whether `p` adds colour noise / mixes background noise (what the two extra draws are for). */
export const addsColourNoise = (p: TransformParams): boolean => p.noiseColor !== null && p.noiseFactor > 0;
export const mixesBackgroundNoise = (p: TransformParams): boolean => p.bgNoise !== null && p.bgFactor > 0;

/**
 * numpy legacy `RandomState` draws on top of ./rng.ts's MT19937: `random_sample`,
 * `uniform` and `randint` (masked rejection), so the parameter draws behave like
 * `np.random` seeded with the same value. Bulk noise uses ./noise.ts's FastGaussian,
 * seeded from this stream.
 */
export class AugmentRng implements WordSource {
  private readonly rs: RandomState;

  constructor(seed32: number) {
    this.rs = new RandomState(seed32);
  }

  nextUint32(): number {
    return this.rs.nextUint32();
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.rs.nextUint32() >>> 5;
    const b = this.rs.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer in [lo, hi); a one-value range draws nothing (as numpy). */
  randint(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`randint needs lo < hi, got [${lo}, ${hi})`);
    return lo + this.rs.interval(hi - lo - 1);
  }
}

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** MurmurHash3 (x86, 32-bit) over 32-bit words. */
function murmur3Words(words: number[], seed: number): number {
  let h = seed >>> 0;
  for (const w of words) {
    let k = Math.imul(w >>> 0, 0xcc9e2d51);
    k = rotl32(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl32(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= words.length * 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The stream for one sample: MT19937 seeded with MurmurHash3 of the four numbers (each
 * as two 32-bit words, so seeds up to 2^53 are distinct inputs). Streams of different
 * tuples are unrelated MT19937 states; identical tuples give identical streams.
 */
export function augmentRng(seed: number, epoch: number, batch: number, position: number): AugmentRng {
  const words: number[] = [];
  for (const [name, v] of [
    ['seed', seed],
    ['epoch', epoch],
    ['batch', batch],
    ['position', position],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${v}`);
    words.push(v % 0x100000000, Math.floor(v / 0x100000000));
  }
  return new AugmentRng(murmur3Words(words, 0x61756766 /* 'augf' */));
}

/**
 * One sample's random transform, in MLTK's draw order. `bgNoiseCount` = number of loaded
 * background-noise files (0: no background noise, as MLTK's empty dict).
 */
export function drawTransformParams(s: ResolvedAugmentation, rng: AugmentRng, bgNoiseCount: number): TransformParams {
  const p = defaultTransformParams();
  p.offset = rng.uniform(s.offset_range[0], s.offset_range[1]);
  if (s.loudness_range !== null) p.loudness = rng.uniform(s.loudness_range[0], s.loudness_range[1]);

  let colourDrawn = false;
  if (s.noise_colors !== null) {
    const c = s.noise_colors[rng.randint(0, s.noise_colors.length)]!;
    colourDrawn = true;
    p.noiseColor = c === 'none' ? null : (c as NoiseColor);
    p.noiseFactor = s.noise_color_range !== null ? rng.uniform(s.noise_color_range[0], s.noise_color_range[1]) : 0;
  }
  if (bgNoiseCount > 0) {
    p.bgFactor = s.bg_noise_range !== null ? rng.uniform(s.bg_noise_range[0], s.bg_noise_range[1]) : 0;
    p.bgNoise = rng.randint(0, bgNoiseCount);
    if (s.bg_noise_mode === 'mltk') {
      // MLTK: randint(0, 1) is always 0 (and draws nothing), so the bg noise is dropped.
      p.bgNoise = null;
    } else if (colourDrawn) {
      if (rng.randint(0, 2) === 0) p.bgNoise = null;
      else p.noiseColor = null;
    }
  }

  if (s.speed_range !== null) {
    const grid = speedGrid(s.speed_range);
    p.speed = grid[rng.randint(0, grid.length)]!;
  }
  if (s.pitch_range !== null) {
    const [a, b] = pitchBounds(s.pitch_range);
    p.pitch = rng.randint(a, b);
  }
  if (s.vtlp_range !== null) {
    const [a, b] = vtlpBounds(s.vtlp_range);
    p.vtlp = rng.randint(a, b);
  }
  if (addsColourNoise(p)) p.noiseSeed = drawNoiseSeed(rng);
  if (mixesBackgroundNoise(p)) p.bgOffset = rng.uniform(0, 1);
  return p;
}


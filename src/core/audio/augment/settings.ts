/**
 * MLTK's augmentation settings (`ParallelAudioDataGenerator`, settings §2): validation,
 * defaults, and the draw grids MLTK derives from them (quirks Q-17 copied: speed grid
 * without 1.0, float pitch bounds x12, float VTLP bounds truncated).
 * Integer-valued pitch/VTLP bounds count as integers (JSON cannot tell 1 from 1.0;
 * Python would scale a float 1.0 by 12).
 */
import { InvalidSettingsError } from '../../errors.ts';
import { isNoiseColor, NOISE_COLOR_LEVELS, NOISE_COLORS, type NoiseColorLevel } from '../noise.ts';
import { roundHalfEven } from '../stretch.ts';

export type Range = [number, number];

export interface AugmentationSettings {
  offset_range?: Range | null;
  loudness_range?: Range | null;
  noise_colors?: string[] | 'all' | 'none' | null;
  noise_color_range?: Range | null;
  noise_color_level?: NoiseColorLevel;
  bg_noise_range?: Range | null;
  bg_noise_dir?: string | null;
  bg_noise_mode?: 'mix' | 'mltk';
  speed_range?: Range | null;
  pitch_range?: Range | null;
  vtlp_range?: Range | null;
  trim_threshold_db?: number;
  validation_augmentation_enabled?: boolean;
}

/** Validated settings with defaults filled in; `noise_colors` is lower-case and expanded. */
export interface ResolvedAugmentation extends Required<AugmentationSettings> {
  offset_range: Range;
  /** Lower-case colour names; 'none' entries mean "no colour noise" when drawn. */
  noise_colors: string[] | null;
}

const BG_NOISE_MODES = ['mix', 'mltk'] as const;
/** Pitch shifts beyond two octaves stretch a clip 4x or more: refused as settings errors. */
export const MAX_PITCH_STEPS = 24;

function bad(field: string, detail: string): never {
  throw new InvalidSettingsError(`${field}: ${detail}`, { field });
}

/** A [lo, hi] pair of finite numbers with lo <= hi; null/undefined/[] = off (MLTK's falsy). */
function readRange(field: string, v: unknown, min?: number, max?: number): Range | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) bad(field, `must be a [min, max] pair of numbers or null, got ${JSON.stringify(v)}`);
  if (v.length === 0) return null;
  if (v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    bad(field, `must be a [min, max] pair of numbers or null, got ${JSON.stringify(v)}`);
  }
  const lo = v[0];
  const hi = v[1];
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) bad(field, `bounds must be finite, got [${lo}, ${hi}]`);
  if (lo > hi) bad(field, `min ${lo} is greater than max ${hi}`);
  if (min !== undefined && lo < min) bad(field, `bounds must be >= ${min}, got [${lo}, ${hi}]`);
  if (max !== undefined && hi > max) bad(field, `bounds must be <= ${max}, got [${lo}, ${hi}]`);
  return [lo, hi];
}

/**
 * `round(v, 1)` for the np.float64 values of np.arange, which is numpy's rounding (not
 * Python's correctly rounded one): rint(v * 10) / 10 with ties to even, after the product
 * is rounded to double (so 0.95 -> 1.0 although 0.95 is 0.9499… in binary).
 */
export function roundToTenth(x: number): number {
  return roundHalfEven(x * 10) / 10;
}

/**
 * MLTK's speed grid: `[round(i, 1) for i in np.arange(lo, hi, 0.1)]` without exactly 1.0.
 * numpy arange: ceil((hi - lo) / 0.1) values, value 1 = lo + 0.1, value i >= 2 =
 * lo + i * ((lo + 0.1) - lo).
 */
export function speedGrid(range: Range): number[] {
  const [lo, hi] = range;
  const step = 0.1;
  const len = Math.ceil((hi - lo) / step);
  const raw: number[] = [];
  if (len >= 1) raw.push(lo);
  if (len >= 2) raw.push(lo + step);
  const delta = lo + step - lo;
  for (let i = 2; i < len; i++) raw.push(lo + i * delta);
  return raw.map(roundToTenth).filter((s) => s !== 1);
}

/** MLTK's pitch bounds: a non-integer bound b becomes trunc(b * 12); draws are in [lo, hi). */
export function pitchBounds(range: Range): Range {
  const conv = (b: number): number => (Number.isInteger(b) ? b : Math.trunc(b * 12));
  return [conv(range[0]), conv(range[1])];
}

/** MLTK's VTLP bounds: numpy randint truncates float bounds; draws are in [lo, hi). */
export function vtlpBounds(range: Range): Range {
  return [Math.trunc(range[0]), Math.trunc(range[1])];
}

function readColors(v: unknown): string[] | null {
  const field = 'noise_colors';
  if (v === null || v === undefined || v === 'none') return null;
  if (v === 'all') return [...NOISE_COLORS];
  if (!Array.isArray(v)) bad(field, `must be 'all', 'none', null or a list of colours (${NOISE_COLORS.join(', ')}), got ${JSON.stringify(v)}`);
  const out: string[] = [];
  for (const c of v) {
    const name = typeof c === 'string' ? c.toLowerCase() : null;
    if (name === null || (name !== 'none' && !isNoiseColor(name))) {
      bad(field, `unknown noise colour ${JSON.stringify(c)}; valid: ${NOISE_COLORS.join(', ')}, none`);
    }
    out.push(name);
  }
  return out.length === 0 ? null : out;
}

/** Validate and fill defaults (spec §2). Errors are InvalidSettingsError naming the field. */
export function resolveAugmentation(partial: AugmentationSettings = {}): ResolvedAugmentation {
  if (partial === null || typeof partial !== 'object') {
    throw new InvalidSettingsError('augmentation settings must be an object');
  }
  const p = partial as Record<string, unknown>;
  const offset = readRange('offset_range', p.offset_range, 0, 1) ?? [0, 1];
  const loudness = readRange('loudness_range', p.loudness_range, 0);
  const noiseColors = readColors(p.noise_colors);
  const noiseRange = readRange('noise_color_range', p.noise_color_range, 0);
  const level = p.noise_color_level ?? 'mltk';
  if (!(NOISE_COLOR_LEVELS as readonly unknown[]).includes(level)) {
    bad('noise_color_level', `must be 'mltk' (MLTK's _get_color_noise levels) or 'peak' (every colour normalised to peak 1), got ${JSON.stringify(level)}`);
  }
  const bgRange = readRange('bg_noise_range', p.bg_noise_range, 0);

  let bgDir: string | null = null;
  if (p.bg_noise_dir !== null && p.bg_noise_dir !== undefined) {
    if (typeof p.bg_noise_dir !== 'string') bad('bg_noise_dir', `must be a string or null, got ${JSON.stringify(p.bg_noise_dir)}`);
    // MLTK tests the directory for truthiness: '' means no background noise.
    bgDir = p.bg_noise_dir === '' ? null : p.bg_noise_dir;
  }
  const mode = p.bg_noise_mode ?? 'mix';
  if (!(BG_NOISE_MODES as readonly unknown[]).includes(mode)) {
    bad('bg_noise_mode', `must be 'mix' (background noise mixed, the fix of Q-16) or 'mltk' (drawn then dropped, as MLTK), got ${JSON.stringify(mode)}`);
  }

  const speed = readRange('speed_range', p.speed_range);
  if (speed !== null) {
    const grid = speedGrid(speed);
    if (grid.length === 0) {
      bad('speed_range', `[${speed[0]}, ${speed[1]}] gives no speed: MLTK's grid is round(lo + i*0.1, 1) for i < ceil((hi - lo) / 0.1), without 1.0; widen the range or use null`);
    }
    if (grid.some((s) => !(s > 0))) bad('speed_range', `speeds must be > 0; [${speed[0]}, ${speed[1]}] gives ${grid.join(', ')}`);
  }

  const pitch = readRange('pitch_range', p.pitch_range);
  if (pitch !== null) {
    const [a, b] = pitchBounds(pitch);
    if (a >= b) {
      bad('pitch_range', `[${pitch[0]}, ${pitch[1]}] gives the empty semitone range [${a}, ${b}) (non-integer bounds are multiplied by 12 and truncated, as MLTK); use null for no pitch shift`);
    }
    if (a < -MAX_PITCH_STEPS || b - 1 > MAX_PITCH_STEPS) {
      bad('pitch_range', `[${pitch[0]}, ${pitch[1]}] gives semitone shifts [${a}, ${b}), beyond +-${MAX_PITCH_STEPS}`);
    }
  }

  const vtlpRange = readRange('vtlp_range', p.vtlp_range);
  if (vtlpRange !== null) {
    const [a, b] = vtlpBounds(vtlpRange);
    if (a >= b) {
      bad('vtlp_range', `[${vtlpRange[0]}, ${vtlpRange[1]}] gives the empty integer range [${a}, ${b}) (bounds are truncated, as numpy randint does in MLTK); use null for no VTLP`);
    }
    if (a < 0) bad('vtlp_range', `warp factors must be >= 0 (0 and 1 mean off), got integer range [${a}, ${b})`);
  }

  const trim = p.trim_threshold_db ?? 20;
  if (typeof trim !== 'number' || !Number.isFinite(trim) || trim < 0) {
    bad('trim_threshold_db', `must be a finite number >= 0, got ${JSON.stringify(trim)}`);
  }
  const valAug = p.validation_augmentation_enabled ?? true;
  if (typeof valAug !== 'boolean') bad('validation_augmentation_enabled', `must be a boolean, got ${JSON.stringify(valAug)}`);

  return {
    offset_range: offset,
    loudness_range: loudness,
    noise_colors: noiseColors,
    noise_color_range: noiseRange,
    noise_color_level: level as NoiseColorLevel,
    bg_noise_range: bgRange,
    bg_noise_dir: bgDir,
    bg_noise_mode: mode as 'mix' | 'mltk',
    speed_range: speed,
    pitch_range: pitch,
    vtlp_range: vtlpRange,
    trim_threshold_db: trim,
    validation_augmentation_enabled: valAug,
  };
}

/**
 * Whether random transforms can make a sample differ from the deterministic path
 * (offset 0, no transform). The default offset_range (0, 1) alone makes it active: MLTK
 * places every training sample at a random offset.
 */
export function isAugmentationActive(s: ResolvedAugmentation): boolean {
  if (s.offset_range[0] !== 0 || s.offset_range[1] !== 0) return true;
  if (s.loudness_range !== null && (s.loudness_range[0] !== 1 || s.loudness_range[1] !== 1)) return true;
  if (s.noise_colors !== null && s.noise_colors.some((c) => c !== 'none') && s.noise_color_range !== null && s.noise_color_range[1] > 0) {
    return true;
  }
  if (s.bg_noise_dir !== null && s.bg_noise_mode === 'mix' && s.bg_noise_range !== null && s.bg_noise_range[1] > 0) return true;
  // The speed grid never contains 1.0: any configured range stretches every sample.
  if (s.speed_range !== null) return true;
  if (s.pitch_range !== null) {
    const [a, b] = pitchBounds(s.pitch_range);
    if (!(a === 0 && b === 1)) return true;
  }
  if (s.vtlp_range !== null) {
    const [a, b] = vtlpBounds(s.vtlp_range);
    if (b > 2 || a < 0) return true;
  }
  return false;
}


/**
 * Frontend settings: MLTK `AudioFeatureGeneratorSettings` names and defaults
 * (frontend.md §1), validation of every combination the reference rejects or
 * leaves undefined (§2, §7, §10), output shape and a stable hash for cache keys.
 */
import { createHash } from 'node:crypto';
import { FrontendSettingsError } from '../errors.ts';
import { buildFilterbank } from './filterbank.ts';

export interface FrontendSettings {
  sample_rate_hz: number;
  sample_length_ms: number;
  window_size_ms: number;
  window_step_ms: number;
  filterbank_n_channels: number;
  filterbank_upper_band_limit: number;
  filterbank_lower_band_limit: number;
  noise_reduction_enable: boolean;
  noise_reduction_smoothing_bits: number;
  noise_reduction_even_smoothing: number;
  noise_reduction_odd_smoothing: number;
  noise_reduction_min_signal_remaining: number;
  pcan_enable: boolean;
  pcan_strength: number;
  pcan_offset: number;
  pcan_gain_bits: number;
  log_scale_enable: boolean;
  log_scale_shift: number;
  activity_detection_enable: boolean;
  activity_detection_alpha_a: number;
  activity_detection_alpha_b: number;
  activity_detection_arm_threshold: number;
  activity_detection_trip_threshold: number;
  dc_notch_filter_enable: boolean;
  dc_notch_filter_coefficient: number;
  quantize_dynamic_scale_enable: boolean;
  quantize_dynamic_scale_range_db: number;
}

export const DEFAULT_FRONTEND_SETTINGS: Readonly<FrontendSettings> = Object.freeze({
  sample_rate_hz: 16000,
  sample_length_ms: 1000,
  window_size_ms: 25,
  window_step_ms: 10,
  filterbank_n_channels: 32,
  filterbank_upper_band_limit: 7500.0,
  filterbank_lower_band_limit: 125.0,
  noise_reduction_enable: false,
  noise_reduction_smoothing_bits: 10,
  noise_reduction_even_smoothing: 0.025,
  noise_reduction_odd_smoothing: 0.06,
  noise_reduction_min_signal_remaining: 0.05,
  pcan_enable: false,
  pcan_strength: 0.95,
  pcan_offset: 80.0,
  pcan_gain_bits: 21,
  log_scale_enable: true,
  log_scale_shift: 6,
  activity_detection_enable: false,
  activity_detection_alpha_a: 0.5,
  activity_detection_alpha_b: 0.8,
  activity_detection_arm_threshold: 0.75,
  activity_detection_trip_threshold: 0.8,
  dc_notch_filter_enable: false,
  dc_notch_filter_coefficient: 0.95,
  quantize_dynamic_scale_enable: false,
  quantize_dynamic_scale_range_db: 40.0,
});

type Kind = 'int' | 'float' | 'bool';

const KINDS: Readonly<Record<keyof FrontendSettings, Kind>> = {
  sample_rate_hz: 'int',
  sample_length_ms: 'int',
  window_size_ms: 'int',
  window_step_ms: 'int',
  filterbank_n_channels: 'int',
  filterbank_upper_band_limit: 'float',
  filterbank_lower_band_limit: 'float',
  noise_reduction_enable: 'bool',
  noise_reduction_smoothing_bits: 'int',
  noise_reduction_even_smoothing: 'float',
  noise_reduction_odd_smoothing: 'float',
  noise_reduction_min_signal_remaining: 'float',
  pcan_enable: 'bool',
  pcan_strength: 'float',
  pcan_offset: 'float',
  pcan_gain_bits: 'int',
  log_scale_enable: 'bool',
  log_scale_shift: 'int',
  activity_detection_enable: 'bool',
  activity_detection_alpha_a: 'float',
  activity_detection_alpha_b: 'float',
  activity_detection_arm_threshold: 'float',
  activity_detection_trip_threshold: 'float',
  dc_notch_filter_enable: 'bool',
  dc_notch_filter_coefficient: 'float',
  quantize_dynamic_scale_enable: 'bool',
  quantize_dynamic_scale_range_db: 'float',
};

export const FRONTEND_SETTING_NAMES: readonly (keyof FrontendSettings)[] = Object.freeze(
  Object.keys(KINDS) as (keyof FrontendSettings)[],
);

/** Upper bounds that keep a single request within sane memory and time. */
export const FRONTEND_LIMITS = Object.freeze({
  maxSampleRateHz: 192000,
  maxSampleLengthMs: 60000,
  maxChannels: 512,
  minWindowSamples: 3,
  maxWindowSamples: 32768,
  maxOutputValues: 1 << 24,
});

/** Integer sizes derived from the settings (frontend.md §2). */
export interface FrontendSizes {
  sampleLength: number;
  windowSize: number;
  windowStep: number;
  fftSize: number;
  spectrumSize: number;
  height: number;
  width: number;
  /** window + (H-1)*step: samples after this never reach any stage. */
  samplesConsumed: number;
}

const bitlen = (n: number): number => 32 - Math.clz32(n);

export function frontendSizes(s: FrontendSettings): FrontendSizes {
  const sampleLength = Math.floor((s.sample_rate_hz * s.sample_length_ms) / 1000);
  const windowSize = Math.floor((s.window_size_ms * s.sample_rate_hz) / 1000);
  const windowStep = Math.floor((s.window_step_ms * s.sample_rate_hz) / 1000);
  let fftSize = 1;
  while (fftSize < windowSize) fftSize *= 2;
  const height = windowStep > 0 ? Math.floor((sampleLength - windowSize) / windowStep) + 1 : 0;
  return {
    sampleLength,
    windowSize,
    windowStep,
    fftSize,
    spectrumSize: fftSize / 2 + 1,
    height,
    width: s.filterbank_n_channels,
    samplesConsumed: windowSize + (height - 1) * windowStep,
  };
}

export function frontendShape(s: FrontendSettings): { height: number; width: number } {
  const { height, width } = frontendSizes(s);
  return { height, width };
}

/** log2(fft_size) - 6: the shift PCAN and the log stage compensate for (§10). */
export function correctionBits(fftSize: number): number {
  return bitlen(fftSize) - 1 - 6;
}

function fail(setting: string, detail: string): never {
  throw new FrontendSettingsError(`${setting}: ${detail}`, { setting });
}

function checkTypes(partial: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(partial)) {
    if (!Object.hasOwn(KINDS, key)) {
      fail(key, `unknown frontend setting; valid names are ${FRONTEND_SETTING_NAMES.join(', ')}`);
    }
    const kind = KINDS[key as keyof FrontendSettings];
    if (value === undefined) continue;
    if (kind === 'bool') {
      if (typeof value !== 'boolean') fail(key, `must be true or false, got ${JSON.stringify(value)}`);
    } else if (typeof value !== 'number' || !Number.isFinite(value)) {
      fail(key, `must be a finite number, got ${JSON.stringify(value) ?? String(value)}`);
    } else if (kind === 'int' && !Number.isSafeInteger(value)) {
      fail(key, `must be an integer, got ${value}`);
    }
  }
}

function inRange(s: FrontendSettings, key: keyof FrontendSettings, lo: number, hi: number, why = ''): void {
  const v = s[key] as number;
  if (v < lo || v > hi) fail(key, `must be between ${lo} and ${hi}${why}, got ${v}`);
}

/**
 * Fill defaults and reject anything the reference rejects, corrupts memory on,
 * or leaves undefined. Every message names the setting and says what to change.
 */
export function resolveFrontendSettings(partial: Partial<FrontendSettings> | undefined): FrontendSettings {
  if (partial !== undefined && (partial === null || typeof partial !== 'object' || Array.isArray(partial))) {
    throw new FrontendSettingsError('frontend settings must be an object of MLTK AudioFeatureGeneratorSettings fields');
  }
  const given = (partial ?? {}) as Record<string, unknown>;
  checkTypes(given);
  const s = { ...DEFAULT_FRONTEND_SETTINGS } as FrontendSettings;
  for (const key of FRONTEND_SETTING_NAMES) {
    if (given[key] !== undefined) (s as unknown as Record<string, unknown>)[key] = given[key];
  }

  const L = FRONTEND_LIMITS;
  inRange(s, 'sample_rate_hz', 1, L.maxSampleRateHz);
  inRange(s, 'sample_length_ms', 1, L.maxSampleLengthMs);
  inRange(s, 'window_size_ms', 1, L.maxSampleLengthMs);
  inRange(s, 'window_step_ms', 1, L.maxSampleLengthMs);
  inRange(s, 'filterbank_n_channels', 1, L.maxChannels);
  inRange(s, 'log_scale_shift', 0, 15);

  const z = frontendSizes(s);
  if (z.windowSize < L.minWindowSamples) {
    fail('window_size_ms', `${s.window_size_ms} ms at ${s.sample_rate_hz} Hz gives ${z.windowSize} samples; ` +
      `at least ${L.minWindowSamples} are required: increase window_size_ms`);
  }
  if (z.windowSize > L.maxWindowSamples) {
    fail('window_size_ms', `${s.window_size_ms} ms at ${s.sample_rate_hz} Hz gives ${z.windowSize} samples; ` +
      `at most ${L.maxWindowSamples} are supported: decrease window_size_ms`);
  }
  if (z.windowStep === 0) {
    fail('window_step_ms', `${s.window_step_ms} ms at ${s.sample_rate_hz} Hz gives a step of 0 samples: increase window_step_ms`);
  }
  if (z.windowStep > z.windowSize) {
    fail('window_step_ms', `step of ${z.windowStep} samples exceeds the window of ${z.windowSize} samples ` +
      `(the reference corrupts memory): make window_step_ms at most window_size_ms (${s.window_size_ms})`);
  }
  if (z.sampleLength < z.windowSize) {
    fail('sample_length_ms', `clip of ${z.sampleLength} samples is shorter than one window of ${z.windowSize} samples: ` +
      `make sample_length_ms at least window_size_ms (${s.window_size_ms})`);
  }
  if (z.height * z.width > L.maxOutputValues) {
    fail('window_step_ms', `settings produce ${z.height}x${z.width} = ${z.height * z.width} values, more than ` +
      `${L.maxOutputValues}: increase window_step_ms or reduce sample_length_ms / filterbank_n_channels`);
  }

  const lo = Math.fround(s.filterbank_lower_band_limit);
  const hi = Math.fround(s.filterbank_upper_band_limit);
  if (lo < 0) fail('filterbank_lower_band_limit', `must not be negative, got ${s.filterbank_lower_band_limit}`);
  if (lo >= hi) {
    fail('filterbank_lower_band_limit', `(${s.filterbank_lower_band_limit} Hz) must be below ` +
      `filterbank_upper_band_limit (${s.filterbank_upper_band_limit} Hz)`);
  }
  const fb = buildFilterbank({
    sampleRateHz: s.sample_rate_hz,
    spectrumSize: z.spectrumSize,
    numChannels: s.filterbank_n_channels,
    lowerBandLimit: s.filterbank_lower_band_limit,
    upperBandLimit: s.filterbank_upper_band_limit,
  });
  if (fb === null) {
    // The reference's own check (end_index > spectrum_size), not a plain `hi > Nyquist`
    // test: a limit within one FFT bin above Nyquist is accepted by MLTK.
    fail('filterbank_upper_band_limit', `${s.filterbank_upper_band_limit} Hz puts the filterbank beyond the last FFT bin ` +
      `(end_index > spectrum_size ${z.spectrumSize}; ${z.fftSize}-point FFT at ${s.sample_rate_hz} Hz): ` +
      `lower it to at most the Nyquist frequency ${s.sample_rate_hz / 2} Hz`);
  }

  inRange(s, 'noise_reduction_smoothing_bits', 0, 31);
  inRange(s, 'noise_reduction_even_smoothing', 0, 1);
  inRange(s, 'noise_reduction_odd_smoothing', 0, 1);
  inRange(s, 'noise_reduction_min_signal_remaining', 0, 1);

  if (s.pcan_enable) {
    if (!s.noise_reduction_enable) {
      fail('pcan_enable', 'PCAN gain control needs the noise estimate: set noise_reduction_enable to true or pcan_enable to false');
    }
    const cb = correctionBits(z.fftSize);
    const inputBits = s.noise_reduction_smoothing_bits - cb;
    if (inputBits < 0) {
      fail('noise_reduction_smoothing_bits', `${s.noise_reduction_smoothing_bits} is below PCAN's correction_bits ${cb} ` +
        `(log2(fft_size ${z.fftSize}) - 6; the reference shifts by a negative amount): raise it to at least ${cb}`);
    }
    if (inputBits > 31) {
      fail('noise_reduction_smoothing_bits', `${s.noise_reduction_smoothing_bits} minus correction_bits ${cb} exceeds 31 ` +
        `with PCAN on: lower it to at most ${31 + cb}`);
    }
    inRange(s, 'pcan_gain_bits', 0, 31);
    const snrShift = s.pcan_gain_bits - cb - 12;
    if (snrShift < 0) {
      fail('pcan_gain_bits', `${s.pcan_gain_bits} gives a negative SNR shift (pcan_gain_bits - correction_bits ${cb} - 12): ` +
        `raise it to at least ${cb + 12}`);
    }
    if (Math.fround(s.pcan_strength) < 0) fail('pcan_strength', `must not be negative, got ${s.pcan_strength}`);
    if (Math.fround(s.pcan_offset) < 0) fail('pcan_offset', `must not be negative, got ${s.pcan_offset}`);
  }

  inRange(s, 'activity_detection_alpha_a', 0, 1);
  inRange(s, 'activity_detection_alpha_b', 0, 1);
  inRange(s, 'activity_detection_arm_threshold', 0, 100);
  inRange(s, 'activity_detection_trip_threshold', 0, 100);

  if (s.dc_notch_filter_coefficient < 0 || Math.fround(s.dc_notch_filter_coefficient) >= 1) {
    fail('dc_notch_filter_coefficient', `must be at least 0 and below 1.0 (the filter pole), got ${s.dc_notch_filter_coefficient}`);
  }
  if (s.quantize_dynamic_scale_range_db < 0) {
    fail('quantize_dynamic_scale_range_db', `must not be negative, got ${s.quantize_dynamic_scale_range_db}`);
  }
  if (s.quantize_dynamic_scale_range_db > 1000) {
    fail('quantize_dynamic_scale_range_db', `must be at most 1000 dB, got ${s.quantize_dynamic_scale_range_db}`);
  }
  return s;
}

/** Canonical JSON (sorted keys) of the fully-resolved settings. */
export function canonicalSettingsJson(s: FrontendSettings): string {
  const r = resolveFrontendSettings(s);
  const keys = [...FRONTEND_SETTING_NAMES].sort();
  return '{' + keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(r[k])}`).join(',') + '}';
}

/** SHA-256 hex of the canonical settings JSON; equal settings give equal hashes. */
export function settingsHash(s: FrontendSettings): string {
  return createHash('sha256').update(canonicalSettingsJson(s)).digest('hex');
}

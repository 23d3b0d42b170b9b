import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrontendSettingsError } from '../../src/core/errors.ts';
import type { FrontendSettings } from '../../src/core/frontend/settings.ts';
import {
  DEFAULT_FRONTEND_SETTINGS,
  frontendShape,
  resolveFrontendSettings,
  settingsHash,
} from '../../src/core/frontend/settings.ts';

/** frontend.md §1, copied by hand so a drift in the source is caught. */
const SPEC_DEFAULTS = {
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
};

const MICRO_SPEECH: Partial<FrontendSettings> = {
  window_size_ms: 30,
  window_step_ms: 20,
  filterbank_n_channels: 40,
  noise_reduction_enable: true,
  pcan_enable: true,
};

/** Asserts a FrontendSettingsError whose message names `setting` and matches `hint`. */
function rejects(partial: unknown, setting: string, hint: RegExp): void {
  assert.throws(
    () => resolveFrontendSettings(partial as Partial<FrontendSettings>),
    (e: unknown) => {
      assert.ok(e instanceof FrontendSettingsError, `expected FrontendSettingsError, got ${String(e)}`);
      assert.ok(e.message.includes(setting), `message does not name ${setting}: ${e.message}`);
      assert.match(e.message, hint);
      assert.equal(e.status, 422);
      return true;
    },
  );
}

describe('frontend settings defaults', () => {
  it('equal the MLTK table in frontend.md §1', () => {
    assert.deepEqual({ ...DEFAULT_FRONTEND_SETTINGS }, SPEC_DEFAULTS);
  });

  it('are filled in for undefined and for an empty object', () => {
    assert.deepEqual(resolveFrontendSettings(undefined), SPEC_DEFAULTS);
    assert.deepEqual(resolveFrontendSettings({}), SPEC_DEFAULTS);
  });

  it('keep every field not overridden', () => {
    const s = resolveFrontendSettings(MICRO_SPEECH);
    assert.deepEqual(s, { ...SPEC_DEFAULTS, ...MICRO_SPEECH });
  });

  it('are not shared with the resolved object', () => {
    const s = resolveFrontendSettings(undefined);
    s.sample_rate_hz = 8000;
    assert.equal(DEFAULT_FRONTEND_SETTINGS.sample_rate_hz, 16000);
  });
});

describe('frontend shape', () => {
  it('is 98x32 for the defaults', () => {
    assert.deepEqual(frontendShape(resolveFrontendSettings(undefined)), { height: 98, width: 32 });
  });

  it('is 59x40 for a 1200 ms clip, 30/20 ms framing and 40 channels', () => {
    const s = resolveFrontendSettings({
      sample_length_ms: 1200,
      window_size_ms: 30,
      window_step_ms: 20,
      filterbank_n_channels: 40,
    });
    assert.deepEqual(frontendShape(s), { height: 59, width: 40 });
  });

  it('is 49x40 for the micro_speech settings', () => {
    assert.deepEqual(frontendShape(resolveFrontendSettings(MICRO_SPEECH)), { height: 49, width: 40 });
  });

  it('truncates the sample counts: 1234 ms, 32/13 ms gives 93 frames', () => {
    const s = resolveFrontendSettings({
      sample_length_ms: 1234,
      window_size_ms: 32,
      window_step_ms: 13,
      filterbank_n_channels: 40,
    });
    assert.deepEqual(frontendShape(s), { height: 93, width: 40 });
  });

  it('is one frame when the clip is exactly one window long', () => {
    assert.deepEqual(frontendShape(resolveFrontendSettings({ sample_length_ms: 25 })), { height: 1, width: 32 });
  });
});

describe('frontend settings validation', () => {
  it('rejects an unknown key and lists the valid names', () => {
    rejects({ sample_rate: 16000 }, 'sample_rate', /unknown frontend setting.*sample_rate_hz/);
  });

  it('rejects a non-object', () => {
    assert.throws(() => resolveFrontendSettings([] as unknown as Partial<FrontendSettings>), FrontendSettingsError);
    assert.throws(() => resolveFrontendSettings('x' as unknown as Partial<FrontendSettings>), FrontendSettingsError);
  });

  it('rejects a string where a number is expected', () => {
    rejects({ sample_rate_hz: '16000' }, 'sample_rate_hz', /finite number/);
  });

  it('rejects a fractional value for an integer setting', () => {
    rejects({ filterbank_n_channels: 32.5 }, 'filterbank_n_channels', /integer/);
  });

  it('rejects NaN and Infinity for float settings', () => {
    rejects({ pcan_offset: Number.NaN }, 'pcan_offset', /finite number/);
    rejects({ filterbank_upper_band_limit: Number.POSITIVE_INFINITY }, 'filterbank_upper_band_limit', /finite number/);
  });

  it('rejects a number where a boolean is expected', () => {
    rejects({ noise_reduction_enable: 1 }, 'noise_reduction_enable', /true or false/);
  });

  it('rejects a non-positive or absurd sample rate', () => {
    rejects({ sample_rate_hz: 0 }, 'sample_rate_hz', /between 1 and 192000/);
    rejects({ sample_rate_hz: -16000 }, 'sample_rate_hz', /between 1 and 192000/);
    rejects({ sample_rate_hz: 192001 }, 'sample_rate_hz', /between 1 and 192000/);
  });

  it('rejects a non-positive clip length or one over 60 s', () => {
    rejects({ sample_length_ms: 0 }, 'sample_length_ms', /between 1 and 60000/);
    rejects({ sample_length_ms: 60001 }, 'sample_length_ms', /between 1 and 60000/);
  });

  it('rejects a non-positive window size', () => {
    rejects({ window_size_ms: 0 }, 'window_size_ms', /between 1/);
  });

  it('rejects a window of fewer than 3 samples', () => {
    rejects({ sample_rate_hz: 1000, window_size_ms: 2, window_step_ms: 1, filterbank_upper_band_limit: 400, filterbank_lower_band_limit: 10 }, 'window_size_ms', /at least 3/);
  });

  it('rejects a window longer than 32768 samples', () => {
    rejects({ sample_rate_hz: 48000, window_size_ms: 1000, sample_length_ms: 2000 }, 'window_size_ms', /at most 32768/);
  });

  it('rejects a window step of 0 ms', () => {
    rejects({ window_step_ms: 0 }, 'window_step_ms', /between 1/);
  });

  it('rejects a window step that truncates to 0 samples', () => {
    rejects(
      { sample_rate_hz: 500, window_size_ms: 100, window_step_ms: 1, filterbank_upper_band_limit: 200, filterbank_lower_band_limit: 20 },
      'window_step_ms',
      /step of 0 samples.*increase window_step_ms/,
    );
  });

  it('rejects a window step larger than the window', () => {
    rejects({ window_step_ms: 30 }, 'window_step_ms', /exceeds the window.*at most window_size_ms/);
  });

  it('rejects a clip shorter than one window', () => {
    rejects({ sample_length_ms: 20 }, 'sample_length_ms', /shorter than one window.*at least window_size_ms/);
  });

  it('rejects zero, negative and more than 512 channels', () => {
    rejects({ filterbank_n_channels: 0 }, 'filterbank_n_channels', /between 1 and 512/);
    rejects({ filterbank_n_channels: -4 }, 'filterbank_n_channels', /between 1 and 512/);
    rejects({ filterbank_n_channels: 513 }, 'filterbank_n_channels', /between 1 and 512/);
  });

  it('rejects settings that would produce more than 2^24 output values', () => {
    rejects(
      { sample_rate_hz: 192000, sample_length_ms: 60000, window_size_ms: 1, window_step_ms: 1, filterbank_n_channels: 512, filterbank_upper_band_limit: 90000 },
      'window_step_ms',
      /more than 16777216/,
    );
  });

  it('rejects a lower band limit equal to or above the upper one', () => {
    rejects({ filterbank_lower_band_limit: 7500 }, 'filterbank_lower_band_limit', /must be below filterbank_upper_band_limit/);
    rejects({ filterbank_lower_band_limit: 8000, filterbank_upper_band_limit: 7000 }, 'filterbank_lower_band_limit', /below/);
  });

  it('rejects a negative band limit', () => {
    rejects({ filterbank_lower_band_limit: -1 }, 'filterbank_lower_band_limit', /negative/);
    rejects({ filterbank_upper_band_limit: -100 }, 'filterbank_lower_band_limit', /below/);
  });

  it('rejects an upper band limit beyond Nyquist (end_index > spectrum_size)', () => {
    rejects({ filterbank_upper_band_limit: 9000 }, 'filterbank_upper_band_limit', /end_index > spectrum_size.*Nyquist frequency 8000/);
    rejects({ sample_rate_hz: 8000, filterbank_upper_band_limit: 7500 }, 'filterbank_upper_band_limit', /at most the Nyquist/);
  });

  it('accepts an upper band limit equal to Nyquist', () => {
    assert.doesNotThrow(() => resolveFrontendSettings({ filterbank_upper_band_limit: 8000 }));
  });

  it('rejects PCAN without noise reduction', () => {
    rejects({ pcan_enable: true }, 'pcan_enable', /noise_reduction_enable/);
  });

  it('rejects PCAN with smoothing bits below correction_bits', () => {
    rejects({ ...MICRO_SPEECH, noise_reduction_smoothing_bits: 2 }, 'noise_reduction_smoothing_bits', /correction_bits 3.*at least 3/);
  });

  it('rejects PCAN gain bits that make the SNR shift negative', () => {
    rejects({ ...MICRO_SPEECH, pcan_gain_bits: 14 }, 'pcan_gain_bits', /negative SNR shift.*at least 15/);
  });

  it('rejects a negative PCAN offset or strength', () => {
    rejects({ ...MICRO_SPEECH, pcan_offset: -1 }, 'pcan_offset', /negative/);
    rejects({ ...MICRO_SPEECH, pcan_strength: -0.5 }, 'pcan_strength', /negative/);
  });

  it('rejects smoothing bits outside 0..31', () => {
    rejects({ noise_reduction_smoothing_bits: 32 }, 'noise_reduction_smoothing_bits', /between 0 and 31/);
    rejects({ noise_reduction_smoothing_bits: -1 }, 'noise_reduction_smoothing_bits', /between 0 and 31/);
  });

  it('rejects noise reduction smoothing factors outside 0..1', () => {
    rejects({ noise_reduction_even_smoothing: 1.5 }, 'noise_reduction_even_smoothing', /between 0 and 1/);
    rejects({ noise_reduction_odd_smoothing: -0.1 }, 'noise_reduction_odd_smoothing', /between 0 and 1/);
    rejects({ noise_reduction_min_signal_remaining: 2 }, 'noise_reduction_min_signal_remaining', /between 0 and 1/);
  });

  it('rejects a DC notch coefficient of 1.0 or more', () => {
    rejects({ dc_notch_filter_coefficient: 1 }, 'dc_notch_filter_coefficient', /below 1\.0/);
    rejects({ dc_notch_filter_coefficient: 1.5 }, 'dc_notch_filter_coefficient', /below 1\.0/);
  });

  it('rejects a DC notch coefficient that rounds to 1.0 in float32', () => {
    rejects({ dc_notch_filter_coefficient: 0.99999999 }, 'dc_notch_filter_coefficient', /below 1\.0/);
  });

  it('rejects log_scale_shift outside 0..15', () => {
    rejects({ log_scale_shift: 16 }, 'log_scale_shift', /between 0 and 15/);
    rejects({ log_scale_shift: -1 }, 'log_scale_shift', /between 0 and 15/);
  });

  it('rejects activity detection alphas outside 0..1', () => {
    rejects({ activity_detection_alpha_a: 1.5 }, 'activity_detection_alpha_a', /between 0 and 1/);
    rejects({ activity_detection_alpha_b: -0.5 }, 'activity_detection_alpha_b', /between 0 and 1/);
  });

  it('rejects a negative dynamic quantization range', () => {
    rejects({ quantize_dynamic_scale_range_db: -1 }, 'quantize_dynamic_scale_range_db', /negative/);
  });

  it('accepts the sample rates the vectors cover', () => {
    for (const rate of [8000, 16000, 22050, 44100, 48000]) {
      assert.doesNotThrow(() => resolveFrontendSettings({ sample_rate_hz: rate, filterbank_upper_band_limit: 3800 }), `${rate}`);
    }
  });
});

describe('settingsHash', () => {
  it('is a sha256 hex digest', () => {
    assert.match(settingsHash(resolveFrontendSettings(undefined)), /^[0-9a-f]{64}$/);
  });

  it('does not depend on key order or on defaults being spelled out', () => {
    const a = resolveFrontendSettings(MICRO_SPEECH);
    const reversed = Object.fromEntries(Object.entries(a).reverse()) as unknown as FrontendSettings;
    assert.equal(settingsHash(reversed), settingsHash(a));
    assert.equal(settingsHash(resolveFrontendSettings({ sample_rate_hz: 16000 })), settingsHash(resolveFrontendSettings({})));
  });

  it('changes when any setting changes', () => {
    const base = resolveFrontendSettings(undefined);
    const seen = new Set([settingsHash(base)]);
    const changed: Partial<FrontendSettings>[] = [
      { sample_rate_hz: 8000, filterbank_upper_band_limit: 3800 },
      { filterbank_n_channels: 40 },
      { noise_reduction_enable: true },
      { pcan_offset: 81 },
      { quantize_dynamic_scale_range_db: 41 },
    ];
    for (const c of changed) seen.add(settingsHash(resolveFrontendSettings({ ...base, ...c })));
    assert.equal(seen.size, changed.length + 1);
  });

  it('rejects invalid settings instead of hashing them', () => {
    assert.throws(() => settingsHash({ ...DEFAULT_FRONTEND_SETTINGS, window_step_ms: 0 }), FrontendSettingsError);
  });
});

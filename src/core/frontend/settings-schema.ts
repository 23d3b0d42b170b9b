/**
 * JSON schema of MLTK's AudioFeatureGeneratorSettings as the API takes them: every
 * field optional (defaults and cross-field checks live in src/frontend/settings.ts),
 * unknown fields rejected.
 */
import { Type, type Static } from 'typebox';

const Int = (description: string) => Type.Optional(Type.Integer({ description }));
const Num = (description: string) => Type.Optional(Type.Number({ description }));
const Bool = (description: string) => Type.Optional(Type.Boolean({ description }));

export const FrontendSettingsSchema = Type.Object(
  {
    sample_rate_hz: Int('Sample rate the clips are resampled to (default 16000)'),
    sample_length_ms: Int('Clip length after pad/crop, in ms (default 1000)'),
    window_size_ms: Int('Frame length in ms (default 25)'),
    window_step_ms: Int('Frame step in ms (default 10)'),
    filterbank_n_channels: Int('Mel channels = spectrogram width (default 32)'),
    filterbank_upper_band_limit: Num('Upper band limit in Hz (default 7500)'),
    filterbank_lower_band_limit: Num('Lower band limit in Hz (default 125)'),
    noise_reduction_enable: Bool('Noise reduction (default false)'),
    noise_reduction_smoothing_bits: Int('default 10'),
    noise_reduction_even_smoothing: Num('default 0.025'),
    noise_reduction_odd_smoothing: Num('default 0.06'),
    noise_reduction_min_signal_remaining: Num('default 0.05'),
    pcan_enable: Bool('PCAN gain control, needs noise reduction (default false)'),
    pcan_strength: Num('default 0.95'),
    pcan_offset: Num('default 80'),
    pcan_gain_bits: Int('default 21'),
    log_scale_enable: Bool('default true'),
    log_scale_shift: Int('default 6'),
    activity_detection_enable: Bool('default false'),
    activity_detection_alpha_a: Num('default 0.5'),
    activity_detection_alpha_b: Num('default 0.8'),
    activity_detection_arm_threshold: Num('default 0.75'),
    activity_detection_trip_threshold: Num('default 0.8'),
    dc_notch_filter_enable: Bool('default false'),
    dc_notch_filter_coefficient: Num('default 0.95'),
    quantize_dynamic_scale_enable: Bool('Dynamic int8 quantization (default false)'),
    quantize_dynamic_scale_range_db: Num('default 40'),
  },
  { additionalProperties: false, description: 'MLTK AudioFeatureGeneratorSettings (MLTK names)' },
);
export type FrontendSettingsInput = Static<typeof FrontendSettingsSchema>;

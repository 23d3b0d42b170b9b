// Frontend settings under MLTK's AudioFeatureGeneratorSettings names. Float
// settings are already rounded to float32, as the reference stores them.
#ifndef AUDIOFEED_SETTINGS_H_
#define AUDIOFEED_SETTINGS_H_

#include <cstdint>

namespace audiofeed {

struct FrontendSettings {
  int32_t sample_rate_hz = 16000;
  int32_t sample_length_ms = 1000;
  int32_t window_size_ms = 25;
  int32_t window_step_ms = 10;
  int32_t filterbank_n_channels = 32;
  float filterbank_upper_band_limit = 7500.0f;
  float filterbank_lower_band_limit = 125.0f;
  bool noise_reduction_enable = false;
  int32_t noise_reduction_smoothing_bits = 10;
  float noise_reduction_even_smoothing = 0.025f;
  float noise_reduction_odd_smoothing = 0.06f;
  float noise_reduction_min_signal_remaining = 0.05f;
  bool pcan_enable = false;
  float pcan_strength = 0.95f;
  float pcan_offset = 80.0f;
  int32_t pcan_gain_bits = 21;
  bool log_scale_enable = true;
  int32_t log_scale_shift = 6;
  bool activity_detection_enable = false;
  float activity_detection_alpha_a = 0.5f;
  float activity_detection_alpha_b = 0.8f;
  float activity_detection_arm_threshold = 0.75f;
  float activity_detection_trip_threshold = 0.8f;
  bool dc_notch_filter_enable = false;
  float dc_notch_filter_coefficient = 0.95f;
  bool quantize_dynamic_scale_enable = false;
  float quantize_dynamic_scale_range_db = 40.0f;
};

}  // namespace audiofeed

#endif  // AUDIOFEED_SETTINGS_H_

#include "frontend.h"

#include <algorithm>

#include "dc_notch.h"
#include "fixed_math.h"
#include "log_scale.h"
#include "window.h"

namespace audiofeed {
namespace {

// Upper bounds that keep allocations and integer arithmetic sane; far beyond
// anything MLTK is used with.
constexpr int64_t kMaxSampleLength = int64_t{1} << 26;
constexpr int kMaxFftSize = 1 << 16;
constexpr int kMaxChannels = 4096;

}  // namespace

std::unique_ptr<FrontendConfig> BuildFrontend(const FrontendSettings& s, std::string* error) {
  auto fail = [&](const std::string& msg) -> std::unique_ptr<FrontendConfig> {
    *error = msg;
    return nullptr;
  };
  if (s.sample_rate_hz < 1) return fail("sample_rate_hz must be a positive integer");
  if (s.sample_length_ms < 1) return fail("sample_length_ms must be a positive integer");
  if (s.window_size_ms < 1) return fail("window_size_ms must be a positive integer");
  if (s.window_step_ms < 1) return fail("window_step_ms must be a positive integer");
  if (s.filterbank_n_channels < 1 || s.filterbank_n_channels > kMaxChannels) {
    return fail("filterbank_n_channels must be between 1 and " + std::to_string(kMaxChannels));
  }
  const int64_t rate = s.sample_rate_hz;
  const int64_t sample_length = rate * s.sample_length_ms / 1000;
  const int64_t window_size = static_cast<int64_t>(s.window_size_ms) * rate / 1000;
  const int64_t window_step = static_cast<int64_t>(s.window_step_ms) * rate / 1000;
  if (sample_length > kMaxSampleLength) {
    return fail("sample_length_ms is too long: " + std::to_string(sample_length) + " samples exceeds the limit of " +
                std::to_string(kMaxSampleLength));
  }
  if (window_size < 2) return fail("window_size_ms gives a window of fewer than 2 samples at this sample_rate_hz");
  if (window_size > kMaxFftSize) return fail("window_size_ms gives a window longer than " + std::to_string(kMaxFftSize) + " samples");
  if (sample_length < window_size) {
    return fail("sample_length_ms (" + std::to_string(sample_length) + " samples) is shorter than window_size_ms (" +
                std::to_string(window_size) + " samples)");
  }
  if (window_step == 0) return fail("window_step_ms gives a step of 0 samples at this sample_rate_hz");
  if (window_step > window_size) return fail("window_step_ms must not exceed window_size_ms");
  if (s.noise_reduction_smoothing_bits < 0 || s.noise_reduction_smoothing_bits > 31) {
    return fail("noise_reduction_smoothing_bits must be between 0 and 31");
  }
  if (s.log_scale_shift < 0 || s.log_scale_shift > 31) return fail("log_scale_shift must be between 0 and 31");
  if (s.pcan_enable && !s.noise_reduction_enable) return fail("pcan_enable requires noise_reduction_enable");
  if (s.dc_notch_filter_enable && !(s.dc_notch_filter_coefficient < 1.0f)) {
    return fail("dc_notch_filter_coefficient must be below 1.0");
  }
  if (s.filterbank_lower_band_limit < 0.0f) return fail("filterbank_lower_band_limit must not be negative");

  auto cfg = std::make_unique<FrontendConfig>();
  cfg->settings = s;
  cfg->sample_length = static_cast<int>(sample_length);
  cfg->window_size = static_cast<int>(window_size);
  cfg->window_step = static_cast<int>(window_step);
  cfg->num_frames = static_cast<int>((sample_length - window_size) / window_step + 1);
  cfg->num_channels = s.filterbank_n_channels;
  int fft_size = 1;
  while (fft_size < window_size) fft_size <<= 1;
  cfg->fft_size = fft_size;
  cfg->spectrum_size = fft_size / 2 + 1;
  cfg->samples_consumed = cfg->window_size + (cfg->num_frames - 1) * cfg->window_step;
  cfg->correction_bits = BitLen32(static_cast<uint32_t>(fft_size)) - 1 - 6;

  if (s.pcan_enable) {
    const int input_bits = s.noise_reduction_smoothing_bits - cfg->correction_bits;
    if (input_bits < 0) {
      return fail("noise_reduction_smoothing_bits (" + std::to_string(s.noise_reduction_smoothing_bits) +
                  ") must be at least " + std::to_string(cfg->correction_bits) +
                  " (log2(fft_size) - 6) when pcan_enable is set");
    }
    const int snr_shift = s.pcan_gain_bits - cfg->correction_bits - 12;
    if (snr_shift < 0 || snr_shift > 63) {
      return fail("pcan_gain_bits gives an SNR shift of " + std::to_string(snr_shift) + "; it must be between " +
                  std::to_string(cfg->correction_bits + 12) + " and " + std::to_string(cfg->correction_bits + 75));
    }
  }

  std::string fb_error = BuildFilterbank(cfg->num_channels, s.filterbank_lower_band_limit,
                                         s.filterbank_upper_band_limit, s.sample_rate_hz, cfg->spectrum_size,
                                         &cfg->filterbank);
  if (!fb_error.empty()) return fail(fb_error);

  cfg->window = BuildWindow(cfg->window_size);
  cfg->fft = std::make_unique<FixedRealFft>(fft_size);
  cfg->noise_reduction =
      MakeNoiseReductionConfig(s.noise_reduction_smoothing_bits, s.noise_reduction_even_smoothing,
                               s.noise_reduction_odd_smoothing, s.noise_reduction_min_signal_remaining);
  if (s.pcan_enable) {
    cfg->pcan = MakePcanConfig(s.pcan_strength, s.pcan_offset, s.pcan_gain_bits, s.noise_reduction_smoothing_bits,
                               cfg->correction_bits);
  }
  cfg->activity = MakeActivityDetectionConfig(cfg->num_channels, s.activity_detection_alpha_a,
                                              s.activity_detection_alpha_b, s.activity_detection_arm_threshold,
                                              s.activity_detection_trip_threshold);
  cfg->dc_notch_coef = DcNotchCoefficient(s.dc_notch_filter_coefficient);
  return cfg;
}

FrontendScratch::FrontendScratch(const FrontendConfig& cfg)
    : filtered(cfg.settings.dc_notch_filter_enable ? static_cast<size_t>(cfg.samples_consumed) : 0),
      windowed(static_cast<size_t>(cfg.window_size)),
      packed(static_cast<size_t>(cfg.fft_size / 2)),
      fft_work(static_cast<size_t>(cfg.fft_size / 2)),
      bins(static_cast<size_t>(cfg.spectrum_size)),
      accum_w(static_cast<size_t>(cfg.num_channels + 1)),
      accum_u(static_cast<size_t>(cfg.num_channels + 1)),
      signal(static_cast<size_t>(cfg.num_channels)),
      noise_estimate(static_cast<size_t>(cfg.num_channels)) {}

bool ProcessClip(const FrontendConfig& cfg, const int16_t* pcm, uint16_t* out, FrontendScratch* sc) {
  const FrontendSettings& s = cfg.settings;
  const int channels = cfg.num_channels;
  const int16_t* source = pcm;
  if (s.dc_notch_filter_enable) {
    // Only consumed samples pass through the notch; it runs once, in stream order.
    DcNotchApply(cfg.dc_notch_coef, pcm, sc->filtered.data(), cfg.samples_consumed);
    source = sc->filtered.data();
  }
  std::fill(sc->noise_estimate.begin(), sc->noise_estimate.end(), 0u);
  ActivityDetectionState activity;
  uint32_t* signal = sc->signal.data();

  for (int f = 0; f < cfg.num_frames; ++f) {
    const int shift = WindowAndScale(source + static_cast<size_t>(f) * cfg.window_step, cfg.window.data(),
                                     cfg.window_size, cfg.fft_size, sc->windowed.data(), sc->packed.data());
    cfg.fft->Run(sc->packed.data(), sc->fft_work.data(), sc->bins.data());
    FilterbankApply(cfg.filterbank, sc->bins.data(), shift, sc->accum_w.data(), sc->accum_u.data(), signal);
    if (s.activity_detection_enable) ActivityDetectionUpdate(cfg.activity, channels, signal, &activity);
    if (s.noise_reduction_enable) {
      NoiseReductionApply(cfg.noise_reduction, channels, sc->noise_estimate.data(), signal);
      if (s.pcan_enable) PcanApply(cfg.pcan, channels, sc->noise_estimate.data(), signal);
    }
    LogScaleApply(s.log_scale_enable, s.log_scale_shift, cfg.correction_bits, channels, signal,
                  out + static_cast<size_t>(f) * channels);
  }
  return activity.tripped;
}

}  // namespace audiofeed

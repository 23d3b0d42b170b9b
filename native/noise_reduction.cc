#include "noise_reduction.h"

#include "fixed_math.h"

namespace audiofeed {

NoiseReductionConfig MakeNoiseReductionConfig(int smoothing_bits, float even, float odd, float min_remaining) {
  NoiseReductionConfig c;
  c.smoothing_bits = smoothing_bits;
  c.even_smoothing = JsToUint32(static_cast<double>(even) * 16384.0);
  c.odd_smoothing = JsToUint32(static_cast<double>(odd) * 16384.0);
  c.min_signal_remaining = JsToUint32(static_cast<double>(min_remaining) * 16384.0);
  return c;
}

void NoiseReductionApply(const NoiseReductionConfig& cfg, int num_channels, uint32_t* estimate, uint32_t* signal) {
  const int bits = cfg.smoothing_bits;
  for (int i = 0; i < num_channels; ++i) {
    const uint32_t sm = (i & 1) ? cfg.odd_smoothing : cfg.even_smoothing;
    const uint32_t one_minus = 16384u - sm;
    const uint32_t up = signal[i] << bits;
    estimate[i] = static_cast<uint32_t>(
        (static_cast<uint64_t>(up) * sm + static_cast<uint64_t>(estimate[i]) * one_minus) >> 14);
    const uint32_t e = estimate[i] < up ? estimate[i] : up;
    const uint32_t floor_value =
        static_cast<uint32_t>((static_cast<uint64_t>(signal[i]) * cfg.min_signal_remaining) >> 14);
    const uint32_t subtracted = (up - e) >> bits;
    signal[i] = subtracted > floor_value ? subtracted : floor_value;
  }
}

}  // namespace audiofeed

// Per-channel spectral noise subtraction (frontend.md section 9).
#ifndef AUDIOFEED_NOISE_REDUCTION_H_
#define AUDIOFEED_NOISE_REDUCTION_H_

#include <cstdint>

namespace audiofeed {

struct NoiseReductionConfig {
  int smoothing_bits = 10;
  uint32_t even_smoothing = 0;  // Q14
  uint32_t odd_smoothing = 0;   // Q14
  uint32_t min_signal_remaining = 0;  // Q14
};

NoiseReductionConfig MakeNoiseReductionConfig(int smoothing_bits, float even, float odd, float min_remaining);

// Updates `estimate` (num_channels, zeroed at clip start) and `signal` in place.
void NoiseReductionApply(const NoiseReductionConfig& cfg, int num_channels, uint32_t* estimate, uint32_t* signal);

}  // namespace audiofeed

#endif  // AUDIOFEED_NOISE_REDUCTION_H_

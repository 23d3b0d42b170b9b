// Per-channel amplitude normalisation (frontend.md section 10).
#ifndef AUDIOFEED_PCAN_H_
#define AUDIOFEED_PCAN_H_

#include <cstdint>

namespace audiofeed {

struct PcanConfig {
  int snr_shift = 0;
  int16_t lut0 = 0;  // g(0)
  int16_t lut1 = 0;  // g(1)
  // Interval k (2..32) at index k: base value and interpolation slopes.
  int16_t y0[33] = {};
  int16_t a1[33] = {};
  int16_t a2[33] = {};
};

PcanConfig MakePcanConfig(float strength, float offset, int gain_bits, int smoothing_bits, int correction_bits);

// Uses the noise estimates after this frame's noise-reduction update.
void PcanApply(const PcanConfig& cfg, int num_channels, const uint32_t* noise_estimate, uint32_t* signal);

}  // namespace audiofeed

#endif  // AUDIOFEED_PCAN_H_

// Mel filterbank (frontend.md section 7): table construction with the
// reference's float32/double rounding points, and the per-frame
// accumulation + rounded square root.
#ifndef AUDIOFEED_FILTERBANK_H_
#define AUDIOFEED_FILTERBANK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fft.h"

namespace audiofeed {

struct FilterbankTables {
  int num_channels = 0;
  int start_index = 0;
  int end_index = 0;
  // band_end[c] = one past the last bin of band c (band 0 starts at start_index).
  std::vector<int> band_end;
  // Indexed by bin; only [start_index, end_index) is meaningful.
  std::vector<int16_t> weights;
  std::vector<int16_t> unweights;
};

// Returns an empty string on success, else why the band limits are invalid.
std::string BuildFilterbank(int num_channels, float lower_band_limit, float upper_band_limit, int sample_rate_hz,
                            int spectrum_size, FilterbankTables* out);

// Writes num_channels values: rounded sqrt of each channel's energy >> shift.
// `accum` needs num_channels + 1 entries of scratch.
void FilterbankApply(const FilterbankTables& fb, const Cpx16* bins, int shift, uint64_t* accum_w, uint64_t* accum_u,
                     uint32_t* out);

// floor(sqrt(v)) rounded to nearest, capped at 65535 for v < 2^32.
uint32_t RoundedSqrt64(uint64_t v);

}  // namespace audiofeed

#endif  // AUDIOFEED_FILTERBANK_H_

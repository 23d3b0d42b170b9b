#include "filterbank.h"

#include <cmath>

#include "fixed_math.h"

namespace audiofeed {
namespace {

// mel(f) with f a float32: double division, log1p and product, float32 result.
inline float Mel(float f) { return static_cast<float>(1127.0 * std::log1p(static_cast<double>(f) / 700.0)); }

inline float BinFreq(int bin, float hz_per_bin) {
  return static_cast<float>(static_cast<double>(bin) * static_cast<double>(hz_per_bin));
}

}  // namespace

std::string BuildFilterbank(int num_channels, float lower_band_limit, float upper_band_limit, int sample_rate_hz,
                            int spectrum_size, FilterbankTables* out) {
  const int n = num_channels;
  const float mel_lo = Mel(lower_band_limit);
  const float mel_hi = Mel(upper_band_limit);
  const float span = mel_hi - mel_lo;
  const float spacing = span / static_cast<float>(n + 1);
  std::vector<float> center(static_cast<size_t>(n + 1));
  for (int c = 0; c <= n; ++c) {
    center[static_cast<size_t>(c)] = mel_lo + spacing * static_cast<float>(c + 1);
  }
  const float hz_per_bin =
      static_cast<float>(0.5 * static_cast<double>(sample_rate_hz) / static_cast<double>(spectrum_size - 1));
  const float lo_bins = lower_band_limit / hz_per_bin;
  const double start = 1.5 + static_cast<double>(lo_bins);
  if (!(start < static_cast<double>(spectrum_size) + 1.0)) {
    return "filterbank_lower_band_limit is above the Nyquist frequency";
  }
  const int start_index = static_cast<int>(std::trunc(start));

  out->num_channels = n;
  out->start_index = start_index;
  out->band_end.assign(static_cast<size_t>(n + 1), start_index);
  out->weights.assign(static_cast<size_t>(spectrum_size + 1), 0);
  out->unweights.assign(static_cast<size_t>(spectrum_size + 1), 0);

  int bin = start_index;
  for (int c = 0; c <= n; ++c) {
    const float centre = center[static_cast<size_t>(c)];
    const float prev = c == 0 ? mel_lo : center[static_cast<size_t>(c - 1)];
    // Stop one past spectrum_size: that already proves the settings invalid
    // and keeps absurd band limits from looping for long.
    while (bin <= spectrum_size) {
      const float mel_b = Mel(BinFreq(bin, hz_per_bin));
      if (!(mel_b <= centre)) break;
      const float wt = (centre - mel_b) / (centre - prev);
      const double wtd = static_cast<double>(wt);
      if (bin < spectrum_size) {
        out->weights[static_cast<size_t>(bin)] = JsToInt16(std::floor(wtd * 4096.0 + 0.5));
        out->unweights[static_cast<size_t>(bin)] = JsToInt16(std::floor((1.0 - wtd) * 4096.0 + 0.5));
      }
      ++bin;
    }
    out->band_end[static_cast<size_t>(c)] = bin;
  }
  out->end_index = bin;
  if (out->end_index > spectrum_size) {
    return "filterbank_upper_band_limit needs FFT bins up to " + std::to_string(out->end_index) +
           " but the spectrum has only " + std::to_string(spectrum_size) +
           " bins (the upper band limit must not exceed sample_rate_hz / 2)";
  }
  return std::string();
}

uint32_t RoundedSqrt64(uint64_t v) {
  if (v == 0) return 0;
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<double>(v)));
  // The double estimate can be off by one for large v; fix it exactly.
  while (r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  if (v < (uint64_t{1} << 32) && r == 65535) return 65535;
  if (v - r * r > r) ++r;
  return static_cast<uint32_t>(r);
}

void FilterbankApply(const FilterbankTables& fb, const Cpx16* bins, int shift, uint64_t* accum_w, uint64_t* accum_u,
                     uint32_t* out) {
  const int16_t* w = fb.weights.data();
  const int16_t* u = fb.unweights.data();
  int bin = fb.start_index;
  for (int c = 0; c <= fb.num_channels; ++c) {
    const int end = fb.band_end[static_cast<size_t>(c)];
    uint64_t aw = 0;
    uint64_t au = 0;
    for (; bin < end; ++bin) {
      const int32_t re = bins[bin].r;
      const int32_t im = bins[bin].i;
      const uint64_t energy = static_cast<uint64_t>(static_cast<uint32_t>(re * re) + static_cast<uint32_t>(im * im));
      aw += static_cast<uint64_t>(static_cast<int64_t>(w[bin])) * energy;
      au += static_cast<uint64_t>(static_cast<int64_t>(u[bin])) * energy;
    }
    accum_w[c] = aw;
    accum_u[c] = au;
  }
  for (int i = 0; i < fb.num_channels; ++i) {
    out[i] = RoundedSqrt64(accum_w[i + 1] + accum_u[i]) >> shift;
  }
}

}  // namespace audiofeed

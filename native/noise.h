// Coloured noise (MLTK's levels and the peak-normalised ones) and the
// FastGaussian normals behind it: the twin of src/core/audio/noise.ts, giving
// the same bits (xoshiro128** + polar method with detmath log, the same FFT).
#ifndef AUDIOFEED_NOISE_H_
#define AUDIOFEED_NOISE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace audiofeed {
namespace dsp {

// The order of NOISE_COLORS in noise.ts.
enum class NoiseColor : int { kWhite = 0, kBrown = 1, kBlue = 2, kPink = 3, kViolet = 4 };

class FastGaussian {
 public:
  explicit FastGaussian(const uint32_t seed[4]);
  double Gauss();

 private:
  uint32_t Next();
  double Signed() { return (static_cast<double>(Next()) + 0.5) * (2 / 4294967296.0) - 1; }
  uint32_t a_, b_, c_, d_;
  double spare_ = 0;
  bool has_spare_ = false;
};

struct NoiseScratch {
  std::vector<double> spec, re, im, y;
};

// MLTK's _get_color_noise for a sample of n values with range [lo, hi] (noise.ts mltkColourNoise).
void MltkColourNoise(NoiseColor color, size_t n, double lo, double hi, const uint32_t seed[4], NoiseScratch* s,
                     std::vector<float>* out);

// Noise of n samples at peak 1 (noise.ts peakColourNoise).
void PeakColourNoise(NoiseColor color, size_t n, const uint32_t seed[4], NoiseScratch* s, std::vector<float>* out);

}  // namespace dsp
}  // namespace audiofeed

#endif  // AUDIOFEED_NOISE_H_

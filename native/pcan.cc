#include "pcan.h"

#include <cmath>

#include "fixed_math.h"

namespace audiofeed {
namespace {

struct GainCurve {
  float input_scale;  // f32(2^input_bits)
  float offset;
  float neg_strength;
  float gain_scale;  // f32(2^gain_bits)

  int16_t operator()(uint32_t x) const {
    const float xf = static_cast<float>(x) / input_scale;
    const float base = xf + offset;
    const float powered = static_cast<float>(std::pow(static_cast<double>(base), static_cast<double>(neg_strength)));
    const float gf = gain_scale * powered;
    if (gf > 32767.0f) return 32767;
    return JsToInt16(static_cast<double>(static_cast<float>(static_cast<double>(gf) + 0.5)));
  }
};

}  // namespace

PcanConfig MakePcanConfig(float strength, float offset, int gain_bits, int smoothing_bits, int correction_bits) {
  PcanConfig c;
  c.snr_shift = gain_bits - correction_bits - 12;
  const int input_bits = smoothing_bits - correction_bits;
  const GainCurve g{static_cast<float>(std::ldexp(1.0, input_bits)), offset, -strength,
                    static_cast<float>(std::ldexp(1.0, gain_bits))};
  c.lut0 = g(0);
  c.lut1 = g(1);
  for (int k = 2; k <= 32; ++k) {
    const uint32_t x0 = uint32_t{1} << (k - 1);
    const uint32_t x1 = x0 + x0 / 2;
    const uint32_t x2 = (k == 32) ? x0 + (x0 - 1) : 2 * x0;
    const int32_t y0 = g(x0);
    const int32_t y1 = g(x1);
    const int32_t y2 = g(x2);
    const int32_t d1 = y1 - y0;
    const int32_t d2 = y2 - y0;
    const int32_t a1 = 4 * d1 - d2;
    const int32_t a2 = d2 - a1;
    c.y0[k] = static_cast<int16_t>(y0);
    c.a1[k] = Wrap16(a1);
    c.a2[k] = Wrap16(a2);
  }
  return c;
}

namespace {

inline int16_t Gain(const PcanConfig& c, uint32_t x) {
  if (x == 0) return c.lut0;
  if (x == 1) return c.lut1;
  if (x == 2) return c.y0[2];
  const int k = BitLen32(x);
  const int32_t frac = static_cast<int32_t>(((k < 11) ? (x << (11 - k)) : (x >> (k - 11))) & 0x3FF);
  int32_t r = (static_cast<int32_t>(c.a2[k]) * frac) >> 5;
  r += static_cast<int32_t>(c.a1[k]) * 32;
  r = static_cast<int32_t>(static_cast<uint32_t>(r) * static_cast<uint32_t>(frac));
  r = static_cast<int32_t>(static_cast<uint32_t>(r) + 16384u) >> 15;
  return Wrap16(r + c.y0[k]);
}

}  // namespace

void PcanApply(const PcanConfig& cfg, int num_channels, const uint32_t* noise_estimate, uint32_t* signal) {
  for (int i = 0; i < num_channels; ++i) {
    // The reference reads the gain as unsigned (matters only for a negative gain).
    const uint32_t gain = static_cast<uint32_t>(static_cast<int32_t>(Gain(cfg, noise_estimate[i])));
    const uint32_t snr = static_cast<uint32_t>((static_cast<uint64_t>(signal[i]) * gain) >> cfg.snr_shift);
    signal[i] = snr < 8192 ? (snr * snr) >> 20 : (snr >> 6) - 64;
  }
}

}  // namespace audiofeed

#include "window.h"

#include <cmath>

#include "fixed_math.h"

namespace audiofeed {

std::vector<int16_t> BuildWindow(int window_size) {
  std::vector<int16_t> c(static_cast<size_t>(window_size));
  // The rounding points (double product, float32 store, float32 cosine) are
  // the reference's; changing any of them changes some coefficients.
  const float arg = static_cast<float>(2.0 * M_PI / static_cast<double>(window_size));
  for (int i = 0; i < window_size; ++i) {
    const float phase = static_cast<float>(static_cast<double>(arg) * (static_cast<double>(i) + 0.5));
    const float cosine = static_cast<float>(std::cos(static_cast<double>(phase)));
    const float v = static_cast<float>(0.5 - 0.5 * static_cast<double>(cosine));
    c[static_cast<size_t>(i)] = JsToInt16(std::floor(static_cast<double>(v) * 4096.0 + 0.5));
  }
  return c;
}

int WindowAndScale(const int16_t* samples, const int16_t* coefficients, int window_size, int fft_size,
                   int16_t* windowed, Cpx16* packed_out) {
  int32_t max_abs = 0;
  for (int i = 0; i < window_size; ++i) {
    const int16_t w = Wrap16((static_cast<int32_t>(samples[i]) * coefficients[i]) >> 12);
    windowed[i] = w;
    // -32768 negates to itself and so never wins the maximum (reference quirk).
    const int32_t a = w < 0 ? Wrap16(-static_cast<int32_t>(w)) : w;
    if (a > max_abs) max_abs = a;
  }
  const int shift = 15 - BitLen32(static_cast<uint32_t>(max_abs));
  // Scale into the FFT's packed complex layout: sample 2j is re, 2j+1 is im.
  auto scaled = [&](int i) -> int16_t {
    if (i >= window_size) return 0;
    return Wrap16(static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(windowed[i])) << shift));
  };
  const int half = fft_size / 2;
  for (int j = 0; j < half; ++j) {
    packed_out[j].r = scaled(2 * j);
    packed_out[j].i = scaled(2 * j + 1);
  }
  return shift;
}

}  // namespace audiofeed

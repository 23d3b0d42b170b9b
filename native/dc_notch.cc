#include "dc_notch.h"

#include "fixed_math.h"

namespace audiofeed {

int16_t DcNotchCoefficient(float coefficient) { return JsToInt16(static_cast<double>(coefficient) * 32768.0); }

void DcNotchApply(int16_t k, const int16_t* in, int16_t* out, int count) {
  int32_t prev_in = 0;
  int32_t prev_out = 0;
  for (int n = 0; n < count; ++n) {
    const int32_t x = in[n];
    // The difference wraps in int16, as in the reference (full-scale square waves).
    const int32_t d = Wrap16(x - prev_in);
    const int32_t p = static_cast<int32_t>(k) * prev_out;
    const int16_t y = Wrap16(d + (((p >> 14) + 1) >> 1));
    prev_in = x;
    prev_out = y;
    out[n] = y;
  }
}

}  // namespace audiofeed

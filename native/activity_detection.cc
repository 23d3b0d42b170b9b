#include "activity_detection.h"

#include "fixed_math.h"

namespace audiofeed {

ActivityDetectionConfig MakeActivityDetectionConfig(int num_channels, float alpha_a, float alpha_b, float arm,
                                                    float trip) {
  ActivityDetectionConfig c;
  int scale = 0;  // ceil(log2(num_channels)), exact for integers
  while ((int64_t{1} << scale) < num_channels) ++scale;
  c.scale = scale;
  c.alpha_a = JsToInt16(static_cast<double>(alpha_a) * 256.0);
  c.alpha_b = JsToInt16(static_cast<double>(alpha_b) * 256.0);
  c.arm_threshold = JsToInt32(static_cast<double>(arm) * 4096.0);
  c.trip_threshold = JsToInt32(static_cast<double>(trip) * 4096.0);
  return c;
}

namespace {

// Y_new = ((((256 - K) * x + K * Y_old) >> 7) + 1) >> 1; each product is
// 32-bit in the reference, their sum 64-bit, the result an int32.
inline int64_t OnePole(int32_t k, uint32_t x, int64_t y_old) {
  const int64_t p1 = static_cast<int32_t>(static_cast<uint32_t>(256 - k) * x);
  const int64_t p2 = static_cast<int32_t>(static_cast<uint32_t>(k) * static_cast<uint32_t>(y_old));
  return static_cast<int32_t>((((p1 + p2) >> 7) + 1) >> 1);
}

}  // namespace

void ActivityDetectionUpdate(const ActivityDetectionConfig& cfg, int num_channels, const uint32_t* signal,
                             ActivityDetectionState* st) {
  uint32_t sum = 0;
  for (int i = 0; i < num_channels; ++i) sum += signal[i];
  const uint32_t x = sum >> cfg.scale;
  st->a = OnePole(cfg.alpha_a, x, st->a);
  st->b = OnePole(cfg.alpha_b, x, st->b);
  if (!st->armed) {
    if (st->a < ((st->b * cfg.arm_threshold) >> 12)) st->armed = true;
  } else if (st->a > ((st->b * cfg.trip_threshold) >> 12)) {
    st->armed = false;
    st->tripped = true;
  }
}

}  // namespace audiofeed

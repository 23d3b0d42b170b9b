#include "log_scale.h"

#include "fixed_math.h"

namespace audiofeed {
namespace {

constexpr uint16_t kLogLut[130] = {
    0,    224,  442,  654,  861,  1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
    3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001, 5063,
    5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640,
    5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203,
    5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935,
    3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971,
    1851, 1729, 1605, 1480, 1353, 1224, 1094, 963,  830,  695,  559,  421,  282,  142,  0,    0};

constexpr uint64_t kLn2Q16 = 45426;

}  // namespace

uint32_t FixedLog(uint32_t x, int scale_shift) {
  const int ip = BitLen32(x) - 1;
  int32_t frac = static_cast<int32_t>(x - (uint32_t{1} << ip));
  if (ip < 16) {
    frac = static_cast<int32_t>(static_cast<uint32_t>(frac) << (16 - ip));
  } else {
    frac >>= (ip - 16);
  }
  const int32_t seg = frac >> 9;
  const int32_t c0 = kLogLut[seg];
  const int32_t c1 = kLogLut[seg + 1];
  const int32_t frac2 = frac + c0 + (((c1 - c0) * (frac - seg * 512)) >> 16);
  const uint32_t log2q16 = static_cast<uint32_t>(ip) * 65536u + static_cast<uint32_t>(frac2);
  const uint32_t ln_q16 = static_cast<uint32_t>((kLn2Q16 * log2q16 + 32768u) >> 16);
  return ((ln_q16 << scale_shift) + 32768u) >> 16;
}

void LogScaleApply(bool enable_log, int scale_shift, int correction_bits, int num_channels, const uint32_t* signal,
                   uint16_t* out) {
  for (int i = 0; i < num_channels; ++i) {
    uint32_t v = signal[i];
    if (enable_log) {
      v = correction_bits < 0 ? v >> -correction_bits : v << correction_bits;
      v = v > 1 ? FixedLog(v, scale_shift) : 0;
    }
    out[i] = static_cast<uint16_t>(v < 65535u ? v : 65535u);
  }
}

}  // namespace audiofeed

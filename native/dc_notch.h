// One-pole DC notch on the int16 input stream (frontend.md section 4).
#ifndef AUDIOFEED_DC_NOTCH_H_
#define AUDIOFEED_DC_NOTCH_H_

#include <cstdint>

namespace audiofeed {

int16_t DcNotchCoefficient(float coefficient);

// Filters `count` samples in stream order from a reset state.
void DcNotchApply(int16_t k, const int16_t* in, int16_t* out, int count);

}  // namespace audiofeed

#endif  // AUDIOFEED_DC_NOTCH_H_

// Fixed-point natural log with a 128-segment correction table (frontend.md section 11).
#ifndef AUDIOFEED_LOG_SCALE_H_
#define AUDIOFEED_LOG_SCALE_H_

#include <cstdint>

namespace audiofeed {

// Converts one frame of channel values to the output row, clamped to 0..65535.
void LogScaleApply(bool enable_log, int scale_shift, int correction_bits, int num_channels, const uint32_t* signal,
                   uint16_t* out);

uint32_t FixedLog(uint32_t x, int scale_shift);

}  // namespace audiofeed

#endif  // AUDIOFEED_LOG_SCALE_H_

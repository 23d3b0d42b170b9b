// Q12 Hann window (frontend.md section 5) and the per-frame input scaling.
#ifndef AUDIOFEED_WINDOW_H_
#define AUDIOFEED_WINDOW_H_

#include <cstdint>
#include <vector>

#include "fft.h"

namespace audiofeed {

std::vector<int16_t> BuildWindow(int window_size);

// Windows `window_size` samples, picks the shift that normalises the frame's
// peak, and writes the scaled, zero-padded FFT input packed as complex pairs
// (fft_size / 2 entries). Returns the shift (0..15).
int WindowAndScale(const int16_t* samples, const int16_t* coefficients, int window_size, int fft_size,
                   int16_t* windowed_scratch, Cpx16* packed_out);

}  // namespace audiofeed

#endif  // AUDIOFEED_WINDOW_H_

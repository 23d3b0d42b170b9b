// Pitch shift and vocal-tract-length perturbation: the twin of
// src/core/audio/pitch.ts (the same kernel table, detmath sin and 2^x, the same
// operation order), giving the same bits.
#ifndef AUDIOFEED_PITCH_H_
#define AUDIOFEED_PITCH_H_

#include <cstddef>
#include <vector>

#include "stretch.h"

namespace audiofeed {
namespace dsp {

// Resample by `ratio` (target / source rate) into out_len samples.
void ResampleRatio(const float* x, size_t n, double ratio, size_t out_len, std::vector<double>* xd, std::vector<float>* out);

struct PitchScratch {
  StretchScratch stretch;
  std::vector<double> xd;
  std::vector<float> tmp;
  std::vector<double> map, re, im;
};

// Time stretch by `speed` and pitch shift by `steps` semitones (one vocoder pass).
void StretchAndShift(const float* y, size_t n, double speed, double steps, PitchScratch* s, std::vector<float>* out);

// VTLP by `alpha` at `sample_rate`; keeps the length.
void Vtlp(const float* y, size_t n, double sample_rate, double alpha, PitchScratch* s, std::vector<float>* out);

}  // namespace dsp
}  // namespace audiofeed

#endif  // AUDIOFEED_PITCH_H_

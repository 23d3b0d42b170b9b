// One clip's augmentation (spec §14 step 4), the twin of
// src/core/audio/augment/transforms.ts applyTransform: stretch and pitch shift,
// VTLP, resample to the target rate (libsoxr HQ, as the TypeScript path),
// librosa trim (detmath log10), crop/pad at the offset, loudness, coloured noise
// (MLTK's levels or peak 1), background noise. Every random number is drawn in
// TypeScript (draws.ts) and passed in, so the two give the same bits.
#ifndef AUDIOFEED_AUGMENT_H_
#define AUDIOFEED_AUGMENT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "noise.h"
#include "pitch.h"

namespace audiofeed {

// The numbers of one clip's TransformParams (draws.ts), in the order of
// AUGMENT_PARAM_FIELDS in src/core/frontend/augment-batch.ts.
struct ClipParams {
  double offset = 0;
  double loudness = 1;
  int noise_color = -1;  // dsp::NoiseColor, or -1 for none
  double noise_factor = 0;
  double bg_factor = 0;
  double speed = 1;
  double pitch = 0;
  double vtlp = 1;
  uint32_t noise_seed[4] = {0, 0, 0, 0};
};
constexpr size_t kClipParamCount = 12;
// Reads kClipParamCount doubles; false when one is out of its domain.
bool ReadClipParams(const double* v, ClipParams* p);

struct AugmentConfig {
  double sample_rate = 16000;  // sample_rate_hz
  size_t length = 16000;       // T
  bool trim = true;
  double top_db = 20;          // trunc(trim_threshold_db)
  bool mltk_noise = true;      // noise_color_level 'mltk' (else 'peak')
};

struct AugmentScratch {
  dsp::PitchScratch pitch;
  dsp::NoiseScratch noise;
  std::vector<float> a, b, resampled, noise_out;
  std::vector<double> levels;
};

enum class AugmentOutcome {
  kDone,
  kFallback,  // not computed here (e.g. the resampler refused): the caller runs the TypeScript twin
};

// x[0 .. n) at `rate` Hz -> out[0 .. config.length). bg_crop: config.length
// samples of background noise (backgroundNoiseCrop), or null.
AugmentOutcome ApplyTransform(const float* x, size_t n, double rate, const ClipParams& p, const AugmentConfig& config,
                              const float* bg_crop, AugmentScratch* s, float* out);

// librosa trim bounds of float samples with detmath's log10 (trim.ts trimBounds).
void TrimBoundsDet(const float* y, size_t n, double top_db, std::vector<double>* levels, size_t* start, size_t* end);

}  // namespace audiofeed

#endif  // AUDIOFEED_AUGMENT_H_

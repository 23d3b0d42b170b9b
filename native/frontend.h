// The whole per-clip pipeline: tables built once per settings
// (FrontendConfig), scratch owned per thread (FrontendScratch).
#ifndef AUDIOFEED_FRONTEND_H_
#define AUDIOFEED_FRONTEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "activity_detection.h"
#include "fft.h"
#include "filterbank.h"
#include "noise_reduction.h"
#include "pcan.h"
#include "settings.h"

namespace audiofeed {

struct FrontendConfig {
  FrontendSettings settings;
  int sample_length = 0;
  int window_size = 0;
  int window_step = 0;
  int num_frames = 0;  // H
  int num_channels = 0;  // W
  int fft_size = 0;
  int spectrum_size = 0;
  int samples_consumed = 0;
  int correction_bits = 0;
  std::vector<int16_t> window;
  std::unique_ptr<FixedRealFft> fft;
  FilterbankTables filterbank;
  NoiseReductionConfig noise_reduction;
  PcanConfig pcan;
  ActivityDetectionConfig activity;
  int16_t dc_notch_coef = 0;
};

// Validates the settings and builds every table. On invalid settings returns
// null and sets *error to a message that names the offending setting.
std::unique_ptr<FrontendConfig> BuildFrontend(const FrontendSettings& s, std::string* error);

class FrontendScratch {
 public:
  explicit FrontendScratch(const FrontendConfig& cfg);

 private:
  friend bool ProcessClip(const FrontendConfig& cfg, const int16_t* pcm, uint16_t* out, FrontendScratch* scratch);
  std::vector<int16_t> filtered;
  std::vector<int16_t> windowed;
  std::vector<Cpx16> packed;
  std::vector<Cpx16> fft_work;
  std::vector<Cpx16> bins;
  std::vector<uint64_t> accum_w;
  std::vector<uint64_t> accum_u;
  std::vector<uint32_t> signal;
  std::vector<uint32_t> noise_estimate;
};

// Processes one clip of cfg.sample_length samples from a reset state into
// num_frames * num_channels values. Returns the end-of-clip activity flag
// (false when activity detection is off).
bool ProcessClip(const FrontendConfig& cfg, const int16_t* pcm, uint16_t* out, FrontendScratch* scratch);

}  // namespace audiofeed

#endif  // AUDIOFEED_FRONTEND_H_

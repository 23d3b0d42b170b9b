// Energy-based activity detector (frontend.md section 8). Observes the
// filterbank output; never changes the spectrogram.
#ifndef AUDIOFEED_ACTIVITY_DETECTION_H_
#define AUDIOFEED_ACTIVITY_DETECTION_H_

#include <cstdint>

namespace audiofeed {

struct ActivityDetectionConfig {
  int scale = 0;
  int32_t alpha_a = 0;  // Q8
  int32_t alpha_b = 0;  // Q8
  int32_t arm_threshold = 0;   // Q12
  int32_t trip_threshold = 0;  // Q12
};

struct ActivityDetectionState {
  int64_t a = 0;
  int64_t b = 0;
  bool armed = false;
  bool tripped = false;
};

ActivityDetectionConfig MakeActivityDetectionConfig(int num_channels, float alpha_a, float alpha_b, float arm,
                                                    float trip);

void ActivityDetectionUpdate(const ActivityDetectionConfig& cfg, int num_channels, const uint32_t* signal,
                             ActivityDetectionState* state);

}  // namespace audiofeed

#endif  // AUDIOFEED_ACTIVITY_DETECTION_H_

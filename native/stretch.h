// Time stretch (librosa's phase vocoder over its default STFT) and the STFT
// helpers the pitch shifter and VTLP use: the twin of src/core/audio/stretch.ts,
// giving the same bits (same FFT, detmath window, same operation order). Input
// frames are computed when the vocoder first reads them and forgotten after, so
// memory is O(clip) instead of the TypeScript's O(frames x bins); the numbers
// are the same because every frame is computed the same way either way.
#ifndef AUDIOFEED_STRETCH_H_
#define AUDIOFEED_STRETCH_H_

#include <cstddef>
#include <vector>

namespace audiofeed {
namespace dsp {

constexpr size_t kStftNfft = 2048;
constexpr size_t kStftHop = 512;
constexpr size_t kStftBins = kStftNfft / 2 + 1;

// Periodic Hann window of kStftNfft (detmath cos), built once.
const double* HannWindow();

// Frames of librosa's centred STFT of n samples: 1 + n / hop.
inline size_t StftFrames(size_t n) { return 1 + n / kStftHop; }

// Frame t of the STFT of y[0 .. n) into re/im (kStftBins each).
void StftFrame(const float* y, size_t n, size_t t, double* buf, double* re, double* im);

// Python's round(x) (half to even).
double RoundHalfEven(double x);

// librosa istft with `length`: frames pushed one at a time, overlap-added with
// the window, normalised by the summed squared window.
class IstftWriter {
 public:
  // How many frames contribute to `length` output samples.
  static size_t FramesNeeded(size_t length, size_t available);
  void Reset(size_t length, size_t max_frames);
  void Push(const double* re, const double* im);
  // Writes `length` samples.
  void Finish(float* out) const;

 private:
  size_t length_ = 0;
  size_t max_frames_ = 0;
  size_t t_ = 0;
  std::vector<double> acc_;
  std::vector<double> wss_;
  std::vector<double> buf_;
};

// Scratch kept between clips by one thread.
struct StretchScratch {
  std::vector<double> buf, re, im;
  std::vector<double> mag[2], ur[2], ui[2];
  std::vector<double> pr, pi, ore, oim;
  IstftWriter writer;
};

// librosa effects.time_stretch(y, rate): round(n / rate) samples into *out.
void TimeStretch(const float* y, size_t n, double rate, StretchScratch* s, std::vector<float>* out);

}  // namespace dsp
}  // namespace audiofeed

#endif  // AUDIOFEED_STRETCH_H_

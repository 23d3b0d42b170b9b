// The per-clip audio steps before the frontend, for the input layout the
// service sees almost always: 16-bit PCM WAV, at the frontend's sample rate or
// (resampled with libsoxr, resample_soxr.h) at another one.
// Each step mirrors its TypeScript original (src/audio/wav.ts inspectWav and
// decodeWav, trim.ts trimBounds, adjust-length.ts adjustLength with offset 0,
// pcm.ts toInt16) so that every clip handled here gets the TypeScript bytes;
// anything else is left to the TypeScript pipeline (see the verdicts below).
#ifndef AUDIOFEED_CLIP_PIPELINE_H_
#define AUDIOFEED_CLIP_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace audiofeed {

// Longest clip (in frames) taken natively; longer ones go to TypeScript, so a
// batch never copies more than ~32 MiB per clip.
constexpr size_t kMaxNativeFrames = size_t{1} << 24;

// Where the first channel of a 16-bit PCM data chunk lies inside the file bytes.
struct Pcm16Layout {
  size_t data_offset = 0;
  size_t frames = 0;
  size_t block_align = 0;  // bytes per frame (2 * channels)
  uint32_t sample_rate = 0;  // the file's rate (Hz)
};

// Walks the RIFF chunks exactly as inspectWav does and returns true only when
// inspectWav would accept the file as integer PCM of 16 bits (plain or
// WAVE_FORMAT_EXTENSIBLE), at any rate it accepts, with 1..kMaxNativeFrames
// frames. Everything else (other encodings, and every malformed file) returns
// false: the caller runs the TypeScript pipeline, which decodes it or names the
// reason it is rejected.
bool FindPcm16(const uint8_t* bytes, size_t len, Pcm16Layout* layout);

// FindPcm16, and the file is at `sample_rate` Hz (no resampling needed).
bool FindPcm16(const uint8_t* bytes, size_t len, int32_t sample_rate, Pcm16Layout* layout);

// First-channel samples (little-endian int16) into dst[0 .. layout.frames).
void CopyFirstChannel(const uint8_t* bytes, const Pcm16Layout& layout, int16_t* dst);

// librosa-style trim decision (trim.ts trimBounds) for int16 samples y / 32768.
// The frame energies are exact (see the .cc); the dB comparison uses log10, whose
// last bit may differ from V8's Math.log10, so a frame within kTrimMargin dB of
// the threshold that could move the kept range makes the result kAmbiguous: the
// caller must then use the TypeScript trim.
enum class TrimVerdict { kExact, kAmbiguous };
constexpr double kTrimMargin = 1e-9;
TrimVerdict TrimBounds(const int16_t* y, size_t n, double top_db, std::vector<double>* levels, size_t* start,
                       size_t* end);

// The same for float samples (a resampled clip): trim.ts's frame sums in double,
// term by term and frame by frame in its order (no sliding window: the float
// sums are not exact), so the levels are trim.ts's bits; same kAmbiguous rule.
TrimVerdict TrimBounds(const float* y, size_t n, double top_db, std::vector<double>* levels, size_t* start,
                       size_t* end);

// adjustLength(untrimmed, untrimmed[start, end), T, offset 0) followed by toInt16
// (the identity on 16-bit PCM values). Returns a pointer to the T samples: into
// y itself when no padding is needed, else into pad (resized to T).
const int16_t* AdjustLength(const int16_t* y, size_t start, size_t end, size_t T, std::vector<int16_t>* pad);
const float* AdjustLength(const float* y, size_t start, size_t end, size_t T, std::vector<float>* pad);

// pcm.ts toInt16: x * 32768 truncated toward zero, clipped to [-32768, 32767], NaN -> 0.
void ToInt16(const float* x, size_t n, int16_t* out);

}  // namespace audiofeed

#endif  // AUDIOFEED_CLIP_PIPELINE_H_

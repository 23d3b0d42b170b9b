#include "clip_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace audiofeed {
namespace {

// wav.ts limits and constants.
constexpr uint32_t kMaxChannels = 64;
constexpr uint32_t kMaxSampleRate = 384000;
constexpr uint16_t kFormatPcm = 0x0001;
constexpr uint16_t kFormatExtensible = 0xfffe;
// Bytes 2..15 shared by every KSDATAFORMAT_SUBTYPE_* GUID derived from a format tag.
constexpr uint8_t kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                   0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

// trim.ts constants.
constexpr size_t kTrimFrameLength = 2048;
constexpr size_t kTrimHop = 512;
constexpr double kAmin = 1e-5;

uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t U32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
bool IdIs(const uint8_t* p, const char* id) { return std::memcmp(p, id, 4) == 0; }

// parseFmt, restricted to what is handled here: true only when parseFmt would
// accept the chunk as 16-bit integer PCM (every check it makes passes).
bool FmtIsPcm16(const uint8_t* f, size_t size, uint32_t* rate, size_t* block_align) {
  if (size < 16) return false;
  const uint16_t tag = U16(f);
  const uint16_t channels = U16(f + 2);
  const uint32_t sample_rate = U32(f + 4);
  const uint16_t align = U16(f + 12);
  const uint16_t bits = U16(f + 14);
  if (tag == kFormatExtensible) {
    if (size < 40) return false;
    if (U16(f + 24) != kFormatPcm || std::memcmp(f + 26, kGuidTail, sizeof kGuidTail) != 0) return false;
  } else if (tag != kFormatPcm) {
    return false;
  }
  if (channels < 1 || channels > kMaxChannels) return false;
  if (sample_rate < 1 || sample_rate > kMaxSampleRate) return false;
  if (bits != 16 || align != channels * 2u) return false;
  *rate = sample_rate;
  *block_align = align;
  return true;
}

}  // namespace

bool FindPcm16(const uint8_t* b, size_t len, Pcm16Layout* layout) {
  // Too short, not "RIFF", not "WAVE": inspectWav rejects all of these.
  if (len < 12 || !IdIs(b, "RIFF") || !IdIs(b + 8, "WAVE")) return false;
  const uint64_t riff_size = U32(b + 4);
  const size_t walk_end = riff_size < 4 ? len : static_cast<size_t>(std::min<uint64_t>(len, 8 + riff_size));
  bool have_fmt = false;
  bool have_data = false;
  uint32_t rate = 0;
  size_t block_align = 0;
  size_t data_offset = 0;
  size_t data_bytes = 0;
  size_t off = 12;
  while (off < walk_end && !(have_fmt && have_data)) {
    if (off + 8 > len) return false;  // truncated chunk header
    const uint8_t* id = b + off;
    const size_t size = U32(b + off + 4);
    const size_t body = off + 8;
    if (size > len - body) return false;  // chunk overruns the file
    if (IdIs(id, "fmt ") && !have_fmt) {
      if (!FmtIsPcm16(b + body, size, &rate, &block_align)) return false;
      have_fmt = true;
    } else if (IdIs(id, "data") && !have_data) {
      data_offset = body;
      data_bytes = size;
      have_data = true;
    }
    off = body + size + (size & 1);
  }
  if (!have_fmt || !have_data) return false;
  const size_t frames = data_bytes / block_align;
  if (frames == 0 || frames > kMaxNativeFrames) return false;
  layout->data_offset = data_offset;
  layout->frames = frames;
  layout->block_align = block_align;
  layout->sample_rate = rate;
  return true;
}

bool FindPcm16(const uint8_t* b, size_t len, int32_t sample_rate, Pcm16Layout* layout) {
  return sample_rate >= 1 && FindPcm16(b, len, layout) && layout->sample_rate == static_cast<uint32_t>(sample_rate);
}

void CopyFirstChannel(const uint8_t* bytes, const Pcm16Layout& layout, int16_t* dst) {
  const uint8_t* p = bytes + layout.data_offset;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (layout.block_align == 2) {
    std::memcpy(dst, p, layout.frames * 2);
    return;
  }
#endif
  for (size_t i = 0; i < layout.frames; ++i, p += layout.block_align) {
    dst[i] = static_cast<int16_t>(U16(p));
  }
}

namespace {

// The loud/quiet decision over the frame levels (shared by both sample types).
TrimVerdict DecideTrim(const double* level, size_t frames, double ref, size_t n, double top_db, size_t* start,
                       size_t* end) {
  // Loud when 20*log10(level) - 20*log10(ref) > -top_db. glibc's log10 and V8's
  // Math.log10 (fdlibm) may differ in the last bit or two, so a frame decides
  // here only when its level is farther than kTrimMargin dB from the threshold
  // (the two can differ by ~1e-13 dB: levels lie in [-100, 0] dB). A level equal
  // to ref is exactly 0 dB in both.
  const double ref_db = 20.0 * std::log10(ref);
  long first = -1;
  long last = -1;
  long amb_first = -1;
  long amb_last = -1;
  for (size_t t = 0; t < frames; ++t) {
    bool loud;
    if (level[t] == ref) {
      loud = 0.0 > -top_db;
    } else {
      const double margin = 20.0 * std::log10(level[t]) - ref_db + top_db;
      if (margin > kTrimMargin) {
        loud = true;
      } else if (margin < -kTrimMargin) {
        loud = false;
      } else {
        if (amb_first < 0) amb_first = static_cast<long>(t);
        amb_last = static_cast<long>(t);
        continue;
      }
    }
    if (loud) {
      if (first < 0) first = static_cast<long>(t);
      last = static_cast<long>(t);
    }
  }
  // An undecided frame matters only when it could become the first or the last loud one.
  if (amb_first >= 0 && !(first >= 0 && amb_first > first && amb_last < last)) return TrimVerdict::kAmbiguous;
  if (first < 0) {
    *start = 0;
    *end = 0;
  } else {
    *start = static_cast<size_t>(first) * kTrimHop;
    *end = std::min(n, static_cast<size_t>(last + 1) * kTrimHop);
  }
  return TrimVerdict::kExact;
}

}  // namespace

TrimVerdict TrimBounds(const int16_t* y, size_t n, double top_db, std::vector<double>* levels, size_t* start,
                       size_t* end) {
  // Frame energies. trim.ts sums (s/32768)^2 in doubles over the frame: every
  // term is s^2 * 2^-30 exactly, and every partial sum is an integer multiple of
  // 2^-30 below 2048 * 2^30 * 2^-30 (an integer below 2^41 < 2^53 units), so the
  // double sum is exact and equals this integer sum times 2^-30. A sliding
  // integer window gives the same bits in O(n).
  const size_t half = kTrimFrameLength / 2;
  const size_t frames = 1 + n / kTrimHop;
  levels->resize(frames);
  double* level = levels->data();
  int64_t acc = 0;
  size_t lo = 0;
  size_t hi = 0;
  double ref = kAmin;
  for (size_t t = 0; t < frames; ++t) {
    const size_t centre = t * kTrimHop;
    const size_t a = centre > half ? centre - half : 0;
    const size_t b = std::min(n, centre + half);
    for (; hi < b; ++hi) acc += static_cast<int64_t>(y[hi]) * y[hi];
    for (; lo < a; ++lo) acc -= static_cast<int64_t>(y[lo]) * y[lo];
    const double sum = static_cast<double>(acc) * 0x1p-30;
    double rms = std::sqrt(sum / static_cast<double>(kTrimFrameLength));  // sqrt is correctly rounded in both
    if (rms < kAmin) rms = kAmin;
    level[t] = rms;
    if (rms > ref) ref = rms;
  }
  return DecideTrim(level, frames, ref, n, top_db, start, end);
}

TrimVerdict TrimBounds(const float* y, size_t n, double top_db, std::vector<double>* levels, size_t* start,
                       size_t* end) {
  const size_t half = kTrimFrameLength / 2;
  const size_t frames = 1 + n / kTrimHop;
  levels->resize(frames);
  double* level = levels->data();
  double ref = kAmin;
  for (size_t t = 0; t < frames; ++t) {
    const size_t centre = t * kTrimHop;
    const size_t a = centre > half ? centre - half : 0;
    const size_t b = std::min(n, centre + half);
    double sum = 0.0;
    for (size_t i = a; i < b; ++i) {
      const double v = y[i];
      sum += v * v;  // exact product (24-bit mantissas); the sum rounds as trim.ts's does
    }
    double rms = std::sqrt(sum / static_cast<double>(kTrimFrameLength));
    if (rms < kAmin) rms = kAmin;
    level[t] = rms;
    if (rms > ref) ref = rms;
  }
  return DecideTrim(level, frames, ref, n, top_db, start, end);
}

namespace {

template <typename T>
const T* AdjustLengthOf(const T* y, size_t start, size_t end, size_t len, std::vector<T>* pad) {
  const size_t m = end - start;
  if (m > len) return y + start;  // crop, offset 0: the head of the kept part
  if (m == len) return y;         // MLTK quirk Q-18: the head of the *untrimmed* signal
  pad->assign(len, T{0});         // pad after, offset 0
  std::copy(y + start, y + end, pad->begin());
  return pad->data();
}

}  // namespace

const int16_t* AdjustLength(const int16_t* y, size_t start, size_t end, size_t T, std::vector<int16_t>* pad) {
  return AdjustLengthOf(y, start, end, T, pad);
}

const float* AdjustLength(const float* y, size_t start, size_t end, size_t T, std::vector<float>* pad) {
  return AdjustLengthOf(y, start, end, T, pad);
}

void ToInt16(const float* x, size_t n, int16_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]) * 32768.0;  // exact, as in pcm.ts
    out[i] = v >= 32767.0 ? int16_t{32767} : v <= -32768.0 ? int16_t{-32768} : v == v ? static_cast<int16_t>(std::trunc(v)) : int16_t{0};
  }
}

}  // namespace audiofeed

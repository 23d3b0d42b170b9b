#include "augment.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "detmath.h"
#include "resample_soxr.h"

namespace audiofeed {
namespace {

constexpr size_t kTrimFrameLength = 2048;
constexpr size_t kTrimHop = 512;
constexpr double kAmin = 1e-5;

bool IsUint32(double v) { return v >= 0 && v <= 4294967295.0 && std::trunc(v) == v; }

}  // namespace

bool ReadClipParams(const double* v, ClipParams* p) {
  for (size_t i = 0; i < kClipParamCount; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  p->offset = v[0];
  p->loudness = v[1];
  p->noise_factor = v[3];
  p->bg_factor = v[4];
  p->speed = v[5];
  p->pitch = v[6];
  p->vtlp = v[7];
  if (!(v[2] >= -1 && v[2] <= 4) || std::trunc(v[2]) != v[2]) return false;
  p->noise_color = static_cast<int>(v[2]);
  for (int k = 0; k < 4; ++k) {
    if (!IsUint32(v[8 + k])) return false;
    p->noise_seed[k] = static_cast<uint32_t>(v[8 + k]);
  }
  // Domains the transforms need (draws.ts never gives others).
  if (!(p->offset >= 0 && p->offset <= 1) || !(p->speed >= 0) || !(p->vtlp >= 0) || std::trunc(p->pitch) != p->pitch ||
      std::fabs(p->pitch) > 96) {
    return false;
  }
  return true;
}

void TrimBoundsDet(const float* y, size_t n, double top_db, std::vector<double>* levels, size_t* start, size_t* end) {
  const size_t half = kTrimFrameLength / 2;
  const size_t frames = 1 + n / kTrimHop;
  levels->resize(frames);
  double* level = levels->data();
  double ref = kAmin;
  // Each frame's sum runs over its samples in order, as trim.ts's; four frames
  // that lie wholly inside the signal are summed side by side (independent sums).
  size_t t = 0;
  while (t < frames) {
    const size_t centre = t * kTrimHop;
    if (t + 3 < frames && centre >= half && centre + 3 * kTrimHop + half <= n) {
      const float* p = y + (centre - half);
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = 0; i < kTrimFrameLength; ++i) {
        const double v0 = p[i];
        const double v1 = p[i + kTrimHop];
        const double v2 = p[i + 2 * kTrimHop];
        const double v3 = p[i + 3 * kTrimHop];
        s0 += v0 * v0;
        s1 += v1 * v1;
        s2 += v2 * v2;
        s3 += v3 * v3;
      }
      for (const double sum : {s0, s1, s2, s3}) {
        const double rms = std::max(std::sqrt(sum / static_cast<double>(kTrimFrameLength)), kAmin);
        level[t++] = rms;
        if (rms > ref) ref = rms;
      }
      continue;
    }
    const size_t a = centre > half ? centre - half : 0;
    const size_t b = std::min(n, centre + half);
    double sum = 0;
    for (size_t i = a; i < b; ++i) {
      const double v = y[i];
      sum += v * v;
    }
    const double rms = std::max(std::sqrt(sum / static_cast<double>(kTrimFrameLength)), kAmin);
    level[t++] = rms;
    if (rms > ref) ref = rms;
  }
  const double ref_db = 20 * detmath::Log10(ref);
  long first = -1;
  long last = -1;
  for (size_t t = 0; t < frames; ++t) {
    if (20 * detmath::Log10(level[t]) - ref_db > -top_db) {
      if (first < 0) first = static_cast<long>(t);
      last = static_cast<long>(t);
    }
  }
  if (first < 0) {
    *start = 0;
    *end = 0;
    return;
  }
  *start = static_cast<size_t>(first) * kTrimHop;
  *end = std::min(n, static_cast<size_t>(last + 1) * kTrimHop);
}

AugmentOutcome ApplyTransform(const float* x, size_t n, double rate, const ClipParams& p, const AugmentConfig& config,
                              const float* bg_crop, AugmentScratch* s, float* out) {
  const float* cur = x;
  size_t len = n;
  // Speed and pitch share one phase-vocoder pass.
  const double speed = p.speed == 0 ? 1 : p.speed;
  if (speed != 1 || p.pitch != 0) {
    dsp::StretchAndShift(cur, len, speed, p.pitch, &s->pitch, &s->a);
    cur = s->a.data();
    len = s->a.size();
  }
  if (p.vtlp != 1 && p.vtlp != 0) {
    dsp::Vtlp(cur, len, rate, p.vtlp, &s->pitch, &s->b);
    cur = s->b.data();
    len = s->b.size();
  }
  // Adjust length: resample, trim, crop/pad at the offset (load.ts prepareResolved).
  if (rate != config.sample_rate) {
    std::string error;
    if (!ResampleSoxrHQ(cur, len, rate, config.sample_rate, &s->resampled, &error)) return AugmentOutcome::kFallback;
    cur = s->resampled.data();
    len = s->resampled.size();
  }
  size_t start = 0;
  size_t end = len;
  if (config.trim) TrimBoundsDet(cur, len, config.top_db, &s->levels, &start, &end);
  const size_t T = config.length;
  const size_t m = end - start;
  if (m > T) {
    const size_t at = static_cast<size_t>(std::floor(static_cast<double>(m - T) * p.offset));
    std::copy(cur + start + at, cur + start + at + T, out);
  } else if (m < T) {
    const size_t at = static_cast<size_t>(std::floor(static_cast<double>(T - m) * p.offset));
    std::fill(out, out + T, 0.0f);
    std::copy(cur + start, cur + end, out + at);
  } else {
    std::copy(cur, cur + T, out);  // MLTK quirk Q-18: the head of the untrimmed signal
  }

  // numpy: float32 array * Python float casts the scalar to float32.
  if (p.loudness != 1) {
    const float loud = static_cast<float>(p.loudness);
    for (size_t i = 0; i < T; ++i) out[i] = out[i] * loud;
  }
  if (p.noise_color >= 0 && p.noise_factor > 0) {
    double lo = INFINITY;
    double hi = -INFINITY;
    for (size_t i = 0; i < T; ++i) {
      const double v = out[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const double g = static_cast<float>(p.noise_factor * p.loudness);
    const auto color = static_cast<dsp::NoiseColor>(p.noise_color);
    if (config.mltk_noise) {
      dsp::MltkColourNoise(color, T, lo, hi, p.noise_seed, &s->noise, &s->noise_out);
      const float* noise = s->noise_out.data();
      for (size_t i = 0; i < T; ++i) {
        out[i] = static_cast<float>(static_cast<double>(out[i]) + static_cast<double>(static_cast<float>(noise[i] * g)));
      }
    } else {
      dsp::PeakColourNoise(color, T, p.noise_seed, &s->noise, &s->noise_out);
      const float* noise = s->noise_out.data();
      for (size_t i = 0; i < T; ++i) {
        const double v = noise[i];
        const double c = v < lo ? lo : v > hi ? hi : v;
        out[i] = static_cast<float>(static_cast<double>(out[i]) + static_cast<double>(static_cast<float>(c * g)));
      }
    }
  }
  if (bg_crop != nullptr) {
    const double g = static_cast<float>(p.bg_factor * p.loudness);
    for (size_t i = 0; i < T; ++i) {
      out[i] = static_cast<float>(static_cast<double>(out[i]) + static_cast<double>(static_cast<float>(bg_crop[i] * g)));
    }
  }
  return AugmentOutcome::kDone;
}

}  // namespace audiofeed

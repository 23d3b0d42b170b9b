#include "noise.h"

#include <cmath>

#include "detmath.h"
#include "dsp_fft.h"

namespace audiofeed {
namespace dsp {
namespace {

uint32_t Rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

double MltkScale(NoiseColor c) {
  switch (c) {
    case NoiseColor::kPink:
    case NoiseColor::kBrown:
      return 10;
    case NoiseColor::kBlue:
    case NoiseColor::kViolet:
      return 0.01;
    default:
      return 1;
  }
}

void NormalisePeak(const double* x, size_t n, std::vector<float>* out) {
  double peak = 0;
  for (size_t i = 0; i < n; ++i) {
    const double a = std::fabs(x[i]);
    if (a > peak) peak = a;
  }
  out->assign(n, 0.0f);
  if (peak == 0) return;
  float* o = out->data();
  for (size_t i = 0; i < n; ++i) o[i] = static_cast<float>(x[i] / peak);
}

}  // namespace

FastGaussian::FastGaussian(const uint32_t seed[4]) : a_(seed[0]), b_(seed[1]), c_(seed[2]), d_(seed[3]) {
  if ((a_ | b_ | c_ | d_) == 0) a_ = 0x9e3779b9u;
}

uint32_t FastGaussian::Next() {
  const uint32_t r = Rotl(b_ * 5u, 7) * 9u;
  const uint32_t t = b_ << 9;
  c_ ^= a_;
  d_ ^= b_;
  b_ ^= c_;
  a_ ^= d_;
  c_ ^= t;
  d_ = Rotl(d_, 11);
  return r;
}

double FastGaussian::Gauss() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double x1;
  double x2;
  double r2;
  do {
    x1 = Signed();
    x2 = Signed();
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1 || r2 == 0);
  const double f = std::sqrt((-2 * detmath::Log(r2)) / r2);
  spare_ = f * x1;
  has_spare_ = true;
  return f * x2;
}

void MltkColourNoise(NoiseColor color, size_t n, double lo, double hi, const uint32_t seed[4], NoiseScratch* s,
                     std::vector<float>* out) {
  out->assign(n, 0.0f);
  const size_t size = n / 2 + 1 + n % 2;
  const size_t bins = size - n % 2;
  const size_t N = 2 * (bins - 1);
  if (N == 0) return;
  FastGaussian g(seed);
  s->spec.resize(size);
  double* spec = s->spec.data();
  for (size_t i = 0; i < size; ++i) spec[i] = g.Gauss();
  switch (color) {
    case NoiseColor::kPink:
      for (size_t i = 0; i < bins; ++i) spec[i] = spec[i] * (1 / static_cast<double>(i + 1));
      break;
    case NoiseColor::kBrown:
      for (size_t i = 0; i < bins; ++i) {
        const double k = static_cast<double>(i + 1);
        spec[i] = spec[i] * (1 / (k * k));
      }
      break;
    case NoiseColor::kViolet:
      for (size_t i = 0; i < bins; ++i) {
        const double k = static_cast<double>(i + 1);
        spec[i] = spec[i] * (k * k);
      }
      break;
    default:
      break;
  }
  s->im.assign(bins, 0.0);
  s->y.resize(N);
  RealFftFor(N).Inverse(spec, s->im.data(), s->y.data());
  const double scale = MltkScale(color);
  const double* y = s->y.data();
  float* o = out->data();
  for (size_t i = 0; i < N; ++i) {
    const double v = y[i];
    o[i] = static_cast<float>((v < lo ? lo : v > hi ? hi : v) * scale);
  }
}

void PeakColourNoise(NoiseColor color, size_t n, const uint32_t seed[4], NoiseScratch* s, std::vector<float>* out) {
  FastGaussian rng(seed);
  std::vector<double>& y = s->y;
  switch (color) {
    case NoiseColor::kWhite:
      y.resize(n);
      for (size_t i = 0; i < n; ++i) y[i] = rng.Gauss();
      break;
    case NoiseColor::kBrown: {
      y.resize(n);
      double acc = 0;
      double sum = 0;
      for (size_t i = 0; i < n; ++i) {
        acc += rng.Gauss();
        y[i] = acc;
        sum += acc;
      }
      const double mean = n > 0 ? sum / static_cast<double>(n) : 0;
      for (size_t i = 0; i < n; ++i) y[i] -= mean;
      break;
    }
    case NoiseColor::kViolet: {
      y.resize(n);
      double prev = rng.Gauss();
      for (size_t i = 0; i < n; ++i) {
        const double cur = rng.Gauss();
        y[i] = cur - prev;
        prev = cur;
      }
      break;
    }
    case NoiseColor::kPink:
    case NoiseColor::kBlue: {
      const bool pink = color == NoiseColor::kPink;
      size_t size = 4;
      while (size < n) size *= 2;
      const size_t bins = size / 2 + 1;
      s->re.assign(bins, 0.0);
      s->im.assign(bins, 0.0);
      for (size_t k = 1; k < bins; ++k) {
        const double kd = static_cast<double>(k);
        const double a = pink ? 1 / std::sqrt(kd) : std::sqrt(kd);
        s->re[k] = rng.Gauss() * a;
        s->im[k] = k == bins - 1 ? 0 : rng.Gauss() * a;
      }
      y.resize(size);
      RealFftFor(size).Inverse(s->re.data(), s->im.data(), y.data());
      break;
    }
  }
  NormalisePeak(y.data(), n, out);
}

}  // namespace dsp
}  // namespace audiofeed

#include "stretch.h"

#include <algorithm>
#include <cmath>

#include "detmath.h"
#include "dsp_fft.h"
#include "simd2.h"

namespace audiofeed {
namespace dsp {
namespace {

constexpr double kTwoPi = 2 * 3.141592653589793;
// librosa divides only where the window sum exceeds tiny(float32).
constexpr double kTiny = 1.1754943508222875e-38;

struct Hann {
  double w[kStftNfft];
  Hann() {
    for (size_t i = 0; i < kStftNfft; ++i) {
      w[i] = 0.5 - 0.5 * detmath::Cos((kTwoPi * static_cast<double>(i)) / static_cast<double>(kStftNfft));
    }
  }
};

}  // namespace

const double* HannWindow() {
  static const Hann hann;
  return hann.w;
}

void StftFrame(const float* y, size_t n, size_t t, double* buf, double* re, double* im) {
  const double* win = HannWindow();
  const long start = static_cast<long>(t * kStftHop) - static_cast<long>(kStftNfft / 2);
  // Samples [lo, hi) of the frame lie inside the signal; the rest is zero padding.
  const long lo = start < 0 ? -start : 0;
  const long hi = std::max(lo, std::min(static_cast<long>(kStftNfft), static_cast<long>(n) - start));
  for (long i = 0; i < lo; ++i) buf[i] = 0;
  for (long i = lo; i < hi; ++i) buf[i] = static_cast<double>(y[start + i]) * win[i];
  for (long i = hi; i < static_cast<long>(kStftNfft); ++i) buf[i] = 0;
  RealFftFor(kStftNfft).Forward(buf, re, im);
}

double RoundHalfEven(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

size_t IstftWriter::FramesNeeded(size_t length, size_t available) {
  const size_t need = static_cast<size_t>(std::ceil(static_cast<double>(length + kStftNfft) / static_cast<double>(kStftHop)));
  return std::min(available, need);
}

void IstftWriter::Reset(size_t length, size_t max_frames) {
  length_ = length;
  max_frames_ = max_frames;
  t_ = 0;
  const size_t span = kStftNfft + kStftHop * (max_frames > 0 ? max_frames - 1 : 0);
  acc_.assign(span, 0.0);
  wss_.assign(span, 0.0);
  buf_.resize(kStftNfft);
}

void IstftWriter::Push(const double* re, const double* im) {
  if (t_ >= max_frames_) return;
  const double* win = HannWindow();
  RealFftFor(kStftNfft).Inverse(re, im, buf_.data());
  const size_t off = t_ * kStftHop;
  double* acc = acc_.data() + off;
  double* wss = wss_.data() + off;
  const double* buf = buf_.data();
  for (size_t i = 0; i < kStftNfft; i += 2) {
    const V2 w = Load2(win + i);
    Store2(acc + i, Load2(acc + i) + Load2(buf + i) * w);
    Store2(wss + i, Load2(wss + i) + w * w);
  }
  ++t_;
}

void IstftWriter::Finish(float* out) const {
  const size_t start = kStftNfft >> 1;
  const size_t end = std::min(length_, acc_.size() - start);
  for (size_t i = 0; i < end; ++i) {
    const double w = wss_[start + i];
    const double v = acc_[start + i];
    out[i] = static_cast<float>(w > kTiny ? v / w : v);
  }
  for (size_t i = end; i < length_; ++i) out[i] = 0.0f;
}

void TimeStretch(const float* y, size_t n, double rate, StretchScratch* s, std::vector<float>* out) {
  const size_t out_len = static_cast<size_t>(RoundHalfEven(static_cast<double>(n) / rate));
  const size_t frames = StftFrames(n);
  const size_t bins = kStftBins;
  s->buf.resize(kStftNfft);
  s->re.resize(bins);
  s->im.resize(bins);
  for (int k = 0; k < 2; ++k) {
    s->mag[k].resize(bins);
    s->ur[k].resize(bins);
    s->ui[k].resize(bins);
  }
  // The two input frames the current output frame reads (slot f % 2 holds frame f).
  long have[2] = {-1, -1};
  auto load = [&](size_t f) {
    const int slot = static_cast<int>(f & 1);
    if (have[slot] == static_cast<long>(f)) return;
    have[slot] = static_cast<long>(f);
    double* mag = s->mag[slot].data();
    double* ur = s->ur[slot].data();
    double* ui = s->ui[slot].data();
    if (f >= frames) {  // librosa's two zero frames after the end
      for (size_t k = 0; k < bins; ++k) {
        mag[k] = 0;
        ur[k] = 1;
        ui[k] = 0;
      }
      return;
    }
    StftFrame(y, n, f, s->buf.data(), s->re.data(), s->im.data());
    const double* re = s->re.data();
    const double* im = s->im.data();
    size_t k = 0;
    const V2 zero = Splat2(0);
    const V2 one = Splat2(1);
    for (; k + 1 < bins; k += 2) {
      const V2 r = Load2(re + k);
      const V2 q = Load2(im + k);
      const V2 m = Sqrt2(r * r + q * q);
      const M2 pos = m > zero;
      Store2(mag + k, m);
      Store2(ur + k, Select2(pos, r / m, one));
      Store2(ui + k, Select2(pos, q / m, zero));
    }
    for (; k < bins; ++k) {
      const double r = re[k];
      const double q = im[k];
      const double m = std::sqrt(r * r + q * q);
      mag[k] = m;
      if (m > 0) {
        ur[k] = r / m;
        ui[k] = q / m;
      } else {
        ur[k] = 1;
        ui[k] = 0;
      }
    }
  };
  const size_t steps = static_cast<size_t>(std::ceil(static_cast<double>(frames) / rate));
  const size_t used = IstftWriter::FramesNeeded(out_len, steps);
  s->writer.Reset(out_len, used);
  load(0);
  s->pr.assign(s->ur[0].begin(), s->ur[0].end());
  s->pi.assign(s->ui[0].begin(), s->ui[0].end());
  s->ore.resize(bins);
  s->oim.resize(bins);
  double* pr = s->pr.data();
  double* pi = s->pi.data();
  double* ore = s->ore.data();
  double* oim = s->oim.data();
  for (size_t t = 0; t < used; ++t) {
    const double step = static_cast<double>(t) * rate;
    const double f0d = std::floor(step);
    const double alpha = step - f0d;
    const size_t f0 = static_cast<size_t>(f0d);
    load(f0);
    load(f0 + 1);
    const double* mag0 = s->mag[f0 & 1].data();
    const double* mag1 = s->mag[(f0 + 1) & 1].data();
    const double* u0r_ = s->ur[f0 & 1].data();
    const double* u0i_ = s->ui[f0 & 1].data();
    const double* u1r_ = s->ur[(f0 + 1) & 1].data();
    const double* u1i_ = s->ui[(f0 + 1) & 1].data();
    size_t k = 0;
    const V2 beta = Splat2(1 - alpha);
    const V2 al = Splat2(alpha);
    for (; k + 1 < bins; k += 2) {
      const V2 m = beta * Load2(mag0 + k) + al * Load2(mag1 + k);
      const V2 cr = Load2(pr + k);
      const V2 ci = Load2(pi + k);
      Store2(ore + k, m * cr);
      Store2(oim + k, m * ci);
      const V2 u0r = Load2(u0r_ + k);
      const V2 u0i = Load2(u0i_ + k);
      const V2 u1r = Load2(u1r_ + k);
      const V2 u1i = Load2(u1i_ + k);
      const V2 dr = u1r * u0r + u1i * u0i;
      const V2 di = u1i * u0r - u1r * u0i;
      Store2(pr + k, cr * dr - ci * di);
      Store2(pi + k, cr * di + ci * dr);
    }
    for (; k < bins; ++k) {
      const double m = (1 - alpha) * mag0[k] + alpha * mag1[k];
      const double cr = pr[k];
      const double ci = pi[k];
      ore[k] = m * cr;
      oim[k] = m * ci;
      const double u0r = u0r_[k];
      const double u0i = u0i_[k];
      const double u1r = u1r_[k];
      const double u1i = u1i_[k];
      const double dr = u1r * u0r + u1i * u0i;
      const double di = u1i * u0r - u1r * u0i;
      pr[k] = cr * dr - ci * di;
      pi[k] = cr * di + ci * dr;
    }
    s->writer.Push(ore, oim);
  }
  out->resize(out_len);
  s->writer.Finish(out->data());
}

}  // namespace dsp
}  // namespace audiofeed

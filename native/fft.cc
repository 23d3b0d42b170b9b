#include "fft.h"

#include <cmath>

#include "fixed_math.h"

namespace audiofeed {
namespace {

// Reference value of pi used by KISS FFT; identical to M_PI as a double.
constexpr double kPi = 3.14159265358979323846264338327;

inline int16_t SRound(int32_t v) { return Wrap16((v + 16384) >> 15); }

inline Cpx16 CMul(Cpx16 a, Cpx16 b) {
  return {SRound(static_cast<int32_t>(a.r) * b.r - static_cast<int32_t>(a.i) * b.i),
          SRound(static_cast<int32_t>(a.r) * b.i + static_cast<int32_t>(a.i) * b.r)};
}

// KISS "divide": multiply by trunc(32767 / k) in Q15 with rounding, not a shift.
template <int kDivisor>
inline Cpx16 CDiv(Cpx16 a) {
  constexpr int32_t d = 32767 / kDivisor;
  return {SRound(a.r * d), SRound(a.i * d)};
}

inline Cpx16 CAdd(Cpx16 a, Cpx16 b) { return {Wrap16(a.r + b.r), Wrap16(a.i + b.i)}; }
inline Cpx16 CSub(Cpx16 a, Cpx16 b) { return {Wrap16(a.r - b.r), Wrap16(a.i - b.i)}; }

inline Cpx16 Twiddle(double phase) {
  return {JsToInt16(std::floor(0.5 + 32767.0 * std::cos(phase))),
          JsToInt16(std::floor(0.5 + 32767.0 * std::sin(phase)))};
}

}  // namespace

FixedRealFft::FixedRealFft(int fft_size) : fft_size_(fft_size), n_(fft_size / 2) {
  twiddles_.resize(static_cast<size_t>(n_));
  for (int j = 0; j < n_; ++j) {
    twiddles_[static_cast<size_t>(j)] = Twiddle(((-2.0 * kPi) * j) / n_);
  }
  super_twiddles_.resize(static_cast<size_t>(n_ / 2));
  for (int j = 0; j < n_ / 2; ++j) {
    super_twiddles_[static_cast<size_t>(j)] =
        Twiddle(-kPi * (static_cast<double>(j + 1) / n_ + 0.5));
  }
  // Radix-4 stages while possible, then one radix-2 (n is a power of two).
  int rest = n_;
  while (rest > 1) {
    const int p = (rest % 4 == 0) ? 4 : 2;
    rest /= p;
    radix_.push_back(p);
    stride_.push_back(rest);
  }
}

void FixedRealFft::Butterfly2(Cpx16* out, int fstride, int m) const {
  const Cpx16* tw = twiddles_.data();
  for (int k = 0; k < m; ++k) {
    const Cpx16 a = CDiv<2>(out[k]);
    const Cpx16 b = CDiv<2>(out[k + m]);
    const Cpx16 t = CMul(b, tw[k * fstride]);
    out[k + m] = CSub(a, t);
    out[k] = CAdd(a, t);
  }
}

void FixedRealFft::Butterfly4(Cpx16* out, int fstride, int m) const {
  const Cpx16* tw = twiddles_.data();
  for (int k = 0; k < m; ++k) {
    Cpx16 a0 = CDiv<4>(out[k]);
    const Cpx16 a1 = CDiv<4>(out[k + m]);
    const Cpx16 a2 = CDiv<4>(out[k + 2 * m]);
    const Cpx16 a3 = CDiv<4>(out[k + 3 * m]);
    const Cpx16 s0 = CMul(a1, tw[k * fstride]);
    const Cpx16 s1 = CMul(a2, tw[2 * k * fstride]);
    const Cpx16 s2 = CMul(a3, tw[3 * k * fstride]);
    const Cpx16 s5 = CSub(a0, s1);
    a0 = CAdd(a0, s1);
    const Cpx16 s3 = CAdd(s0, s2);
    const Cpx16 s4 = CSub(s0, s2);
    out[k + 2 * m] = CSub(a0, s3);
    out[k] = CAdd(a0, s3);
    out[k + m] = {Wrap16(s5.r + s4.i), Wrap16(s5.i - s4.r)};
    out[k + 3 * m] = {Wrap16(s5.r - s4.i), Wrap16(s5.i + s4.r)};
  }
}

// Recursive decimation in time, exactly KISS's kf_work: the innermost stage
// is butterflied first.
void FixedRealFft::Work(Cpx16* out, const Cpx16* in, int fstride, int stage) const {
  const int p = radix_[static_cast<size_t>(stage)];
  const int m = stride_[static_cast<size_t>(stage)];
  if (m == 1) {
    for (int j = 0; j < p; ++j) out[j] = in[j * fstride];
  } else {
    for (int q = 0; q < p; ++q) Work(out + q * m, in + q * fstride, fstride * p, stage + 1);
  }
  if (p == 4) {
    Butterfly4(out, fstride, m);
  } else {
    Butterfly2(out, fstride, m);
  }
}

void FixedRealFft::Run(const Cpx16* packed, Cpx16* t, Cpx16* bins) const {
  const int n = n_;
  if (radix_.empty()) {
    t[0] = packed[0];  // a 1-point complex FFT is the identity
  } else {
    Work(t, packed, 1, 0);
  }
  const Cpx16 dc = CDiv<2>(t[0]);
  bins[0] = {Wrap16(dc.r + dc.i), 0};
  bins[n] = {Wrap16(dc.r - dc.i), 0};
  const Cpx16* st = super_twiddles_.data();
  for (int k = 1; k <= n / 2; ++k) {
    const Cpx16 p = CDiv<2>(t[k]);
    const Cpx16 q = CDiv<2>(Cpx16{t[n - k].r, Wrap16(-static_cast<int32_t>(t[n - k].i))});
    const Cpx16 f1 = CAdd(p, q);
    const Cpx16 f2 = CSub(p, q);
    const Cpx16 tw = CMul(f2, st[k - 1]);
    // At k = n/2 both stores hit the same bin and the second one wins.
    bins[k] = {Wrap16((f1.r + tw.r) >> 1), Wrap16((f1.i + tw.i) >> 1)};
    bins[n - k] = {Wrap16((f1.r - tw.r) >> 1), Wrap16((tw.i - f1.i) >> 1)};
  }
}

}  // namespace audiofeed

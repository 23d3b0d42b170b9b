#include "pitch.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "detmath.h"
#include "dsp_fft.h"
#include "simd2.h"

namespace audiofeed {
namespace dsp {
namespace {

constexpr double kPi = 3.141592653589793;
constexpr int kZeroCrossings = 10;
constexpr double kKaiserBeta = 7;
constexpr double kRolloff = 0.95;
constexpr int kTableRes = 512;
constexpr int kPhases = 256;

double BesselI0(double x) {
  const double q = (x * x) / 4;
  double sum = 1;
  double term = 1;
  for (int k = 1; k < 500; ++k) {
    term *= q / static_cast<double>(k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

struct Kernel {
  static constexpr int kSize = kZeroCrossings * kTableRes + 2;
  double t[kSize];
  Kernel() {
    const double i0b = BesselI0(kKaiserBeta);
    for (int i = 0; i < kSize; ++i) {
      const double u = static_cast<double>(i) / kTableRes;
      t[i] = 0;
      if (u >= kZeroCrossings) continue;
      const double r = u / kZeroCrossings;
      const double win = BesselI0(kKaiserBeta * std::sqrt(1 - r * r)) / i0b;
      t[i] = (u == 0 ? 1 : detmath::Sin(kPi * u) / (kPi * u)) * win;
    }
  }
};

const Kernel& KernelTable() {
  static const Kernel k;
  return k;
}

struct Polyphase {
  long first;
  long taps;
  std::vector<double> table;
};

const Polyphase& PolyphaseFor(double ratio) {
  thread_local std::map<double, std::unique_ptr<Polyphase>> cache;
  auto it = cache.find(ratio);
  if (it != cache.end()) return *it->second;
  const double* kernel = KernelTable().t;
  const double scale = std::min(1.0, ratio) * kRolloff;
  const double width = kZeroCrossings / scale;
  auto f = std::make_unique<Polyphase>();
  f->first = -static_cast<long>(std::floor(width));
  f->taps = 2 * static_cast<long>(std::floor(width)) + 2;
  f->table.resize(static_cast<size_t>((kPhases + 1) * f->taps));
  for (int p = 0; p <= kPhases; ++p) {
    const double frac = static_cast<double>(p) / kPhases;
    for (long j = 0; j < f->taps; ++j) {
      const double u = std::fabs(frac - static_cast<double>(f->first + j)) * scale * kTableRes;
      const double kd = std::floor(u);
      const long k = static_cast<long>(kd);
      const double fr = u - kd;
      const double h = k + 1 < Kernel::kSize ? kernel[k] + fr * (kernel[k + 1] - kernel[k]) : 0;
      f->table[static_cast<size_t>(p * f->taps + j)] = h * scale;
    }
  }
  if (cache.size() >= 32) cache.erase(cache.begin());
  return *cache.emplace(ratio, std::move(f)).first->second;
}

// JavaScript's Math.round for x >= 0 (ties toward +infinity, exact).
double JsRound(double x) {
  const double f = std::floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

}  // namespace

void ResampleRatio(const float* x, size_t n, double ratio, size_t out_len, std::vector<double>* xd_buf, std::vector<float>* out) {
  out->assign(out_len, 0.0f);
  if (n == 0) return;
  const Polyphase& f = PolyphaseFor(ratio);
  const long first = f.first;
  const long taps = f.taps;
  const double* table = f.table.data();
  xd_buf->resize(n);
  double* xd = xd_buf->data();
  for (size_t i = 0; i < n; ++i) xd[i] = x[i];
  const double inv = 1 / ratio;
  const long nn = static_cast<long>(n);
  float* o = out->data();
  // Output i: taps [lo, hi) of its kernel row against x from `base`.
  auto place = [&](size_t i, long* base, long* row, long* lo, long* hi) {
    const double t = static_cast<double>(i) * inv;
    const double k0d = std::floor(t);
    *row = static_cast<long>(JsRound((t - k0d) * kPhases)) * taps;
    *base = static_cast<long>(k0d) + first;
    *lo = *base < 0 ? -*base : 0;
    *hi = *base + taps > nn ? nn - *base : taps;
  };
  // pitch.ts keeps two partial sums per output, even and odd taps: the two lanes
  // of one accumulator here. Outputs whose kernel lies wholly inside the signal
  // are computed four at a time (independent sums, so more work in flight).
  size_t i = 0;
  while (i < out_len) {
    long base[4], row[4], lo[4], hi[4];
    size_t group = 0;
    for (; group < 4 && i + group < out_len; ++group) {
      place(i + group, &base[group], &row[group], &lo[group], &hi[group]);
      if (lo[group] != 0 || hi[group] != taps) break;
    }
    if (group == 4 && (taps & 1) == 0) {
      V2 acc0 = Splat2(0), acc1 = Splat2(0), acc2 = Splat2(0), acc3 = Splat2(0);
      const double* x0 = xd + base[0];
      const double* x1 = xd + base[1];
      const double* x2 = xd + base[2];
      const double* x3 = xd + base[3];
      const double* t0 = table + row[0];
      const double* t1 = table + row[1];
      const double* t2 = table + row[2];
      const double* t3 = table + row[3];
      for (long j = 0; j < taps; j += 2) {
        acc0 = acc0 + Load2(x0 + j) * Load2(t0 + j);
        acc1 = acc1 + Load2(x1 + j) * Load2(t1 + j);
        acc2 = acc2 + Load2(x2 + j) * Load2(t2 + j);
        acc3 = acc3 + Load2(x3 + j) * Load2(t3 + j);
      }
      o[i] = static_cast<float>(acc0[0] + acc0[1]);
      o[i + 1] = static_cast<float>(acc1[0] + acc1[1]);
      o[i + 2] = static_cast<float>(acc2[0] + acc2[1]);
      o[i + 3] = static_cast<float>(acc3[0] + acc3[1]);
      i += 4;
      continue;
    }
    place(i, &base[0], &row[0], &lo[0], &hi[0]);
    V2 acc = Splat2(0);
    long j = lo[0];
    for (; j + 1 < hi[0]; j += 2) acc = acc + Load2(xd + base[0] + j) * Load2(table + row[0] + j);
    double a0 = acc[0];
    const double a1 = acc[1];
    if (j < hi[0]) a0 += xd[base[0] + j] * table[row[0] + j];
    o[i] = static_cast<float>(a0 + a1);
    ++i;
  }
}

void StretchAndShift(const float* y, size_t n, double speed, double steps, PitchScratch* s, std::vector<float>* out) {
  if (steps == 0) {
    if (speed == 1) {
      out->assign(y, y + n);
    } else {
      TimeStretch(y, n, speed, &s->stretch, out);
    }
    return;
  }
  const size_t target = speed == 1 ? n : static_cast<size_t>(RoundHalfEven(static_cast<double>(n) / speed));
  const double rate = detmath::Exp2(-steps / 12);
  if (rate < 1) {
    const size_t len = static_cast<size_t>(std::ceil(static_cast<double>(n) * rate));
    ResampleRatio(y, n, rate, len, &s->xd, &s->tmp);
    TimeStretch(s->tmp.data(), s->tmp.size(), speed * rate, &s->stretch, out);
  } else {
    TimeStretch(y, n, speed * rate, &s->stretch, &s->tmp);
    const size_t len = std::min(static_cast<size_t>(std::ceil(static_cast<double>(s->tmp.size()) * rate)), target);
    ResampleRatio(s->tmp.data(), s->tmp.size(), rate, len, &s->xd, out);
  }
  // Cut or zero-pad to the target length.
  out->resize(target, 0.0f);
}

void Vtlp(const float* y, size_t n, double sample_rate, double alpha, PitchScratch* s, std::vector<float>* out) {
  const size_t frames = StftFrames(n);
  const size_t bins = kStftBins;
  // vtlpBinMap
  std::vector<double>& map = s->map;
  map.resize(bins);
  const double fhi = std::min(4800.0, std::floor((sample_rate - 1) / 2));
  const double scale = fhi * std::min(alpha, 1.0);
  const double boundary = scale / alpha;
  const double half_sr = sample_rate / 2;
  double max = 0;
  for (size_t i = 0; i < bins; ++i) {
    const double f = (static_cast<double>(i) / static_cast<double>(bins - 1)) * half_sr;
    const double v = f <= boundary ? f * alpha : half_sr - ((half_sr - scale) / (half_sr - scale / alpha)) * (half_sr - f);
    map[i] = v;
    if (v > max) max = v;
  }
  const double k = max > 0 ? static_cast<double>(bins - 1) / max : 0;
  for (size_t i = 0; i < bins; ++i) map[i] *= k;

  StretchScratch& st = s->stretch;
  st.buf.resize(kStftNfft);
  st.re.resize(bins);
  st.im.resize(bins);
  s->re.resize(bins);
  s->im.resize(bins);
  const size_t used = IstftWriter::FramesNeeded(n, frames);
  st.writer.Reset(n, used);
  double* re = s->re.data();
  double* im = s->im.data();
  for (size_t t = 0; t < used; ++t) {
    StftFrame(y, n, t, st.buf.data(), st.re.data(), st.im.data());
    const double* sre = st.re.data();
    const double* sim = st.im.data();
    std::fill(re, re + bins, 0.0);
    std::fill(im, im + bins, 0.0);
    for (size_t i = 0; i < bins; ++i) {
      const double sr = sre[i];
      const double si = sim[i];
      if (i == 0 || i == bins - 1) {
        re[i] += sr;
        im[i] += si;
        continue;
      }
      const double posd = std::floor(map[i]);
      const size_t pos = static_cast<size_t>(posd);
      const double up = map[i] - posd;
      const double down = 1 - up;
      re[pos] += down * sr;
      im[pos] += down * si;
      if (pos + 1 < bins) {
        re[pos + 1] += up * sr;
        im[pos + 1] += up * si;
      }
    }
    st.writer.Push(re, im);
  }
  out->resize(n);
  st.writer.Finish(out->data());
}

}  // namespace dsp
}  // namespace audiofeed

#include "dsp_fft.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>

#include "detmath.h"
#include "simd2.h"

namespace audiofeed {
namespace dsp {
namespace {

constexpr double kPi = 3.141592653589793;
constexpr double kTwoPi = 2 * kPi;

bool IsPowerOfTwo(size_t m) { return (m & (m - 1)) == 0; }

// Radices in the order applied; empty with *ok false when another prime divides m.
std::vector<int> Radices(size_t m, bool* ok) {
  std::vector<int> out;
  size_t r = m;
  while (r % 4 == 0) {
    out.push_back(4);
    r /= 4;
  }
  if (r % 2 == 0) {
    out.push_back(2);
    r /= 2;
  }
  while (r % 3 == 0) {
    out.push_back(3);
    r /= 3;
  }
  while (r % 5 == 0) {
    out.push_back(5);
    r /= 5;
  }
  *ok = r == 1;
  return out;
}

class PowerOfTwoKernel : public FftKernel {
 public:
  explicit PowerOfTwoKernel(size_t m) : m_(m), rev_(m), cos_m_(m), sin_m_(m) {
    int bits = 0;
    while ((size_t{1} << bits) < m) ++bits;
    odd_bits_ = (bits & 1) == 1;
    for (size_t i = 0; i < m; ++i) {
      size_t r = 0;
      size_t v = i;
      for (int b = 0; b < bits; ++b, v >>= 1) r = (r << 1) | (v & 1);
      rev_[i] = r;
    }
    for (size_t k = 0; k < m; ++k) {
      cos_m_[k] = detmath::Cos((kTwoPi * static_cast<double>(k)) / static_cast<double>(m));
      sin_m_[k] = -detmath::Sin((kTwoPi * static_cast<double>(k)) / static_cast<double>(m));
    }
    // Per radix-4 stage, the twiddles w^k, w^2k, w^3k for k < L/4 side by side
    // (fft.ts reads them from the full-circle table; same values).
    for (size_t L = odd_bits_ ? 8 : 4; L <= m; L *= 4) {
      const size_t q = L >> 2;
      const size_t step = m / L;
      Stage st;
      st.L = L;
      st.w.resize(6 * q);
      for (size_t k = 0; k < q; ++k) {
        const size_t i1 = k * step;
        st.w[k] = cos_m_[i1];
        st.w[q + k] = sin_m_[i1];
        st.w[2 * q + k] = cos_m_[2 * i1];
        st.w[3 * q + k] = sin_m_[2 * i1];
        st.w[4 * q + k] = cos_m_[3 * i1];
        st.w[5 * q + k] = sin_m_[3 * i1];
      }
      stages_.push_back(std::move(st));
    }
  }

  void Run(double* zr, double* zi, bool inverse) override {
    const size_t m = m_;
    for (size_t i = 0; i < m; ++i) {
      const size_t j = rev_[i];
      if (j > i) {
        std::swap(zr[i], zr[j]);
        std::swap(zi[i], zi[j]);
      }
    }
    if (odd_bits_) {
      for (size_t a = 0; a + 1 < m; a += 2) {
        const double ar = zr[a];
        const double ai = zi[a];
        const double br = zr[a + 1];
        const double bi = zi[a + 1];
        zr[a] = ar + br;
        zi[a] = ai + bi;
        zr[a + 1] = ar - br;
        zi[a + 1] = ai - bi;
      }
    }
    const double s = inverse ? -1.0 : 1.0;
    for (const Stage& st : stages_) {
      const size_t L = st.L;
      const size_t q = L >> 2;
      const double* w = st.w.data();
      if (q == 1) {
        // First stage of an even log2(m): one butterfly per group, twiddles w^0.
        const double w1r = w[0], w1i = s * w[1], w2r = w[2], w2i = s * w[3], w3r = w[4], w3i = s * w[5];
        for (size_t a = 0; a < m; a += 4) {
          const double x0r = zr[a];
          const double x0i = zi[a];
          double r = zr[a + 1];
          double im = zi[a + 1];
          const double x2r = r * w2r - im * w2i;
          const double x2i = r * w2i + im * w2r;
          r = zr[a + 2];
          im = zi[a + 2];
          const double x1r = r * w1r - im * w1i;
          const double x1i = r * w1i + im * w1r;
          r = zr[a + 3];
          im = zi[a + 3];
          const double x3r = r * w3r - im * w3i;
          const double x3i = r * w3i + im * w3r;
          const double t0r = x0r + x2r;
          const double t0i = x0i + x2i;
          const double t1r = x0r - x2r;
          const double t1i = x0i - x2i;
          const double t2r = x1r + x3r;
          const double t2i = x1i + x3i;
          const double t3r = (x1r - x3r) * s;
          const double t3i = (x1i - x3i) * s;
          zr[a] = t0r + t2r;
          zi[a] = t0i + t2i;
          zr[a + 2] = t0r - t2r;
          zi[a + 2] = t0i - t2i;
          zr[a + 1] = t1r + t3i;
          zi[a + 1] = t1i - t3r;
          zr[a + 3] = t1r - t3i;
          zi[a + 3] = t1i + t3r;
        }
        continue;
      }
      // q is even: k runs over contiguous pairs in every group.
      const V2 sv = {s, s};
      for (size_t g = 0; g < m; g += L) {
        for (size_t k = 0; k < q; k += 2) {
          const size_t a = g + k;
          const size_t b = a + q;
          const size_t c = b + q;
          const size_t d = c + q;
          const V2 w1r = Load2(w + k);
          const V2 w1i = sv * Load2(w + q + k);
          const V2 w2r = Load2(w + 2 * q + k);
          const V2 w2i = sv * Load2(w + 3 * q + k);
          const V2 w3r = Load2(w + 4 * q + k);
          const V2 w3i = sv * Load2(w + 5 * q + k);
          const V2 x0r = Load2(zr + a);
          const V2 x0i = Load2(zi + a);
          V2 r = Load2(zr + b);
          V2 im = Load2(zi + b);
          const V2 x2r = r * w2r - im * w2i;
          const V2 x2i = r * w2i + im * w2r;
          r = Load2(zr + c);
          im = Load2(zi + c);
          const V2 x1r = r * w1r - im * w1i;
          const V2 x1i = r * w1i + im * w1r;
          r = Load2(zr + d);
          im = Load2(zi + d);
          const V2 x3r = r * w3r - im * w3i;
          const V2 x3i = r * w3i + im * w3r;
          const V2 t0r = x0r + x2r;
          const V2 t0i = x0i + x2i;
          const V2 t1r = x0r - x2r;
          const V2 t1i = x0i - x2i;
          const V2 t2r = x1r + x3r;
          const V2 t2i = x1i + x3i;
          const V2 t3r = (x1r - x3r) * sv;
          const V2 t3i = (x1i - x3i) * sv;
          Store2(zr + a, t0r + t2r);
          Store2(zi + a, t0i + t2i);
          Store2(zr + c, t0r - t2r);
          Store2(zi + c, t0i - t2i);
          Store2(zr + b, t1r + t3i);
          Store2(zi + b, t1i - t3r);
          Store2(zr + d, t1r - t3i);
          Store2(zi + d, t1i + t3r);
        }
      }
    }
  }

 private:
  struct Stage {
    size_t L = 0;
    std::vector<double> w;  // w1r[q] w1i[q] w2r[q] w2i[q] w3r[q] w3i[q]
  };

  size_t m_;
  bool odd_bits_ = false;
  std::vector<size_t> rev_;
  std::vector<double> cos_m_;
  std::vector<double> sin_m_;
  std::vector<Stage> stages_;
};

// Butterfly constants (fft.ts: S3, C51, C52, S51, S52).
struct RadixConstants {
  double s3, c51, c52, s51, s52;
  RadixConstants()
      : s3(std::sqrt(0.75)),
        c51(detmath::Cos(kTwoPi / 5)),
        c52(detmath::Cos((2 * kTwoPi) / 5)),
        s51(detmath::Sin(kTwoPi / 5)),
        s52(detmath::Sin((2 * kTwoPi) / 5)) {}
};

const RadixConstants& Constants() {
  static const RadixConstants c;
  return c;
}

struct Twiddles {
  double r[4];
  double i[4];
};

// (ur, ui) *= w, as fft.ts: t = ur*wr - ui*wi; ui = ur*wi + ui*wr; ur = t.
template <typename T>
inline void Rotate(T* ur, T* ui, double wr, double wi) {
  const T t = *ur * wr - *ui * wi;
  *ui = *ur * wi + *ui * wr;
  *ur = t;
}

// One Stockham radix-P butterfly (fft.ts's stage body) on element(s) i0 -> o0.
template <int P, typename T>
inline void Butterfly(const double* xr, const double* xi, double* yr, double* yi, size_t i0, size_t o0, size_t rp, size_t out,
                      bool twiddle, const Twiddles& w, const RadixConstants& K) {
  const T u0r = Ld<T>(xr + i0);
  const T u0i = Ld<T>(xi + i0);
  T u1r = Ld<T>(xr + i0 + rp);
  T u1i = Ld<T>(xi + i0 + rp);
  if (twiddle) Rotate(&u1r, &u1i, w.r[0], w.i[0]);
  if (P == 2) {
    St(yr + o0, u0r + u1r);
    St(yi + o0, u0i + u1i);
    St(yr + o0 + out, u0r - u1r);
    St(yi + o0 + out, u0i - u1i);
    return;
  }
  T u2r = Ld<T>(xr + i0 + 2 * rp);
  T u2i = Ld<T>(xi + i0 + 2 * rp);
  if (twiddle) Rotate(&u2r, &u2i, w.r[1], w.i[1]);
  if (P == 3) {
    const T t1r = u1r + u2r;
    const T t1i = u1i + u2i;
    const T t2r = u0r - 0.5 * t1r;
    const T t2i = u0i - 0.5 * t1i;
    const T t3r = K.s3 * (u1r - u2r);
    const T t3i = K.s3 * (u1i - u2i);
    St(yr + o0, u0r + t1r);
    St(yi + o0, u0i + t1i);
    St(yr + o0 + out, t2r + t3i);
    St(yi + o0 + out, t2i - t3r);
    St(yr + o0 + 2 * out, t2r - t3i);
    St(yi + o0 + 2 * out, t2i + t3r);
    return;
  }
  T u3r = Ld<T>(xr + i0 + 3 * rp);
  T u3i = Ld<T>(xi + i0 + 3 * rp);
  if (twiddle) Rotate(&u3r, &u3i, w.r[2], w.i[2]);
  if (P == 4) {
    const T t0r = u0r + u2r;
    const T t0i = u0i + u2i;
    const T t1r = u0r - u2r;
    const T t1i = u0i - u2i;
    const T t2r = u1r + u3r;
    const T t2i = u1i + u3i;
    const T t3r = u1r - u3r;
    const T t3i = u1i - u3i;
    St(yr + o0, t0r + t2r);
    St(yi + o0, t0i + t2i);
    St(yr + o0 + out, t1r + t3i);
    St(yi + o0 + out, t1i - t3r);
    St(yr + o0 + 2 * out, t0r - t2r);
    St(yi + o0 + 2 * out, t0i - t2i);
    St(yr + o0 + 3 * out, t1r - t3i);
    St(yi + o0 + 3 * out, t1i + t3r);
    return;
  }
  T u4r = Ld<T>(xr + i0 + 4 * rp);
  T u4i = Ld<T>(xi + i0 + 4 * rp);
  if (twiddle) Rotate(&u4r, &u4i, w.r[3], w.i[3]);
  const T a1r = u1r + u4r;
  const T a1i = u1i + u4i;
  const T a2r = u2r + u3r;
  const T a2i = u2i + u3i;
  const T b1r = u1r - u4r;
  const T b1i = u1i - u4i;
  const T b2r = u2r - u3r;
  const T b2i = u2i - u3i;
  const T c1r = u0r + K.c51 * a1r + K.c52 * a2r;
  const T c1i = u0i + K.c51 * a1i + K.c52 * a2i;
  const T c2r = u0r + K.c52 * a1r + K.c51 * a2r;
  const T c2i = u0i + K.c52 * a1i + K.c51 * a2i;
  const T d1r = K.s51 * b1r + K.s52 * b2r;
  const T d1i = K.s51 * b1i + K.s52 * b2i;
  const T d2r = K.s52 * b1r - K.s51 * b2r;
  const T d2i = K.s52 * b1i - K.s51 * b2i;
  St(yr + o0, u0r + a1r + a2r);
  St(yi + o0, u0i + a1i + a2i);
  St(yr + o0 + out, c1r + d1i);
  St(yi + o0 + out, c1i - d1r);
  St(yr + o0 + 2 * out, c2r + d2i);
  St(yi + o0 + 2 * out, c2i - d2r);
  St(yr + o0 + 3 * out, c2r - d2i);
  St(yi + o0 + 3 * out, c2i + d2r);
  St(yr + o0 + 4 * out, c1r - d1i);
  St(yi + o0 + 4 * out, c1i + d1r);
}

// One radix-P Stockham stage: for each twiddle index k the butterflies a < rp
// are independent and contiguous, so they go two at a time (V2) with a scalar
// tail; each element sees fft.ts's operations in fft.ts's order.
template <int P>
void MixedStage(const double* cosm, const double* sinm, size_t L, size_t rp, const double* xr, const double* xi, double* yr,
                double* yi) {
  const RadixConstants& K = Constants();
  const size_t r = rp * P;
  const size_t out = L * rp;
  for (size_t k = 0; k < L; ++k) {
    const size_t w1 = k * rp;
    Twiddles w;
    w.r[0] = cosm[w1];
    w.i[0] = sinm[w1];
    w.r[1] = cosm[2 * w1];
    w.i[1] = sinm[2 * w1];
    w.r[2] = P > 3 ? cosm[3 * w1] : 0;
    w.i[2] = P > 3 ? sinm[3 * w1] : 0;
    w.r[3] = P > 4 ? cosm[4 * w1] : 0;
    w.i[3] = P > 4 ? sinm[4 * w1] : 0;
    const bool twiddle = k > 0;
    size_t a = 0;
    for (; a + 2 <= rp; a += 2) Butterfly<P, V2>(xr, xi, yr, yi, k * r + a, k * rp + a, rp, out, twiddle, w, K);
    for (; a < rp; ++a) Butterfly<P, double>(xr, xi, yr, yi, k * r + a, k * rp + a, rp, out, twiddle, w, K);
  }
}

class MixedRadixKernel : public FftKernel {
 public:
  MixedRadixKernel(size_t m, std::vector<int> plan)
      : m_(m), plan_(std::move(plan)), cos_m_(m), sin_m_(m), br_(m), bi_(m) {
    for (size_t k = 0; k < m; ++k) {
      cos_m_[k] = detmath::Cos((kTwoPi * static_cast<double>(k)) / static_cast<double>(m));
      sin_m_[k] = -detmath::Sin((kTwoPi * static_cast<double>(k)) / static_cast<double>(m));
    }
  }

  void Run(double* re, double* im, bool inverse) override {
    const size_t m = m_;
    if (inverse) {
      for (size_t i = 0; i < m; ++i) im[i] = -im[i];
    }
    double* xr = re;
    double* xi = im;
    double* yr = br_.data();
    double* yi = bi_.data();
    size_t L = 1;
    for (int p : plan_) {
      const size_t rp = m / (L * p);
      switch (p) {
        case 2:
          MixedStage<2>(cos_m_.data(), sin_m_.data(), L, rp, xr, xi, yr, yi);
          break;
        case 3:
          MixedStage<3>(cos_m_.data(), sin_m_.data(), L, rp, xr, xi, yr, yi);
          break;
        case 4:
          MixedStage<4>(cos_m_.data(), sin_m_.data(), L, rp, xr, xi, yr, yi);
          break;
        default:
          MixedStage<5>(cos_m_.data(), sin_m_.data(), L, rp, xr, xi, yr, yi);
          break;
      }
      std::swap(xr, yr);
      std::swap(xi, yi);
      L *= p;
    }
    if (xr != re) {
      for (size_t i = 0; i < m; ++i) {
        re[i] = xr[i];
        im[i] = xi[i];
      }
    }
    if (inverse) {
      for (size_t i = 0; i < m; ++i) im[i] = -im[i];
    }
  }

 private:
  size_t m_;
  std::vector<int> plan_;
  std::vector<double> cos_m_;
  std::vector<double> sin_m_;
  std::vector<double> br_;
  std::vector<double> bi_;
};

class BluesteinKernel : public FftKernel {
 public:
  explicit BluesteinKernel(size_t m) : m_(m) {
    size_t M = 1;
    while (M < 2 * m - 1) M *= 2;
    M_ = M;
    fft_ = std::make_unique<PowerOfTwoKernel>(M);
    chirp_r_.resize(m);
    chirp_i_.resize(m);
    for (size_t j = 0; j < m; ++j) {
      const uint64_t q = (static_cast<uint64_t>(j) * j) % (2 * static_cast<uint64_t>(m));
      const double angle = (kPi * static_cast<double>(q)) / static_cast<double>(m);
      chirp_r_[j] = detmath::Cos(angle);
      chirp_i_[j] = detmath::Sin(angle);
    }
    filt_r_.assign(M, 0.0);
    filt_i_.assign(M, 0.0);
    for (size_t j = 0; j < m; ++j) {
      filt_r_[j] = chirp_r_[j];
      filt_i_[j] = chirp_i_[j];
      if (j > 0) {
        filt_r_[M - j] = chirp_r_[j];
        filt_i_[M - j] = chirp_i_[j];
      }
    }
    fft_->Run(filt_r_.data(), filt_i_.data(), false);
    wr_.resize(M);
    wi_.resize(M);
  }

  void Run(double* re, double* im, bool inverse) override {
    const size_t m = m_;
    const size_t M = M_;
    const double sign = inverse ? -1.0 : 1.0;
    double* wr = wr_.data();
    double* wi = wi_.data();
    for (size_t j = 0; j < m; ++j) {
      const double xr = re[j];
      const double xi = sign * im[j];
      const double br = chirp_r_[j];
      const double bi = chirp_i_[j];
      wr[j] = xr * br + xi * bi;
      wi[j] = xi * br - xr * bi;
    }
    for (size_t j = m; j < M; ++j) {
      wr[j] = 0;
      wi[j] = 0;
    }
    fft_->Run(wr, wi, false);
    for (size_t k = 0; k < M; ++k) {
      const double ar = wr[k];
      const double ai = wi[k];
      const double br = filt_r_[k];
      const double bi = filt_i_[k];
      wr[k] = ar * br - ai * bi;
      wi[k] = ar * bi + ai * br;
    }
    fft_->Run(wr, wi, true);
    const double inv = 1 / static_cast<double>(M);
    for (size_t k = 0; k < m; ++k) {
      const double cr = wr[k] * inv;
      const double ci = wi[k] * inv;
      const double br = chirp_r_[k];
      const double bi = chirp_i_[k];
      re[k] = cr * br + ci * bi;
      im[k] = sign * (ci * br - cr * bi);
    }
  }

 private:
  size_t m_;
  size_t M_ = 1;
  std::unique_ptr<PowerOfTwoKernel> fft_;
  std::vector<double> chirp_r_, chirp_i_, filt_r_, filt_i_, wr_, wi_;
};

}  // namespace

ComplexFft::ComplexFft(size_t m) : m_(m) {
  if (m < 1 || m > (size_t{1} << 26)) throw std::invalid_argument("ComplexFft size must be in [1, 2^26]");
  if (IsPowerOfTwo(m)) {
    kernel_ = std::make_unique<PowerOfTwoKernel>(m);
  } else {
    bool ok = false;
    std::vector<int> plan = Radices(m, &ok);
    if (ok) {
      kernel_ = std::make_unique<MixedRadixKernel>(m, std::move(plan));
    } else {
      kernel_ = std::make_unique<BluesteinKernel>(m);
    }
  }
}

RealFft::RealFft(size_t n)
    : n_(n), m_(n / 2), complex_(n / 2), cos_n_(n / 2 + 1), sin_n_(n / 2 + 1), zr_(n / 2), zi_(n / 2) {
  for (size_t k = 0; k <= m_; ++k) {
    cos_n_[k] = detmath::Cos((kTwoPi * static_cast<double>(k)) / static_cast<double>(n));
    sin_n_[k] = -detmath::Sin((kTwoPi * static_cast<double>(k)) / static_cast<double>(n));
  }
}

namespace {

// Bin k of the real FFT from Z[k] = (ar, ai) and conj Z[m-k] = (br, bi), twiddle
// (wr, wi) (fft.ts's forward post-pass), for one bin (double) or two (V2).
template <typename T>
inline void SplitBin(T ar, T ai, T br, T bi, T wr, T wi, T* xr, T* xi) {
  const T er = 0.5 * (ar + br);
  const T ei = 0.5 * (ai + bi);
  const T or_ = 0.5 * (ai - bi);
  const T oi = -0.5 * (ar - br);
  *xr = er + (or_ * wr - oi * wi);
  *xi = ei + (or_ * wi + oi * wr);
}

// Z[k] from X[k] = (xr, xi) and conj X[m-k] = (yr, yi), conj twiddle (wr, wi) (fft.ts's
// inverse pre-pass), for one entry (double) or two (V2).
template <typename T>
inline void MergeBin(T xr, T xi, T yr, T yi, T wr, T wi, T* zr, T* zi) {
  const T er = 0.5 * (xr + yr);
  const T ei = 0.5 * (xi + yi);
  const T dr = 0.5 * (xr - yr);
  const T di = 0.5 * (xi - yi);
  const T or_ = dr * wr - di * wi;
  const T oi = dr * wi + di * wr;
  *zr = er - oi;
  *zi = ei + or_;
}

}  // namespace

void RealFft::Forward(const double* x, double* re, double* im) {
  const size_t m = m_;
  double* zr = zr_.data();
  double* zi = zi_.data();
  for (size_t j = 0; j < m; ++j) {
    zr[j] = x[2 * j];
    zi[j] = x[2 * j + 1];
  }
  complex_.Transform(zr, zi, false);
  const double* cn = cos_n_.data();
  const double* sn = sin_n_.data();
  // Bins 0 and m wrap around (Z[m] is Z[0]): one at a time.
  auto one = [&](size_t k) {
    const size_t k1 = k == m ? 0 : k;
    const size_t k2 = k == 0 ? 0 : m - k;
    SplitBin(zr[k1], zi[k1], zr[k2], -zi[k2], cn[k], sn[k], re + k, im + k);
  };
  one(0);
  // Bins k, k+1 with 0 < k < k+1 < m read z[k..k+1] and z[m-k-1..m-k] (lanes swapped).
  size_t k = 1;
  for (; k + 2 <= m; k += 2) {
    V2 xr, xi;
    SplitBin(Load2(zr + k), Load2(zi + k), Swap2(Load2(zr + m - k - 1)), -Swap2(Load2(zi + m - k - 1)), Load2(cn + k), Load2(sn + k), &xr,
             &xi);
    Store2(re + k, xr);
    Store2(im + k, xi);
  }
  for (; k <= m; ++k) one(k);
}

void RealFft::Inverse(const double* re, const double* im, double* out) {
  const size_t m = m_;
  double* zr = zr_.data();
  double* zi = zi_.data();
  const double* cn = cos_n_.data();
  const double* sn = sin_n_.data();
  // Bin 0: the imaginary parts of X[0] and X[m] are ignored.
  auto one = [&](size_t k) {
    const double xi = k == 0 ? 0 : im[k];
    const double yi = k == 0 ? 0 : -im[m - k];
    MergeBin(re[k], xi, re[m - k], yi, cn[k], -sn[k], zr + k, zi + k);
  };
  one(0);
  // Bins k, k+1 with 0 < k < k+1 < m read X[k..k+1] and X[m-k-1..m-k] (lanes swapped).
  size_t k = 1;
  for (; k + 2 <= m; k += 2) {
    V2 r, i;
    MergeBin(Load2(re + k), Load2(im + k), Swap2(Load2(re + m - k - 1)), -Swap2(Load2(im + m - k - 1)), Load2(cn + k), -Load2(sn + k), &r, &i);
    Store2(zr + k, r);
    Store2(zi + k, i);
  }
  for (; k < m; ++k) one(k);
  complex_.Transform(zr, zi, true);
  const double scale = 1 / static_cast<double>(m);
  for (size_t j = 0; j < m; ++j) {
    out[2 * j] = zr[j] * scale;
    out[2 * j + 1] = zi[j] * scale;
  }
}

RealFft& RealFftFor(size_t n) {
  thread_local std::map<size_t, std::unique_ptr<RealFft>> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return *it->second;
  // At most one large plan per thread (a minute of 192 kHz audio with an awkward
  // length needs a Bluestein plan of hundreds of MB), and a few small ones.
  constexpr size_t kLarge = size_t{1} << 20;
  for (auto e = cache.begin(); e != cache.end();) {
    if (n > kLarge && e->first > kLarge) {
      e = cache.erase(e);
    } else {
      ++e;
    }
  }
  if (cache.size() >= 16) cache.erase(cache.begin());
  auto inserted = cache.emplace(n, std::make_unique<RealFft>(n));
  return *inserted.first->second;
}

}  // namespace dsp
}  // namespace audiofeed

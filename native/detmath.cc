#include "detmath.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace audiofeed {
namespace detmath {
namespace {

// ------------------------------------------------------------------ bit access

uint32_t HighWord(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return static_cast<uint32_t>(b >> 32);
}

uint32_t LowWord(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return static_cast<uint32_t>(b);
}

double FromWords(uint32_t hi, uint32_t lo) {
  const uint64_t b = (static_cast<uint64_t>(hi) << 32) | lo;
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// 2^k, exactly, for an integer k in [-1022, 1023].
double Pow2i(int k) { return FromWords(static_cast<uint32_t>(k + 1023) << 20, 0); }

// ------------------------------------------------------------------ exact products

constexpr double kSplitter = 134217729.0;  // 2^27 + 1

// a*b rounded; *err gets the rounding error (Dekker's product, no fma).
double TwoProduct(double a, double b, double* err) {
  const double p = a * b;
  double c = kSplitter * a;
  const double ah = c - (c - a);
  const double al = a - ah;
  c = kSplitter * b;
  const double bh = c - (c - b);
  const double bl = b - bh;
  *err = ah * bh - p + ah * bl + al * bh + al * bl;
  return p;
}

// ------------------------------------------------------------------ constants (see detmath.ts)

constexpr double kPio2_1 = 1.5707963267341256;
constexpr double kPio2_2 = 6.077100506303966e-11;
constexpr double kPio2_3 = 2.0222662487111665e-21;
constexpr double kPio2_4 = 8.4784276603689e-32;
constexpr double kPio2Hi = 1.5707963267948966;
constexpr double kPio2Lo = 6.123233995736766e-17;
constexpr double kInvPio2 = 0.6366197723675814;
constexpr double kPio4 = 0.7853981633974483;

constexpr double kLn2Hi = 0.6931471806019545;
constexpr double kLn2Lo = -4.2009150726810846e-11;
constexpr double kLn2 = 0.6931471805599453;
constexpr double kLn2Tail = 2.3190468138462996e-17;
constexpr double kInvLn2 = 1.4426950408889634;
constexpr double kLog10_2Hi = 0.3010299956658855;
constexpr double kLog10_2Lo = -1.9043128467164274e-12;
constexpr double kInvLn10 = 0.4342944819032518;
constexpr double kInvLn10Lo = 1.098319650216765e-17;

constexpr double S3 = -0.16666666666666666;
constexpr double S5 = 0.008333333333333333;
constexpr double S7 = -0.0001984126984126984;
constexpr double S9 = 2.7557319223985893e-6;
constexpr double S11 = -2.505210838544172e-8;
constexpr double S13 = 1.6059043836821613e-10;
constexpr double S15 = -7.647163731819816e-13;
constexpr double S17 = 2.8114572543455206e-15;
constexpr double C4 = 0.041666666666666664;
constexpr double C6 = -0.001388888888888889;
constexpr double C8 = 2.48015873015873e-5;
constexpr double C10 = -2.755731922398589e-7;
constexpr double C12 = 2.08767569878681e-9;
constexpr double C14 = -1.1470745597729725e-11;
constexpr double C16 = 4.779477332387385e-14;
constexpr double C18 = -1.5619206968586225e-16;
constexpr double E2 = 0.5;
constexpr double E3 = 0.16666666666666666;
constexpr double E4 = 0.041666666666666664;
constexpr double E5 = 0.008333333333333333;
constexpr double E6 = 0.001388888888888889;
constexpr double E7 = 0.0001984126984126984;
constexpr double E8 = 2.48015873015873e-5;
constexpr double E9 = 2.7557319223985893e-6;
constexpr double E10 = 2.755731922398589e-7;
constexpr double E11 = 2.505210838544172e-8;
constexpr double E12 = 2.08767569878681e-9;
constexpr double E13 = 1.6059043836821613e-10;
constexpr double L1 = 0.6666666666666666;
constexpr double L2 = 0.4;
constexpr double L3 = 0.2857142857142857;
constexpr double L4 = 0.2222222222222222;
constexpr double L5 = 0.18181818181818182;
constexpr double L6 = 0.15384615384615385;
constexpr double L7 = 0.13333333333333333;
constexpr double L8 = 0.11764705882352941;
constexpr double L9 = 0.10526315789473684;
constexpr double L10 = 0.09523809523809523;

// 2/pi in binary: word i holds bits 32i+1 ... 32i+32 after the binary point.
constexpr int kTwoOverPiWordCount = 40;
constexpr uint32_t kTwoOverPi[kTwoOverPiWordCount] = {
    0xa2f9836e, 0x4e441529, 0xfc2757d1, 0xf534ddc0, 0xdb629599, 0x3c439041, 0xfe5163ab, 0xdebbc561, 0xb7246e3a, 0x424dd2e0,
    0x06492eea, 0x09d1921c, 0xfe1deb1c, 0xb129a73e, 0xe88235f5, 0x2ebb4484, 0xe99c7026, 0xb45f7e41, 0x3991d639, 0x835339f4,
    0x9c845f8b, 0xbdf9283b, 0x1ff897ff, 0xde05980f, 0xef2f118b, 0x5a0a6d1f, 0x6d367ecf, 0x27cb09b7, 0x4f463f66, 0x9e5fea2d,
    0x7527bac7, 0xebe5f17b, 0x3d0739f7, 0x8a5292ea, 0x6bfb5fb1, 0x1f8d5d08, 0x56033046, 0xfc7b6bab, 0xf0cfbc20, 0x9af4361d,
};

// ------------------------------------------------------------------ sin, cos

struct Reduced {
  double hi;
  double lo;
};

constexpr int kWindowBits = 256;
constexpr int kWindowLimbs = kWindowBits / 32;
constexpr int kProductLimbs = kWindowLimbs + 2;

int TwoOverPiBit(int j) {  // bit j >= 1 after the binary point
  const int w = (j - 1) / 32;
  return static_cast<int>((kTwoOverPi[w] >> (31 - (j - 1) % 32)) & 1u);
}

int LimbBit(const uint32_t* limbs, int b) { return static_cast<int>((limbs[b / 32] >> (b % 32)) & 1u); }

// Bits [from, to) of a little-endian limb array as an integer (to - from <= 64).
uint64_t LimbBits(const uint32_t* limbs, int from, int to) {
  uint64_t v = 0;
  for (int b = to - 1; b >= from; --b) v = (v << 1) | static_cast<uint64_t>(LimbBit(limbs, b));
  return v;
}

// |x| >= 2^20: see reduceHuge in detmath.ts (the same integers, with 32-bit limbs).
int ReduceHuge(double ax, Reduced* r) {
  const uint32_t hw = HighWord(ax);
  const int e = static_cast<int>(hw >> 20) - 1075;
  const uint64_t M = (static_cast<uint64_t>((hw & 0xfffffu) | 0x100000u) << 32) | LowWord(ax);
  const int p0 = e - 1 > 1 ? e - 1 : 1;
  const int last = p0 + kWindowBits - 1;
  uint32_t window[kWindowLimbs] = {0};
  for (int b = 0; b < kWindowBits; ++b) {
    window[b / 32] |= static_cast<uint32_t>(TwoOverPiBit(last - b)) << (b % 32);
  }
  uint32_t P[kProductLimbs] = {0};
  const uint32_t m[2] = {static_cast<uint32_t>(M), static_cast<uint32_t>(M >> 32)};
  for (int i = 0; i < 2; ++i) {
    uint64_t carry = 0;
    for (int k = 0; k < kWindowLimbs; ++k) {
      const uint64_t t = static_cast<uint64_t>(m[i]) * window[k] + P[i + k] + carry;
      P[i + k] = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    for (int k = i + kWindowLimbs; carry != 0 && k < kProductLimbs; ++k) {
      const uint64_t t = static_cast<uint64_t>(P[k]) + carry;
      P[k] = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
  }
  const int s = last - e;
  int q = static_cast<int>(LimbBits(P, s, s + 2));
  uint32_t frac[kProductLimbs];
  for (int k = 0; k < kProductLimbs; ++k) {
    const int lo_bit = 32 * k;
    if (lo_bit >= s) {
      frac[k] = 0;
    } else if (lo_bit + 32 <= s) {
      frac[k] = P[k];
    } else {
      frac[k] = P[k] & ((1u << (s - lo_bit)) - 1u);
    }
  }
  bool negative = false;
  if (LimbBit(frac, s - 1)) {
    // frac = 2^s - frac: two's complement, then keep s bits.
    uint64_t carry = 1;
    for (int k = 0; k < kProductLimbs; ++k) {
      const uint64_t t = static_cast<uint64_t>(static_cast<uint32_t>(~frac[k])) + carry;
      frac[k] = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    for (int k = 0; k < kProductLimbs; ++k) {
      const int lo_bit = 32 * k;
      if (lo_bit >= s) {
        frac[k] = 0;
      } else if (lo_bit + 32 > s) {
        frac[k] &= (1u << (s - lo_bit)) - 1u;
      }
    }
    q = (q + 1) & 3;
    negative = true;
  }
  int bits = 0;
  for (int b = 32 * kProductLimbs - 1; b >= 0; --b) {
    if (LimbBit(frac, b)) {
      bits = b + 1;
      break;
    }
  }
  double hi = 0.0;
  double lo = 0.0;
  if (bits > 0) {
    if (bits <= 53) {
      hi = static_cast<double>(LimbBits(frac, 0, bits)) * Pow2i(-s);
    } else {
      const int sh = bits - 53;
      hi = static_cast<double>(LimbBits(frac, sh, bits)) * Pow2i(sh - s);
      const int lsh = sh - 53 > 0 ? sh - 53 : 0;
      lo = static_cast<double>(LimbBits(frac, lsh, sh)) * Pow2i(lsh - s);
    }
  }
  if (negative) {
    hi = -hi;
    lo = -lo;
  }
  double err;
  const double p = TwoProduct(hi, kPio2Hi, &err);
  const double t = err + (hi * kPio2Lo + lo * kPio2Hi);
  r->hi = p + t;
  r->lo = t - (r->hi - p);
  return q;
}

int Reduce(double x, Reduced* r) {
  const double ax = std::fabs(x);
  if (ax < 1048576.0) {
    const double n = std::floor(x * kInvPio2 + 0.5);
    const double a = x - n * kPio2_1;
    const double b = -(n * kPio2_2);
    const double s1 = a + b;
    double bb = s1 - a;
    const double e1 = a - (s1 - bb) + (b - bb);
    const double c = -(n * kPio2_3);
    const double s2 = s1 + c;
    bb = s2 - s1;
    const double e2 = s1 - (s2 - bb) + (c - bb);
    const double lo = e1 + e2 - n * kPio2_4;
    r->hi = s2 + lo;
    r->lo = lo - (r->hi - s2);
    return static_cast<int32_t>(n) & 3;
  }
  const int q = ReduceHuge(ax, r);
  if (x > 0) return q;
  r->hi = -r->hi;
  r->lo = -r->lo;
  return (4 - q) & 3;
}

double SinKernel(double hi, double lo) {
  const double z = hi * hi;
  const double v = z * hi;
  const double p = S3 + z * (S5 + z * (S7 + z * (S9 + z * (S11 + z * (S13 + z * (S15 + z * S17))))));
  return hi + (v * p + lo * (1 - 0.5 * z));
}

double CosKernel(double hi, double lo) {
  const double z = hi * hi;
  const double hz = 0.5 * z;
  const double w = 1 - hz;
  const double q = C4 + z * (C6 + z * (C8 + z * (C10 + z * (C12 + z * (C14 + z * (C16 + z * C18))))));
  return w + (1 - w - hz + (z * (z * q) - hi * lo));
}

constexpr double kTinyAngle = 7.450580596923828e-9;  // 2^-27

// ------------------------------------------------------------------ exp

double ExpKernel(double hi, double lo) {
  const double r = hi + lo;
  const double rerr = hi - r + lo;
  const double p =
      E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * (E7 + r * (E8 + r * (E9 + r * (E10 + r * (E11 + r * (E12 + r * E13))))))))));
  return 1 + (r + (rerr + r * r * p));
}

double Scale2(double y, int k) {
  if (k >= -1022 && k <= 1023) return y * Pow2i(k);
  if (k > 1023) return y * Pow2i(1023) * Pow2i(k - 1023);
  return y * Pow2i(k + 1000) * Pow2i(-1000);
}

// ------------------------------------------------------------------ log

struct LogParts {
  int k;
  double f;
  double hfsq;
  double sr;
};

void LogReduce(double x, LogParts* out) {
  uint32_t hw = HighWord(x);
  int k = 0;
  if (hw < 0x00100000u) {
    x *= 18014398509481984.0;  // 2^54
    k = -54;
    hw = HighWord(x);
  }
  k += static_cast<int>(hw >> 20) - 1023;
  const uint32_t mant = hw & 0xfffffu;
  double m;
  if (mant >= 0x6a09eu) {
    m = FromWords(mant | 0x3fe00000u, LowWord(x));
    k += 1;
  } else {
    m = FromWords(mant | 0x3ff00000u, LowWord(x));
  }
  const double f = m - 1;
  const double s = f / (2 + f);
  const double z = s * s;
  const double R = z * (L1 + z * (L2 + z * (L3 + z * (L4 + z * (L5 + z * (L6 + z * (L7 + z * (L8 + z * (L9 + z * L10)))))))));
  out->k = k;
  out->f = f;
  out->hfsq = 0.5 * f * f;
  out->sr = s * (out->hfsq + R);
}

}  // namespace

double Sin(double x) {
  const double ax = std::fabs(x);
  if (ax <= kPio4) return ax < kTinyAngle ? x : SinKernel(x, 0);
  if (!(ax < INFINITY)) return NAN;
  Reduced r;
  switch (Reduce(x, &r)) {
    case 0:
      return SinKernel(r.hi, r.lo);
    case 1:
      return CosKernel(r.hi, r.lo);
    case 2:
      return -SinKernel(r.hi, r.lo);
    default:
      return -CosKernel(r.hi, r.lo);
  }
}

double Cos(double x) {
  const double ax = std::fabs(x);
  if (ax <= kPio4) return ax < kTinyAngle ? 1 : CosKernel(x, 0);
  if (!(ax < INFINITY)) return NAN;
  Reduced r;
  switch (Reduce(x, &r)) {
    case 0:
      return CosKernel(r.hi, r.lo);
    case 1:
      return -SinKernel(r.hi, r.lo);
    case 2:
      return -CosKernel(r.hi, r.lo);
    default:
      return SinKernel(r.hi, r.lo);
  }
}

double Exp(double x) {
  if (!(x == x)) return x;
  if (x > 709.8) return INFINITY;
  if (x < -745.2) return 0;
  if (std::fabs(x) < 5.551115123125783e-17) return 1 + x;
  const double k = std::floor(x * kInvLn2 + 0.5);
  return Scale2(ExpKernel(x - k * kLn2Hi, -(k * kLn2Lo)), static_cast<int>(k));
}

double Exp2(double x) {
  if (!(x == x)) return x;
  if (x >= 1024) return INFINITY;
  if (x < -1080) return 0;
  const double k = std::floor(x + 0.5);
  const double f = x - k;
  if (f == 0) return Scale2(1, static_cast<int>(k));
  double err;
  const double hi = TwoProduct(f, kLn2, &err);
  return Scale2(ExpKernel(hi, err + f * kLn2Tail), static_cast<int>(k));
}

double Log(double x) {
  if (!(x > 0)) return x == 0 ? -INFINITY : NAN;
  if (x == INFINITY) return x;
  LogParts p;
  LogReduce(x, &p);
  return p.k * kLn2Hi + (p.f - (p.hfsq - (p.sr + p.k * kLn2Lo)));
}

double Log10(double x) {
  if (!(x > 0)) return x == 0 ? -INFINITY : NAN;
  if (x == INFINITY) return x;
  LogParts p;
  LogReduce(x, &p);
  double err;
  const double prod = TwoProduct(p.f, kInvLn10, &err);
  const double t = err + (p.f * kInvLn10Lo - (p.hfsq - p.sr) * kInvLn10);
  return p.k * kLog10_2Hi + (p.k * kLog10_2Lo + (prod + t));
}

}  // namespace detmath
}  // namespace audiofeed

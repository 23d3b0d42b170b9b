// Two doubles with element-wise IEEE operations (SSE2 on x86-64, NEON on arm64,
// scalar code elsewhere), for the augmentation DSP: a loop over independent
// elements done two at a time performs the same operation on each element as
// the scalar loop of its TypeScript twin, so the bits are the same. Never used
// to reassociate a sum (no horizontal reductions), and no fma: the addon is
// built with -ffp-contract=off.
#ifndef AUDIOFEED_SIMD2_H_
#define AUDIOFEED_SIMD2_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace audiofeed {
namespace dsp {

using V2 = double __attribute__((vector_size(16)));
using M2 = int64_t __attribute__((vector_size(16)));

inline V2 Load2(const double* p) {
  V2 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store2(double* p, V2 v) { std::memcpy(p, &v, sizeof v); }
inline V2 Splat2(double x) { return V2{x, x}; }
// The two elements exchanged.
inline V2 Swap2(V2 v) { return V2{v[1], v[0]}; }

// Correctly rounded square root of each element.
inline V2 Sqrt2(V2 v) {
#if defined(__SSE2__)
  return reinterpret_cast<V2>(_mm_sqrt_pd(reinterpret_cast<__m128d>(v)));
#else
  return V2{std::sqrt(v[0]), std::sqrt(v[1])};
#endif
}

// mask ? a : b per element (mask from a comparison: all ones or all zeros).
inline V2 Select2(M2 mask, V2 a, V2 b) {
  return reinterpret_cast<V2>((mask & reinterpret_cast<M2>(a)) | (~mask & reinterpret_cast<M2>(b)));
}

// Loads and stores of one double or of a V2 (unaligned), so one template body
// serves a paired loop and its scalar tail.
template <typename T>
inline T Ld(const double* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
inline void St(double* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace dsp
}  // namespace audiofeed

#endif  // AUDIOFEED_SIMD2_H_

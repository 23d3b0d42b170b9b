// Integer helpers shared by the frontend stages. Conversions from double
// follow JavaScript's ToInt16/ToInt32 so that out-of-range or NaN table
// values behave exactly like the TypeScript twin instead of being UB in C++.
#ifndef AUDIOFEED_FIXED_MATH_H_
#define AUDIOFEED_FIXED_MATH_H_

#include <cmath>
#include <cstdint>

namespace audiofeed {

inline int16_t Wrap16(int32_t v) { return static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint32_t>(v))); }

// Number of significant bits: BitLen(0) = 0, BitLen(1) = 1, BitLen(512) = 10.
inline int BitLen32(uint32_t v) { return v == 0 ? 0 : 32 - __builtin_clz(v); }

inline uint32_t JsToUint32(double d) {
  if (!std::isfinite(d)) return 0;
  double m = std::fmod(std::trunc(d), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<uint32_t>(m);
}
inline int32_t JsToInt32(double d) { return static_cast<int32_t>(JsToUint32(d)); }
inline int16_t JsToInt16(double d) { return static_cast<int16_t>(static_cast<uint16_t>(JsToUint32(d))); }

}  // namespace audiofeed

#endif  // AUDIOFEED_FIXED_MATH_H_

// Deterministic transcendental functions, the twin of src/core/math/detmath.ts:
// the same algorithm and the same double operations in the same order, so both
// give identical bits (glibc's libm and V8's Math differ in the last bit). Build
// with -ffp-contract=off (binding.gyp) so no multiply-add is fused. The
// algorithms, constants and accuracy are documented in the TypeScript file.
#ifndef AUDIOFEED_DETMATH_H_
#define AUDIOFEED_DETMATH_H_

namespace audiofeed {
namespace detmath {

double Sin(double x);
double Cos(double x);
double Exp(double x);
double Exp2(double x);
double Log(double x);
double Log10(double x);

}  // namespace detmath
}  // namespace audiofeed

#endif  // AUDIOFEED_DETMATH_H_

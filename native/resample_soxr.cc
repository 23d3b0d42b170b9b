#include "resample_soxr.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#ifdef AUDIOFEED_HAVE_SOXR
#include <soxr.h>
#endif

namespace audiofeed {

const char kReasonRateTooLow[] = "sample-rate-too-low";
const char kReasonResampleTooLarge[] = "resample-too-large";
const char kReasonUnavailable[] = "resampler-unavailable";
const char kReasonResampleFailed[] = "resample-failed";

namespace {

std::string Hz(double hz) {
  // Rates are whole numbers in practice; print them without a fraction then.
  if (std::isfinite(hz) && hz == std::trunc(hz) && std::fabs(hz) < 1e15) return std::to_string(static_cast<long long>(hz)) + " Hz";
  return std::to_string(hz) + " Hz";
}

bool Fail(const char* why, std::string message, std::string* error, const char** reason) {
  if (error != nullptr) *error = std::move(message);
  if (reason != nullptr) *reason = why;
  return false;
}

#ifdef AUDIOFEED_HAVE_SOXR
// python-soxr 1.1.0 csoxr_split_ch<float> for one channel, then fix_length.
bool Soxr(const float* in, size_t n, double from_hz, double to_hz, std::vector<float>* out, std::string* error,
          const char** reason) {
  const size_t target = ResampledLength(n, from_hz, to_hz);
  out->assign(target, 0.0f);
  if (n == 0) return true;  // nothing in, nothing out (fix_length to 0)
  // Same expressions and conversions as python-soxr (double, then truncation to size_t).
  const size_t olen = static_cast<size_t>(static_cast<double>(n) * to_hz / from_hz + 1);
  const size_t div_len = static_cast<size_t>(std::max(1000., 48000 * from_hz / to_hz));
  std::vector<float> y(olen, 0.0f);

  const soxr_io_spec_t io_spec = soxr_io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S);
  const soxr_quality_spec_t quality_spec = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = nullptr;
  soxr_t soxr = soxr_create(from_hz, to_hz, 1, &err, &io_spec, &quality_spec, nullptr);
  if (err != nullptr) return Fail(kReasonResampleFailed, std::string("libsoxr: ") + err, error, reason);

  size_t out_pos = 0;
  size_t odone = 0;
  for (size_t idx = 0; idx < n && err == nullptr; idx += div_len) {
    const float* ibuf = in + idx;
    float* obuf = y.data() + out_pos;
    err = soxr_process(soxr, &ibuf, std::min(div_len, n - idx), nullptr, &obuf, olen - out_pos, &odone);
    out_pos += odone;
  }
  if (err == nullptr) {
    float* obuf = y.data() + out_pos;
    err = soxr_process(soxr, nullptr, 0, nullptr, &obuf, olen - out_pos, &odone);  // flush
    out_pos += odone;
  }
  soxr_delete(soxr);
  if (err != nullptr) return Fail(kReasonResampleFailed, std::string("libsoxr: ") + err, error, reason);

  std::copy_n(y.data(), std::min(out_pos, target), out->data());  // fix_length: cut, or zero-pad
  return true;
}
#endif

}  // namespace

const char* SoxrVersion() {
#ifdef AUDIOFEED_HAVE_SOXR
  // soxr_version() is "libsoxr-0.1.3": report the number only.
  const char* v = soxr_version();
  return std::strncmp(v, "libsoxr-", 8) == 0 ? v + 8 : v;
#else
  return nullptr;
#endif
}

size_t ResampledLength(size_t n, double from_hz, double to_hz) {
  return static_cast<size_t>(std::ceil(static_cast<double>(n) * (to_hz / from_hz)));
}

bool CheckResampleBounds(size_t n, double from_hz, double to_hz, const char** reason, std::string* detail) {
  if (from_hz == to_hz && from_hz > 0) return true;
  for (const double hz : {from_hz, to_hz}) {
    if (!(hz >= kMinResampleRateHz) || !std::isfinite(hz)) {
      return Fail(kReasonRateTooLow,
                  "resampling from " + Hz(from_hz) + " to " + Hz(to_hz) + " is refused: rates below " +
                      Hz(kMinResampleRateHz) + " are not resampled",
                  detail, reason);
    }
  }
  if (n > kMaxResampleInputSamples) {
    return Fail(kReasonResampleTooLarge,
                std::to_string(n) + " samples at " + Hz(from_hz) + " are more than the " +
                    std::to_string(kMaxResampleInputSamples) + " input samples one resampling may take",
                detail, reason);
  }
  const double produced = std::ceil(static_cast<double>(n) * (to_hz / from_hz));
  if (produced > static_cast<double>(kMaxResampleOutputSamples)) {
    return Fail(kReasonResampleTooLarge,
                std::to_string(n) + " samples at " + Hz(from_hz) + " would become " +
                    std::to_string(static_cast<unsigned long long>(produced)) + " samples at " + Hz(to_hz) +
                    ", more than the " + std::to_string(kMaxResampleOutputSamples) +
                    " output samples one resampling may make",
                detail, reason);
  }
  return true;
}

bool ResampleSoxrHQ(const float* in, size_t n, double from_hz, double to_hz, std::vector<float>* out, std::string* error,
                    const char** reason) {
  std::string detail;
  const char* why = nullptr;
  if (!CheckResampleBounds(n, from_hz, to_hz, &why, &detail)) return Fail(why, detail, error, reason);
  try {
    if (from_hz == to_hz) {
      out->assign(in, in + n);
      return true;
    }
#ifdef AUDIOFEED_HAVE_SOXR
    return Soxr(in, n, from_hz, to_hz, out, error, reason);
#else
    return Fail(kReasonUnavailable,
                "resampling from " + Hz(from_hz) + " to " + Hz(to_hz) +
                    " needs libsoxr (MLTK's soxr_hq resampler), and this build of the native addon has none: install "
                    "libsoxr-dev and rebuild the addon (npm run build:native)",
                error, reason);
#endif
  } catch (const std::bad_alloc&) {
    return Fail(kReasonResampleFailed, "out of memory while resampling " + std::to_string(n) + " samples", error, reason);
  }
}

}  // namespace audiofeed

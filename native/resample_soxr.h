// Sample-rate conversion exactly as MLTK's librosa does it by default:
// librosa.resample(y, orig_sr, target_sr, res_type='soxr_hq') on a float32 mono
// signal, which calls python-soxr 1.1's soxr.resample(y, orig_sr, target_sr,
// quality='soxr_hq') and then util.fix_length(ceil(n * target / orig)).
//
// The resampling itself is libsoxr's (Debian's libsoxr 0.1.3, linked, never
// copied in): HQ recipe, float32 in and out, fed exactly as python-soxr feeds a
// contiguous 1-D array (csoxr_split_ch): chunks of max(1000, 48000 * from / to)
// input samples, an output buffer of ilen * to / from + 1 samples, then one
// flush. The output is then zero-padded or cut to ceil(n * (to / from)).
//
// Built without libsoxr (binding.gyp found no `pkg-config soxr`), SoxrVersion()
// is null and ResampleSoxrHQ fails with reason "resampler-unavailable": no other
// resampler stands in, so no clip ever gets different numbers silently.
//
// The bounds below are mirrored by src/core/audio/resample.ts (the addon exports
// them; test/audio/resample-soxr.test.ts holds the two equal).
#ifndef AUDIOFEED_RESAMPLE_SOXR_H_
#define AUDIOFEED_RESAMPLE_SOXR_H_

#include <cstddef>
#include <string>
#include <vector>

namespace audiofeed {

// Lowest rate (Hz) resampled from or to. No real recording is below it (telephony
// is 8 kHz), and the cost of an upsampling grows with the ratio: a header claiming
// 1 Hz would otherwise turn 400 samples into 6.4 M.
constexpr double kMinResampleRateHz = 1000.0;
// Most input samples of one resampling (~23 min at 48 kHz). soxr's cost is about
// linear in its input and its output; both are capped so one clip costs at most
// a few seconds of one core.
constexpr size_t kMaxResampleInputSamples = size_t{64} << 20;
// Most output samples of one resampling (~70 min at 16 kHz; 256 MiB of float32).
constexpr size_t kMaxResampleOutputSamples = size_t{64} << 20;

// Stable reasons (the `reason` of a 422 invalid-wav problem, or of a failed clip).
extern const char kReasonRateTooLow[];        // "sample-rate-too-low"
extern const char kReasonResampleTooLarge[];  // "resample-too-large"
extern const char kReasonUnavailable[];       // "resampler-unavailable"
extern const char kReasonResampleFailed[];    // "resample-failed" (libsoxr reported an error)

// "0.1.3" when built with libsoxr (the linked library's version), else nullptr.
const char* SoxrVersion();

// librosa's output length: ceil(n * (to / from)) in double arithmetic.
size_t ResampledLength(size_t n, double from_hz, double to_hz);

// Whether a resampling of n samples from from_hz to to_hz is within the bounds
// above (equal rates always are: nothing is resampled). On false, *reason is
// one of the reasons above and *detail says why, in words.
bool CheckResampleBounds(size_t n, double from_hz, double to_hz, const char** reason, std::string* detail);

// Resamples in[0 .. n) from from_hz to to_hz into *out (resized to
// ResampledLength(n, from_hz, to_hz)); equal rates copy the input (librosa does
// not resample then). Checks CheckResampleBounds first. Returns false with
// *error (and *reason, when non-null) on a bound, a missing libsoxr or a libsoxr
// error. Thread-safe: every call has its own soxr state.
bool ResampleSoxrHQ(const float* in, size_t n, double from_hz, double to_hz, std::vector<float>* out, std::string* error,
                    const char** reason = nullptr);

}  // namespace audiofeed

#endif  // AUDIOFEED_RESAMPLE_SOXR_H_

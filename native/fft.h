// 16-bit fixed-point real FFT, KISS FFT v1.3.0 semantics (frontend.md section 6).
#ifndef AUDIOFEED_FFT_H_
#define AUDIOFEED_FFT_H_

#include <cstdint>
#include <vector>

namespace audiofeed {

struct Cpx16 {
  int16_t r;
  int16_t i;
};

class FixedRealFft {
 public:
  // fft_size must be a power of two >= 2.
  explicit FixedRealFft(int fft_size);

  int fft_size() const { return fft_size_; }

  // `packed` holds fft_size/2 complex pairs (the real input, two samples per
  // pair); `scratch` needs fft_size/2 entries; writes fft_size/2 + 1 bins.
  void Run(const Cpx16* packed, Cpx16* scratch, Cpx16* bins) const;

 private:
  void Work(Cpx16* out, const Cpx16* in, int fstride, int stage) const;
  void Butterfly2(Cpx16* out, int fstride, int m) const;
  void Butterfly4(Cpx16* out, int fstride, int m) const;

  int fft_size_;
  int n_;  // complex FFT size = fft_size / 2
  std::vector<int> radix_;   // p_s
  std::vector<int> stride_;  // m_s
  std::vector<Cpx16> twiddles_;
  std::vector<Cpx16> super_twiddles_;
};

}  // namespace audiofeed

#endif  // AUDIOFEED_FFT_H_

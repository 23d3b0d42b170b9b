// Double-precision FFTs of the augmentation pipeline: the twin of
// src/core/math/fft.ts (the same algorithms and operation order, twiddles from
// detmath), so both give identical bits. ComplexFft(m) for any m >= 1 (power of
// two: radix 4/2; 2^a 3^b 5^c: Stockham mixed radix; otherwise Bluestein over a
// power of two), RealFft(n) for any even n >= 2 (forward unnormalised, inverse
// divided by n). Instances keep scratch: one per thread (RealFftFor).
#ifndef AUDIOFEED_DSP_FFT_H_
#define AUDIOFEED_DSP_FFT_H_

#include <cstddef>
#include <memory>
#include <vector>

namespace audiofeed {
namespace dsp {

class FftKernel {
 public:
  virtual ~FftKernel() = default;
  // In place; forward e^{-2 pi i jk/m} or inverse e^{+2 pi i jk/m}, unnormalised.
  virtual void Run(double* re, double* im, bool inverse) = 0;
};

class ComplexFft {
 public:
  explicit ComplexFft(size_t m);
  size_t size() const { return m_; }
  void Transform(double* re, double* im, bool inverse) { kernel_->Run(re, im, inverse); }

 private:
  size_t m_;
  std::unique_ptr<FftKernel> kernel_;
};

class RealFft {
 public:
  explicit RealFft(size_t n);
  size_t size() const { return n_; }
  // X[k] for k in [0, n/2]: re and im need n/2 + 1 entries; x has n.
  void Forward(const double* x, double* re, double* im);
  // Inverse of Forward (imaginary parts of bins 0 and n/2 ignored); out has n.
  void Inverse(const double* re, const double* im, double* out);

 private:
  size_t n_;
  size_t m_;
  ComplexFft complex_;
  std::vector<double> cos_n_;
  std::vector<double> sin_n_;
  std::vector<double> zr_;
  std::vector<double> zi_;
};

// This thread's RealFft of size n (built on first use; a few sizes are kept).
RealFft& RealFftFor(size_t n);

}  // namespace dsp
}  // namespace audiofeed

#endif  // AUDIOFEED_DSP_FFT_H_

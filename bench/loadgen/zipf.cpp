// Zipf sampling by inverting the continuous integral of x^-skew (see zipf.hpp).
#include "bench/loadgen/zipf.hpp"

#include <algorithm>
#include <cmath>

namespace loyalty::bench {
namespace {
// Below this distance from 1 the skew is treated as exactly 1 (the logarithmic form), where
// the general form would divide by almost zero.
constexpr double kSkewOneTolerance = 1e-9;
}  // namespace

ZipfSampler::ZipfSampler(uint64_t count, double skew)
    : count_(std::max<uint64_t>(count, 1)), skew_(std::max(skew, 0.0)) {
  low_ = integral(1.0);
  high_ = integral(static_cast<double>(count_) + 1.0);
}

double ZipfSampler::integral(double x) const {
  if (std::abs(skew_ - 1.0) < kSkewOneTolerance) return std::log(x);
  return std::pow(x, 1.0 - skew_) / (1.0 - skew_);
}

double ZipfSampler::inverse_integral(double y) const {
  if (std::abs(skew_ - 1.0) < kSkewOneTolerance) return std::exp(y);
  return std::pow(y * (1.0 - skew_), 1.0 / (1.0 - skew_));
}

uint64_t ZipfSampler::operator()(std::mt19937_64& random) const {
  const double u = std::uniform_real_distribution<double>(low_, high_)(random);
  const double x = inverse_integral(u);
  const auto rank = static_cast<uint64_t>(std::max(x, 1.0)) - 1;
  return std::min(rank, count_ - 1);
}

}  // namespace loyalty::bench

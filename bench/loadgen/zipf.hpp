// Zipf-skewed choice of a member: rank k (0-based) is drawn with probability roughly
// proportional to 1 / (k + 1)^skew, so a few members are very active and most are not.
// Thread-safety: none; one sampler per thread.
#pragma once

#include <cstdint>
#include <random>

namespace loyalty::bench {

class ZipfSampler {
 public:
  // `count` ≥ 1 ranks; `skew` ≥ 0 (0 is uniform, about 1 is classic Zipf).
  ZipfSampler(uint64_t count, double skew);

  // A rank in [0, count).
  uint64_t operator()(std::mt19937_64& random) const;

 private:
  // The sampler inverts the integral H(x) of the continuous density x^-skew on [1, count + 1)
  // and rounds down: exact enough for a workload, O(1) per draw, no table of `count` entries.
  double integral(double x) const;
  double inverse_integral(double y) const;

  uint64_t count_;
  double skew_;
  double low_;   // H(1)
  double high_;  // H(count + 1)
};

}  // namespace loyalty::bench

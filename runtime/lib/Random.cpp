#include "kiln/runtime/Runtime.h"
#include "kiln/support/Hash.h"

#include <cmath>

namespace kiln::runtime {

Random::Random(uint64_t seed) : state_(seed) {}

// splitmix64 (Steele, Lea, Flood 2014), as in Vigna's reference code.
uint64_t Random::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float Random::uniform(float low, float high) {
  // 24 random bits: every value of [0, 1) on the float grid of 2^-24.
  float unit = static_cast<float>(next() >> 40) * 0x1.0p-24f;
  float value = low + (high - low) * unit;
  // low + (high-low)*unit can round up to high; keep the interval half-open.
  return value < high ? value : std::nextafter(high, low);
}

float Random::normal(float mean, float stddev) {
  // Box-Muller in double, one value per call (the sine half is dropped so
  // the stream position does not depend on call history).
  double u1 = static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; // (0, 1]
  double u2 = static_cast<double>(next() >> 11) * 0x1.0p-53;       // [0, 1)
  const double twoPi = 6.283185307179586476925286766559;
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(twoPi * u2);
  return static_cast<float>(mean + stddev * z);
}

uint64_t hashName(const std::string &name) { return support::fnv1a(name); }

} // namespace kiln::runtime

// k_winners_exp (kernels/k_winners_math.h), the exp of k-winners' boosts that the CPU and CUDA
// twins both compute so that they rank alike, checked on the CPU against std::exp: within 2 ulp
// over dense sweeps and random arguments, and NaN, ±inf, overflow and underflow as std::exp.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "test_helpers.h"
#include "wisp/kernels/k_winners_math.h"

using wisp::kernels::k_winners_exp;

namespace {

// The position of a double on a line where adjacent doubles are 1 apart (−0 and +0 both at 0), so
// that the distance of two finite doubles in ulp is the difference of their positions.
int64_t ordered(double x) {
  int64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits < 0 ? -(bits & std::numeric_limits<int64_t>::max()) : bits;
}

// |k_winners_exp(y) − std::exp(y)| in ulp of the result; both infinite counts as 0 (a finite
// result against an infinite one as a huge distance).
int64_t ulp_distance(double y) {
  const double ours = k_winners_exp(y), reference = std::exp(y);
  if (std::isinf(ours) || std::isinf(reference)) return ours == reference ? 0 : std::numeric_limits<int64_t>::max();
  const int64_t a = ordered(ours), b = ordered(reference);
  return a > b ? a - b : b - a;
}

// Checks every argument of a sweep and reports the worst one.
struct Worst {
  int64_t ulp = 0;
  double argument = 0;
  int64_t count = 0;
  void add(double y) {
    const int64_t d = ulp_distance(y);
    ++count;
    if (d > ulp) {
      ulp = d;
      argument = y;
    }
  }
};

void check_within_2_ulp(const Worst& worst, const char* sweep) {
  INFO(sweep << ": " << worst.count << " arguments, worst " << worst.ulp << " ulp at y = " << worst.argument
             << " (k_winners_exp " << k_winners_exp(worst.argument) << ", std::exp " << std::exp(worst.argument)
             << ")");
  CHECK(worst.count > 0);
  CHECK(worst.ulp <= 2);
}

}  // namespace

TEST_CASE("k_winners_exp is within 2 ulp of std::exp over a dense sweep of [-100, 100]", "[kernels][k_winners]") {
  Worst worst;
  for (int64_t i = -1000000; i <= 1000000; ++i) worst.add(static_cast<double>(i) * 1e-4);
  check_within_2_ulp(worst, "[-100, 100] in steps of 1e-4");
}

TEST_CASE("k_winners_exp is within 2 ulp of std::exp near 0 and over its whole finite range", "[kernels][k_winners]") {
  Worst near_zero;  // ±10^-300 .. ±1, logarithmically: where exp(y) = 1 + y + ... barely differs from 1
  for (int e = -3000; e <= 0; ++e) {
    for (const double mantissa : {1.0, 1.234567890123, 3.0, 7.77777777}) {
      const double y = mantissa * std::pow(10.0, e / 10.0);
      near_zero.add(y);
      near_zero.add(-y);
    }
  }
  near_zero.add(0.0);
  near_zero.add(-0.0);
  near_zero.add(std::numeric_limits<double>::denorm_min());
  near_zero.add(-std::numeric_limits<double>::min());
  check_within_2_ulp(near_zero, "near 0");

  Worst whole_range;  // up to the largest finite result and down into the subnormal results
  for (double y = -745.2; y <= 709.78; y += 0.0137) whole_range.add(y);
  for (double y = 709.0; y <= 709.7827; y += 1e-5) whole_range.add(y);
  for (double y = -746.0; y <= -708.0; y += 1e-4) whole_range.add(y);
  // ties of the reduction: y near multiples of ln 2 / 2, where rint(y / ln 2) switches
  for (int n = -2100; n <= 2046; ++n) {
    const double y = n * 0.5 * 0.6931471805599453;
    if (y < -745.2 || y > 709.78) continue;
    for (const double y_near : {std::nextafter(y, -1e9), y, std::nextafter(y, 1e9)}) whole_range.add(y_near);
  }
  check_within_2_ulp(whole_range, "[-746, 709.78]");

  Worst random;
  std::mt19937_64 generator(20260101);
  std::uniform_real_distribution<double> wide(-746.0, 709.78), narrow(-20.0, 20.0), tiny(-1e-6, 1e-6);
  for (int i = 0; i < 300000; ++i) {
    random.add(wide(generator));
    random.add(narrow(generator));
    random.add(tiny(generator));
  }
  check_within_2_ulp(random, "random");
}

TEST_CASE("k_winners_exp treats NaN, infinities, overflow and underflow as std::exp", "[kernels][k_winners]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(std::isnan(k_winners_exp(std::numeric_limits<double>::quiet_NaN())));
  CHECK(std::isnan(k_winners_exp(-std::numeric_limits<double>::quiet_NaN())));
  CHECK(k_winners_exp(inf) == inf);
  CHECK(k_winners_exp(-inf) == 0.0);
  CHECK_FALSE(std::signbit(k_winners_exp(-inf)));
  for (const double y : {709.79, 709.8, 710.0, 710.5, 800.0, 1e5, 1e300, std::numeric_limits<double>::max()}) {
    INFO("y = " << y);
    CHECK(std::exp(y) == inf);
    CHECK(k_winners_exp(y) == inf);
  }
  for (const double y : {-745.2, -745.5, -746.0, -746.5, -800.0, -1e5, -1e300, std::numeric_limits<double>::lowest()}) {
    INFO("y = " << y);
    CHECK(std::exp(y) == 0.0);
    CHECK(k_winners_exp(y) == 0.0);
    CHECK_FALSE(std::signbit(k_winners_exp(y)));
  }
  // the largest finite result and the smallest subnormal one, as std::exp gives them
  CHECK(k_winners_exp(709.78) == std::exp(709.78));
  CHECK(std::isfinite(k_winners_exp(709.78)));
  CHECK(k_winners_exp(-745.1) == std::exp(-745.1));
  CHECK(k_winners_exp(-745.1) > 0.0);
  CHECK(k_winners_exp(0.0) == 1.0);
  CHECK(k_winners_exp(-0.0) == 1.0);
}

#include <doctest/doctest.h>

#include "allocator.h"
#include "ops/ops.h"
#include "transforms.h"

using namespace fastsync;

TEST_CASE("donation: a 1,000-op elementwise chain reuses one buffer") {
  const int64_t n = 1 << 20;  // 4 MiB of float32
  const size_t one = n * sizeof(float);
  Stream s = new_stream(cpu_device);
  array x = ones({n}, float32, s);
  eval({x});
  auto& alloc = allocator::host();
  synchronize(s);
  size_t base = alloc.active_memory();
  alloc.reset_peak_memory();
  array y = add(x, scalar(1.0), s);  // x is held here: not donatable
  for (int i = 0; i < 999; ++i) y = multiply(add(y, scalar(1.0), s), scalar(1.0), s);
  eval({y});
  size_t peak = alloc.peak_memory() - base;
  MESSAGE("peak above baseline: " << peak / double(one) << " arrays");
  CHECK(peak <= 3 * one);
  CHECK(*static_cast<const float*>(y.raw_ptr()) == doctest::Approx(1000.0f + 1.0f));
}

TEST_CASE("donation: an input the user still holds is never overwritten") {
  Stream s = new_stream(cpu_device);
  array x = ones({1024}, float32, s);
  array y = exp(add(x, scalar(1.0), s), s);
  eval({y});
  eval({x});
  CHECK(*static_cast<const float*>(x.raw_ptr()) == 1.0f);
}

#include <doctest/doctest.h>

#include "allocator.h"
#include "ops/ops.h"
#include "primitives/indexing.h"
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

// A buffer whose other owners are tasks queued earlier on the same CPU stream
// (the previous step's reads, still in flight) is written in place by the next
// step; queued readers on another stream rule that out. Either way every read
// sees the contents its step left.
static void cache_steps(const Stream& writes, const Stream& reads, int steps, int64_t cols,
                        size_t* peak_arrays) {
  auto& alloc = allocator::host();
  array cache = zeros({steps, cols}, float32, writes);
  eval({cache});
  synchronize(writes);
  synchronize(reads);
  size_t base = alloc.active_memory();
  alloc.reset_peak_memory();
  std::vector<array> sums;
  for (int i = 0; i < steps; ++i) {
    // A broadcast scalar: no row buffer in flight beside the cache.
    array row = broadcast_to(astype(scalar(double(i + 1)), float32, writes), {1, cols}, writes);
    cache =
        array(cache.shape(), cache.dtype(),
              std::make_shared<SliceUpdate>(writes, Shape{i, 0}, Shape{i + 1, cols}, Shape{1, 1}),
              {cache, row});
    sums.push_back(sum(cache, {}, false, reads));
    async_eval({sums.back()});
  }
  eval(sums);
  *peak_arrays = (alloc.peak_memory() - base) / (steps * cols * sizeof(float));
  for (int i = 0; i < steps; ++i) {
    CHECK(*static_cast<const float*>(sums[i].raw_ptr()) ==
          doctest::Approx(double(cols) * (i + 1) * (i + 2) / 2));
  }
}

TEST_CASE("donation: in place past reads queued on the same stream, not on another") {
  Stream s = new_stream(cpu_device), other = new_stream(cpu_device);
  size_t peak = 0;
  cache_steps(s, s, 32, 8192, &peak);
  MESSAGE("same stream: peak " << peak << " caches above the baseline");
  CHECK(peak <= 1);
  cache_steps(s, other, 32, 8192, &peak);
  MESSAGE("reads on another stream: peak " << peak << " caches above the baseline");
}

TEST_CASE("donation: Data::queue says when a buffer gains its first queued owner") {
  Data d(allocator::Buffer{});
  CHECK(d.queue(3));  // the GPU's reuse registers a buffer once, here
  CHECK_FALSE(d.queue(3));
  CHECK(d.queued_on(3) == 2);
  CHECK_FALSE(d.queue(4));
  CHECK(d.queued_on(3) == -1);  // owners on two streams: neither may write it in place
  d.unqueue();
  d.unqueue();
  d.unqueue();
  CHECK(d.queued_on(3) == 0);
  CHECK(d.queue(4));
  CHECK(d.queued_on(4) == 1);
  d.unqueue();
}

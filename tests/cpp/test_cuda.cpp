// The CUDA backend's runtime pieces, driven directly: the per-stream encoder
// and its retention, marks (events and fences on GPU streams), and
// crossings between the host and the device. Each case returns early, with
// a message, where the build has no CUDA backend or the machine no GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "event.h"
#include "fence.h"
#include "ops/ops.h"
#include "scheduler.h"
#include "transforms.h"

using namespace fastsync;

namespace {

bool have_gpu() {
  if (gpu_backend().is_available()) return true;
  MESSAGE("skipped: no CUDA backend or no GPU");
  return false;
}

// The values of a float32 array, read on the host: host_readable copies a
// device array to the host; a reshape there makes it row-major (a no-op for
// an array that already is).
std::vector<float> host_values(const array& a) {
  array c = reshape(host_readable(a), {a.size()}, cpu_device);
  eval({c});
  auto* p = static_cast<const float*>(c.raw_ptr());
  return std::vector<float>(p, p + c.size());
}

}  // namespace

TEST_CASE("cuda encoder: a chain of ops on one GPU stream runs in order") {
  if (!have_gpu()) return;
  Stream g = new_stream(gpu_device);
  array x = ones({1000}, float32, g);
  for (int i = 0; i < 200; ++i) x = multiply(add(x, scalar(1.0), g), scalar(1.0), g);
  eval({x});
  auto v = host_values(x);
  REQUIRE(v.size() == 1000);
  CHECK(v[0] == 201.0f);
  CHECK(v[999] == 201.0f);
}

TEST_CASE("cuda encoder: retained buffers are released once the GPU is past them") {
  if (!have_gpu()) return;
  Stream g = new_stream(gpu_device);
  std::weak_ptr<Data> input_data;
  array y = zeros({1}, float32, g);
  {
    array x = ones({1 << 20}, float32, g);
    eval({x});
    input_data = x.data_shared_ptr();
    y = sum(exp(x, g), {}, false, g);
    async_eval({y});
  }
  // The user's handle is gone; the encoder may still hold the buffer.
  synchronize(g);
  y.wait();
  CHECK(input_data.expired());
  CHECK(host_values(y)[0] == doctest::Approx(std::exp(1.0f) * (1 << 20)).epsilon(1e-3));
}

TEST_CASE("cuda marks: an event on a GPU stream is reached after its work") {
  if (!have_gpu()) return;
  Stream g = new_stream(gpu_device);
  array x = ones({1 << 22}, float32, g);
  for (int i = 0; i < 20; ++i) x = sqrt(add(x, scalar(3.0), g), g);
  async_eval({x});
  REQUIRE(x.event());
  const Event& e = *x.event();
  e.wait();
  CHECK(e.is_signaled());
  CHECK_FALSE(e.error_for(UINT64_MAX, nullptr));
}

TEST_CASE("cuda marks: a fence orders one GPU stream after another") {
  if (!have_gpu()) return;
  Stream a = new_stream(gpu_device), b = new_stream(gpu_device);
  for (int round = 0; round < 20; ++round) {
    array x = full({1 << 20}, scalar(float(round)), float32, a);
    for (int i = 0; i < 10; ++i) x = add(x, scalar(1.0), a);
    array y = multiply(x, scalar(2.0), b);  // b waits on a's fence
    eval({y});
    auto v = host_values(y);
    CHECK(v[0] == 2.0f * (round + 10));
    CHECK(v[(1 << 20) - 1] == 2.0f * (round + 10));
  }
}

TEST_CASE("cuda marks: a CPU stream waits on a GPU stream's mark") {
  if (!have_gpu()) return;
  Stream g = new_stream(gpu_device), c = new_stream(cpu_device);
  array x = ones({4096}, float32, g);
  for (int i = 0; i < 50; ++i) x = add(x, scalar(1.0), g);
  async_eval({x});
  // The CPU stream consumes x in a later eval: an encoded wait on x's
  // event, then a crossing to the host.
  array y = add(x, scalar(1.0), c);
  eval({y});
  auto* p = static_cast<const float*>(y.raw_ptr());
  CHECK(p[0] == 52.0f);
  CHECK(p[4095] == 52.0f);
}

TEST_CASE("cuda crossings: host data in flight on a CPU stream reaches a GPU op") {
  if (!have_gpu()) return;
  Stream g = new_stream(gpu_device), c = new_stream(cpu_device);
  for (int round = 0; round < 10; ++round) {
    array h = full({1 << 16}, scalar(float(round)), float32, c);
    for (int i = 0; i < 5; ++i) h = add(h, scalar(1.0), c);
    array d = multiply(h, scalar(3.0), g);  // CPU -> GPU, staged in pinned memory
    array back = add(d, scalar(1.0), c);    // GPU -> CPU
    eval({back});
    auto* p = static_cast<const float*>(back.raw_ptr());
    CHECK(p[0] == 3.0f * (round + 5) + 1.0f);
    CHECK(p[(1 << 16) - 1] == 3.0f * (round + 5) + 1.0f);
  }
}

TEST_CASE("cuda crossings: a strided host view crosses with its layout") {
  if (!have_gpu()) return;
  Stream g = new_stream(gpu_device);
  array m = reshape(arange(0, 12, 1, float32, cpu_device), {3, 4}, cpu_device);
  eval({m});
  array t = transpose(m, cpu_device);  // (4, 3), strided
  eval({t});
  array d = add(t, scalar(0.0), g);
  eval({d});
  auto v = host_values(d);
  std::vector<float> want = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
  CHECK(v == want);
}

// The transforms' contract with the eval driver: a function evaluated while
// it is traced keeps its graph (no detach, no donation), and gradients built
// from worker-thread streams come back right.
#include <doctest/doctest.h>

#include "autodiff.h"
#include "ops/ops.h"
#include "transforms.h"
#include "vmap.h"

using namespace fastsync;

namespace {
float first(array a) {
  eval({a});
  return *static_cast<const float*>(a.raw_ptr());
}
}  // namespace

TEST_CASE("autodiff: evaluating mid-trace keeps the graph the backward pass walks") {
  Stream s = new_stream(cpu_device);
  array x = full({1024}, scalar(0.5), float32, s);
  auto [outs, grads] = vjp(
      [&](const std::vector<array>& in) {
        array y = exp(multiply(in[0], scalar(2.0), s), s);  // would be donated to sin
        eval({y});                                          // must not detach y
        return std::vector<array>{sin(y, s)};
      },
      {x}, {ones({1024}, float32, s)});
  float y = std::exp(1.0f);
  CHECK(first(grads[0]) == doctest::Approx(std::cos(y) * y * 2.0f).epsilon(1e-5));
  CHECK(first(outs[0]) == doctest::Approx(std::sin(y)).epsilon(1e-5));
}

TEST_CASE("autodiff: vjp and jvp agree on a composite, on a side stream") {
  Stream s = new_stream(cpu_device);
  array x = full({8}, scalar(0.3), float32, s);
  auto f = [&](const std::vector<array>& in) {
    return std::vector<array>{sum(multiply(tanh(in[0], s), in[0], s), {}, false, s)};
  };
  auto [o1, g] = vjp(f, {x}, {scalar(1.0f)});
  auto [o2, t] = jvp(f, {x}, {ones({8}, float32, s)});
  CHECK(first(t[0]) == doctest::Approx(first(sum(g[0], {}, false, s))).epsilon(1e-5));
}

TEST_CASE("vmap: batched rules and the per-entry fallback agree with a loop") {
  array x = reshape(arange(0, 12, 1, float32), {3, 4});
  auto f = [](const std::vector<array>& in) {
    // sum batches directly; the slice falls back to one node per entry.
    array part = slice(in[0], {1}, {3}, {});
    return std::vector<array>{add(sum(in[0], {}, false), sum(part, {}, false))};
  };
  array got = vmap(f, {x}, {0}, {0})[0];
  eval({got});
  for (int b = 0; b < 3; ++b) {
    float row = 0, part = 0;
    for (int j = 0; j < 4; ++j) row += 4 * b + j;
    for (int j = 1; j < 3; ++j) part += 4 * b + j;
    CHECK(static_cast<const float*>(got.raw_ptr())[b] == doctest::Approx(row + part));
  }
}

TEST_CASE("graph: a dropped sibling output, recreated, still leads to its node") {
  // What a vjp that reads a sibling the caller dropped relies on (the flash
  // attention's log-sum-exp): a graph built on the recreated array
  // evaluates its node first.
  Stream s = new_stream(cpu_device);
  array x = full({4}, scalar(7.0), float32, s);
  array q = divmod(x, full({4}, scalar(2.0), float32, s), s)[0];  // the remainder is dropped
  std::vector<array> both = q.outputs();
  REQUIRE(both.size() == 2);
  CHECK(both[1].has_node());
  CHECK(first(add(both[1], scalar(1.0), s)) == doctest::Approx(2.0f));
  CHECK(first(q) == doctest::Approx(3.0f));
}

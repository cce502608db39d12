#include <doctest/doctest.h>

#include <vector>

#include "ops/linalg.h"
#include "ops/ops.h"
#include "transforms.h"

using namespace fastsync;

namespace {
// a[i][j] = i + 2j over (m, k); b = all ones over (k, n): row i of a @ b is
// the sum of row i of a in every column.
array ramp(int64_t m, int64_t k, Stream s) {
  std::vector<float> v(m * k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < k; ++j) v[i * k + j] = float(i + 2 * j);
  }
  return array(v.data(), {m, k}, float32);
}
}  // namespace

TEST_CASE("linalg: matmul links BLAS and computes on a stream's worker") {
  Stream s = new_stream(cpu_device);
  array a = ramp(5, 7, s);
  array c = matmul(a, ones({7, 3}, float32, s), s);
  eval({c});
  CHECK(c.shape() == Shape{5, 3});
  for (int64_t i = 0; i < 5; ++i) {
    float want = 7 * i + 2 * 21;
    CHECK(c.data<float>()[i * 3] == want);
    CHECK(c.data<float>()[i * 3 + 2] == want);
  }
  array d = addmm(ones({3}, float32, s), transpose(a, s), ones({5, 3}, float32, s), 2.0, 0.5, s);
  eval({d});
  // Column j of a sums to 10 + 10j.
  CHECK(d.data<float>()[0] == doctest::Approx(0.5 + 2 * 10));
  CHECK(d.data<float>()[6 * 3 + 1] == doctest::Approx(0.5 + 2 * (10 + 60)));
}

TEST_CASE("linalg: large products from several streams at once") {
  // Big enough for OpenBLAS's thread pool; NN on one stream, TN on another.
  const int64_t m = 256, k = 512, n = 128;
  std::vector<Stream> streams = {new_stream(cpu_device), new_stream(cpu_device)};
  array a = ramp(m, k, streams[0]);
  array at = transpose(ramp(k, m, streams[0]), streams[0]);
  array w = full({k, n}, scalar(1.0), float32, streams[0]);
  eval({a, at, w});
  std::vector<array> outs;
  for (int r = 0; r < 8; ++r) {
    outs.push_back(matmul(a, w, streams[0]));
    outs.push_back(matmul(at, w, streams[1]));
  }
  eval(outs);
  for (int r = 0; r < 8; ++r) {
    const float* x = outs[2 * r].data<float>();
    const float* y = outs[2 * r + 1].data<float>();
    // Row i of a sums to k*i + k(k-1); row i of at = column i of ramp(k, m).
    CHECK(x[(m - 1) * n] == float(k * (m - 1) + k * (k - 1)));
    CHECK(y[(m - 1) * n] == float(k * (k - 1) / 2 + 2 * k * (m - 1)));
  }
}

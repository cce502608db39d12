// Random numbers from explicit keys (counter-based, reproducible), or from a
// process-wide key that each call without a key splits (thread-safe).
//
// Every sampler is composed of RandomBits and ordinary ops, so it runs on
// every backend and stream, and the same key gives the same numbers on each.
// Signatures and errors follow mlx.core.random.
#pragma once

#include <optional>

#include "ops/ops.h"

namespace fastsync::random {

array key(uint64_t seed);
array scalar_of_u32(uint32_t v);
void seed(uint64_t seed);
// A key drawn from the process-wide state (what calls without a key use).
array next_global_key();
// `num` new keys, shape (num, 2).
array split(const array& key, int num = 2, StreamOrDevice s = {});
array bits(const Shape& shape, const std::optional<array>& key = {}, StreamOrDevice s = {});
// Uniform in [low, high); low and high broadcast to `shape`.
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = {}, StreamOrDevice s = {});
// Normal with mean `loc` and deviation `scale` (each absent, a scalar or an
// array that broadcasts to `shape`), computed in float32 (float64 for
// float64) and rounded once to `dtype`, then scaled and shifted in `dtype`.
array normal(const Shape& shape, Dtype dtype = float32, const std::optional<array>& loc = {},
             const std::optional<array>& scale = {}, const std::optional<array>& key = {},
             StreamOrDevice s = {});
// Integers in [low, high) of an integer dtype or bool, exact for any bounds
// the dtype holds; high <= low gives low.
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = {}, StreamOrDevice s = {});
// True with probability p (floating); no shape: p's shape.
array bernoulli(const array& p, const std::optional<Shape>& shape = {},
                const std::optional<array>& key = {}, StreamOrDevice s = {});
// A normal restricted to [lower, upper]; no shape: the bounds' broadcast shape.
array truncated_normal(const array& lower, const array& upper,
                       const std::optional<Shape>& shape = {}, Dtype dtype = float32,
                       const std::optional<array>& key = {}, StreamOrDevice s = {});
// The standard Gumbel distribution (CDF exp(-exp(-x))).
array gumbel(const Shape& shape, Dtype dtype = float32, const std::optional<array>& key = {},
             StreamOrDevice s = {});
// The Laplace distribution with mean `loc` and scale `scale`.
array laplace(const Shape& shape, Dtype dtype = float32, double loc = 0.0, double scale = 1.0,
              const std::optional<array>& key = {}, StreamOrDevice s = {});
// Indices (uint32) sampled from softmax(logits) along `axis`. At most one of
// `shape` (which the logits' shape without `axis` broadcasts to) and
// `num_samples` (samples per distribution, in a new last axis).
array categorical(const array& logits, int axis = -1, const std::optional<Shape>& shape = {},
                  const std::optional<int64_t>& num_samples = {},
                  const std::optional<array>& key = {}, StreamOrDevice s = {});
// A random permutation of arange(n) (uint32), or of x along `axis`.
array permutation(int64_t n, const std::optional<array>& key = {}, StreamOrDevice s = {});
array permutation(const array& x, int axis = 0, const std::optional<array>& key = {},
                  StreamOrDevice s = {});
// Samples of N(mean, cov): mean (..., n), cov (..., n, n) symmetric positive
// semi-definite; the output is (broadcast(shape, batch shapes)..., n).
// float32 or float64 only.
array multivariate_normal(const array& mean, const array& cov, const Shape& shape = {},
                          Dtype dtype = float32, const std::optional<array>& key = {},
                          StreamOrDevice s = {});

}  // namespace fastsync::random

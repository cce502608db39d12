// Random numbers from explicit keys (counter-based, reproducible), or from a
// process-wide key that each call without a key splits (thread-safe).
#pragma once

#include <optional>

#include "ops/ops.h"

namespace fastsync::random {

array key(uint64_t seed);
array scalar_of_u32(uint32_t v);
void seed(uint64_t seed);
// `num` new keys, shape (num, 2).
array split(const array& key, int num = 2, StreamOrDevice s = {});
array bits(const Shape& shape, const std::optional<array>& key = {}, StreamOrDevice s = {});
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = {}, StreamOrDevice s = {});
array normal(const Shape& shape, Dtype dtype = float32, double loc = 0.0, double scale = 1.0,
             const std::optional<array>& key = {}, StreamOrDevice s = {});
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = {}, StreamOrDevice s = {});
array bernoulli(const array& p, const std::optional<Shape>& shape = {},
                const std::optional<array>& key = {}, StreamOrDevice s = {});
array categorical(const array& logits, int axis = -1, const std::optional<array>& key = {},
                  StreamOrDevice s = {});

}  // namespace fastsync::random

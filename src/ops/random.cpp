#include "ops/random.h"

#include <cmath>
#include <mutex>

#include "errors.h"
#include "primitives/binary.h"
#include "primitives/random.h"

namespace fastsync::random {

namespace {

// The process-wide key; guarded by its mutex (any thread may draw).
std::mutex global_mutex;
uint32_t global_k0 = 0, global_k1 = 0;
uint64_t global_counter = 0;

array key_of(uint32_t k0, uint32_t k1) {
  uint32_t k[2] = {k0, k1};
  return array(k, {2}, uint32);
}

// A fresh key from the global state: the global key hashed with a counter.
array next_global_key() {
  std::lock_guard lk(global_mutex);
  uint32_t o0, o1;
  uint64_t c = global_counter++;
  // The high bit keeps these counters apart from the ones split() uses.
  threefry2x32(global_k0, global_k1, static_cast<uint32_t>(c),
               static_cast<uint32_t>(c >> 32) | 0x80000000u, o0, o1);
  return key_of(o0, o1);
}

array checked_key(const std::optional<array>& key) {
  if (!key) return next_global_key();
  if (key->dtype() != uint32 || key->shape() != Shape{2}) {
    throw std::invalid_argument("[random] a key is a uint32 array of shape (2,), got " +
                                std::string(key->dtype().name()) + " " + shape_str(key->shape()));
  }
  return *key;
}

void require_float(const char* op, Dtype d) {
  if (!is_floating(d)) {
    throw std::invalid_argument(std::string("[random.") + op + "] dtype must be floating, got " +
                                d.name());
  }
}

// Uniform in [0, 1) with 24 random bits, as float32.
array unit_uniform(const Shape& shape, const array& key, StreamOrDevice s) {
  auto b = right_shift(bits(shape, key, s), scalar_of_u32(8), s);
  return multiply(astype(b, float32, s), weak_scalar(1.0 / (1 << 24), float32), s);
}

}  // namespace

array scalar_of_u32(uint32_t v) { return array(&v, {}, uint32); }

array key(uint64_t seed) {
  return key_of(static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed));
}

void seed(uint64_t seed) {
  std::lock_guard lk(global_mutex);
  global_k0 = static_cast<uint32_t>(seed >> 32);
  global_k1 = static_cast<uint32_t>(seed);
  global_counter = 0;
}

array bits(const Shape& shape, const std::optional<array>& key, StreamOrDevice s) {
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[random] negative dimension in shape");
  }
  return array(shape, uint32, std::make_shared<RandomBits>(to_stream(s), shape),
               {checked_key(key)});
}

array split(const array& key, int num, StreamOrDevice s) {
  if (num < 1) throw std::invalid_argument("[random.split] num must be at least 1");
  return reshape(bits({num * 2}, key, s), {num, 2}, s);
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, StreamOrDevice s) {
  require_float("uniform", dtype);
  Shape out = broadcast_shapes(broadcast_shapes(low.shape(), high.shape()), shape);
  if (out != shape) {
    throw std::invalid_argument("[random.uniform] low and high must broadcast to shape " +
                                shape_str(shape));
  }
  auto u = unit_uniform(shape, checked_key(key), s);
  auto lo = astype(low, dtype, s), hi = astype(high, dtype, s);
  auto r = add(lo, multiply(astype(u, dtype, s), subtract(hi, lo, s), s), s);
  // Rounding to a narrower dtype can reach `high`: keep the interval open.
  return minimum(r, astype(hi, dtype, s), s);
}

array normal(const Shape& shape, Dtype dtype, double loc, double scale,
             const std::optional<array>& key, StreamOrDevice s) {
  require_float("normal", dtype);
  auto k = split(checked_key(key), 2, s);
  auto k1 = reshape(slice(k, {0}, {1}, {}, s), {2}, s);
  auto k2 = reshape(slice(k, {1}, {2}, {}, s), {2}, s);
  // Box-Muller; 1 - u lies in (0, 1], so the log is finite.
  auto u1 = subtract(weak_scalar(1.0, float32), unit_uniform(shape, k1, s), s);
  auto u2 = unit_uniform(shape, k2, s);
  auto radius = sqrt(multiply(weak_scalar(-2.0, float32), log(u1, s), s), s);
  auto z = multiply(radius, cos(multiply(u2, weak_scalar(2 * M_PI, float32), s), s), s);
  z = add(multiply(z, weak_scalar(scale, float32), s), weak_scalar(loc, float32), s);
  return astype(z, dtype, s);
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, StreamOrDevice s) {
  if (!is_integral(dtype)) {
    throw std::invalid_argument(std::string("[random.randint] dtype must be an integer, got ") +
                                dtype.name());
  }
  auto lo = astype(low, float64, s), hi = astype(high, float64, s);
  auto u = uniform(lo, hi, shape, float64, key, s);
  return astype(floor(u, s), dtype, s);
}

array bernoulli(const array& p, const std::optional<Shape>& shape,
                const std::optional<array>& key, StreamOrDevice s) {
  Shape out = shape.value_or(p.shape());
  return less(unit_uniform(out, checked_key(key), s), p, s);
}

array categorical(const array& logits, int axis, const std::optional<array>& key,
                  StreamOrDevice s) {
  // Gumbel-max: argmax(logits + g) with g = -log(-log(u)) samples softmax(logits).
  auto u = unit_uniform(logits.shape(), checked_key(key), s);
  auto tiny = weak_scalar(1e-20, float32);
  auto g = negative(log(negative(log(add(u, tiny, s), s), s), s), s);
  return argmax(add(astype(logits, float32, s), g, s), axis, false, s);
}

}  // namespace fastsync::random

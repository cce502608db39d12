// The samplers of fastsync::random, composed of RandomBits and ordinary ops
// (no kernels of their own), so each runs on every backend. Samples are
// computed in float32, or float64 for float64 output, and rounded once.
#include "ops/random.h"

#include <cmath>
#include <mutex>

#include "errors.h"
#include "ops/axes.h"
#include "ops/linalg.h"
#include "primitives/binary.h"
#include "primitives/random.h"
#include "replay.h"

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

}  // namespace

// A fresh key from the global state: the global key hashed with a counter.
array next_global_key() {
  std::lock_guard lk(global_mutex);
  uint32_t o0, o1;
  uint64_t c = global_counter++;
  // The high bit keeps these counters apart from the ones split() uses.
  threefry2x32(global_k0, global_k1, static_cast<uint32_t>(c),
               static_cast<uint32_t>(c >> 32) | 0x80000000u, o0, o1);
  array k = key_of(o0, o1);
  compile_trace::note_global_key(k);
  return k;
}

namespace {

array checked_key(const std::optional<array>& key) {
  if (!key) return next_global_key();
  if (key->dtype() != uint32 || key->shape() != Shape{2}) {
    throw std::invalid_argument("[random] a key is a uint32 array of shape (2,), got " +
                                std::string(key->dtype().name()) + " " + shape_str(key->shape()));
  }
  return *key;
}

// Two independent keys from one: draws that need two sets of bits use them.
std::pair<array, array> split2(const array& key, StreamOrDevice s) {
  auto k = split(key, 2, s);
  return {reshape(slice(k, {0}, {1}, {}, s), {2}, s), reshape(slice(k, {1}, {2}, {}, s), {2}, s)};
}

void require_float(const char* op, Dtype d) {
  if (!is_floating(d)) {
    throw std::invalid_argument(std::string("[random.") + op + "] dtype must be floating, got " +
                                d.name());
  }
}

// The dtype samples of `dtype` are computed in.
Dtype compute_type(Dtype dtype) { return dtype == float64 ? float64 : float32; }

bool broadcasts_to(const Shape& x, const Shape& target) {
  if (x.size() > target.size()) return false;
  for (size_t i = 1; i <= x.size(); ++i) {
    int64_t d = x[x.size() - i];
    if (d != 1 && d != target[target.size() - i]) return false;
  }
  return true;
}

// broadcast_shapes with the op's name in the error.
Shape broadcast_or_throw(const char* op, const Shape& a, const Shape& b, const char* what) {
  try {
    return broadcast_shapes(a, b);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("[random.") + op + "] " + what + ": shapes " +
                                shape_str(a) + " and " + shape_str(b) +
                                " cannot be broadcast together");
  }
}

array u64_scalar(uint64_t v) { return array(&v, {}, uint64); }

// Uniform on a grid over [0, 1): float32 with 24 random bits, float64 with
// 53. `open` moves the grid half a step up, into (0, 1) (one bit fewer, so
// every value stays exact): a log of it, or of 1 minus it, is finite.
array unit_uniform(const Shape& shape, const array& key, StreamOrDevice s, Dtype compute = float32,
                   bool open = false) {
  int nbits = (compute == float64 ? 53 : 24) - (open ? 1 : 0);
  auto top = [&](const array& k, int n) {
    return right_shift(bits(shape, k, s), scalar_of_u32(32 - n), s);
  };
  auto grid = [&]() -> array {
    if (compute != float64) return astype(top(key, nbits), float32, s);
    auto [k1, k2] = split2(key, s);
    auto high = multiply(astype(top(k1, nbits - 26), float64, s),
                         weak_scalar(std::ldexp(1.0, 26), float64), s);
    return add(high, astype(top(k2, 26), float64, s), s);
  };
  array m = grid();
  if (open) m = add(m, weak_scalar(0.5, compute), s);
  return multiply(m, weak_scalar(std::ldexp(1.0, -nbits), compute), s);
}

// A standard normal in `compute` (Box-Muller); 1 - u lies in (0, 1], so the
// log is finite and |z| <= sqrt(2 log 2^53) < 9.
array standard_normal(const Shape& shape, const array& key, Dtype compute, StreamOrDevice s) {
  auto [k1, k2] = split2(key, s);
  auto u1 = subtract(weak_scalar(1.0, compute), unit_uniform(shape, k1, s, compute), s);
  auto u2 = unit_uniform(shape, k2, s, compute);
  auto radius = sqrt(multiply(weak_scalar(-2.0, compute), log(u1, s), s), s);
  return multiply(radius, cos(multiply(u2, weak_scalar(2 * M_PI, compute), s), s), s);
}

// Lower-triangular L with L L^T = cov (..., n, n), for symmetric positive
// semi-definite cov, in dtype t. fastsync has no factorization kernels, so
// this is right-looking Cholesky composed of ops and runs on every backend:
// step j takes the first column of the trailing (n - j) x (n - j) Schur
// complement, divides it by the square root of its pivot, and subtracts its
// outer product. A pivot within tol = 8 n eps times the original diagonal
// entry is rank deficiency (the column is zero: semi-definite matrices are
// fine); one below -tol, or a zero pivot whose column is not, means cov is
// not PSD, and NaN (as for NaN entries) fills that column of L. Cost:
// O(n) graph nodes and n^3 / 3 multiply-adds in elementwise ops, which suits
// the small covariances this serves (n up to a few hundred).
array psd_cholesky(const array& cov, Dtype t, StreamOrDevice s) {
  int nd = cov.ndim();
  int64_t n = cov.shape(-1);
  auto last = [&](const array& a, int axis, int64_t start, int64_t stop) {
    std::vector<std::optional<int64_t>> b(a.ndim()), e(a.ndim());
    b[axis] = start;
    e[axis] = stop;
    return slice(a, b, e, {}, s);
  };
  double eps = t == float64 ? 2.2e-16 : 1.2e-7;
  auto zero = weak_scalar(0.0, t);
  array c = astype(cov, t, s);
  array diag = sum(multiply(c, eye(n, {}, 0, t, s), s), std::vector<int>{-1}, false, s);
  array a = c;
  std::vector<array> cols;
  for (int64_t j = 0; j < n; ++j) {
    auto col = squeeze(last(a, nd - 1, 0, 1), std::vector<int>{nd - 1}, s);  // (..., n - j)
    auto pivot = last(col, nd - 2, 0, 1);                                    // (..., 1)
    auto orig =
        squeeze(last(last(c, nd - 2, j, j + 1), nd - 1, j, j + 1), std::vector<int>{nd - 1}, s);
    auto tol = multiply(abs(orig, s), weak_scalar(8.0 * n * eps, t), s);
    auto pos = greater(pivot, tol, s);
    auto l =
        where(pos, divide(col, sqrt(where(pos, pivot, weak_scalar(1.0, t), s), s), s), zero, s);
    // PSD bounds the column: a_kj^2 <= a_jj a_kk <= tol diag_k when a_jj is
    // a zero pivot (a Schur complement's diagonal never exceeds cov's).
    auto bounded = all(
        less_equal(square(col, s),
                   multiply(weak_scalar(4.0, t), multiply(tol, last(diag, nd - 2, j, n), s), s), s),
        std::vector<int>{-1}, true, s);
    auto psd =
        logical_and(greater_equal(pivot, negative(tol, s), s), logical_or(pos, bounded, s), s);
    l = where(psd, l, weak_scalar(NAN, t), s);
    std::vector<std::pair<int64_t, int64_t>> widths(nd - 1, {0, 0});
    widths.back() = {j, 0};
    cols.push_back(pad(l, widths, zero, s));
    if (j + 1 < n) {
      auto rest = last(l, nd - 2, 1, n - j);  // (..., n - j - 1)
      auto outer = multiply(expand_dims(rest, {-1}, s), expand_dims(rest, {-2}, s), s);
      a = subtract(last(last(a, nd - 2, 1, n - j), nd - 1, 1, n - j), outer, s);
    }
  }
  return stack(cols, -1, s);
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
    if (d < 0) {
      throw std::invalid_argument("[random] negative dimension in shape " + shape_str(shape));
    }
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
  Shape bounds = broadcast_or_throw("uniform", low.shape(), high.shape(), "low and high");
  if (!broadcasts_to(bounds, shape)) {
    throw std::invalid_argument("[random.uniform] low and high (broadcast shape " +
                                shape_str(bounds) + ") must broadcast to shape " +
                                shape_str(shape));
  }
  Dtype c = compute_type(dtype);
  auto u = unit_uniform(shape, checked_key(key), s, c);
  auto lo = astype(low, dtype, s), hi = astype(high, dtype, s);
  auto r = add(lo, multiply(astype(u, dtype, s), subtract(hi, lo, s), s), s);
  // Rounding to a narrower dtype can reach `high`: keep the interval open.
  return minimum(r, hi, s);
}

// Complex normal samples: independent real and imaginary parts, each of
// variance 1/2 (so E|z|^2 = 1, as MLX and NumPy's convention for complex
// Gaussians).
static array standard_complex_normal(const Shape& shape, const array& key, StreamOrDevice s) {
  Shape pairs = shape;
  pairs.push_back(2);
  array z = multiply(standard_normal(pairs, key, float32, s), scalar(std::sqrt(0.5)), s);
  auto parts = split(z, 2, -1, s);
  array re = astype(squeeze(parts[0], std::vector<int>{-1}, s), complex64, s);
  array im = astype(squeeze(parts[1], std::vector<int>{-1}, s), complex64, s);
  return add(re, multiply(im, weak_scalar(complex64_t(0, 1), complex64), s), s);
}

array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc,
             const std::optional<array>& scale, const std::optional<array>& key, StreamOrDevice s) {
  if (!is_complex(dtype)) require_float("normal", dtype);
  for (const auto* p : {&loc, &scale}) {
    if (*p && !broadcasts_to((*p)->shape(), shape)) {
      throw std::invalid_argument(std::string("[random.normal] ") + (p == &loc ? "loc" : "scale") +
                                  " with shape " + shape_str((*p)->shape()) +
                                  " does not broadcast to shape " + shape_str(shape));
    }
  }
  array z =
      is_complex(dtype)
          ? standard_complex_normal(shape, checked_key(key), s)
          : astype(standard_normal(shape, checked_key(key), compute_type(dtype), s), dtype, s);
  // In dtype, as `scale * normal() + loc` computes it: the two agree exactly.
  if (scale) z = multiply(z, astype(*scale, dtype, s), s);
  if (loc) z = add(z, astype(*loc, dtype, s), s);
  return z;
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, StreamOrDevice s) {
  if (is_floating(dtype)) {
    throw std::invalid_argument(
        std::string("[random.randint] dtype must be an integer or bool, got ") + dtype.name());
  }
  Shape bounds = broadcast_or_throw("randint", low.shape(), high.shape(), "low and high");
  if (!broadcasts_to(bounds, shape)) {
    throw std::invalid_argument("[random.randint] low and high (broadcast shape " +
                                shape_str(bounds) + ") must broadcast to shape " +
                                shape_str(shape));
  }
  // Exact in integers: 64 random bits modulo the width of the interval
  // (the bias is below width / 2^64). The bounds compare in the output's
  // signedness; the width is their difference wrapped to uint64, which is
  // right even when it overflows int64.
  Dtype cmp = is_unsigned(dtype) ? uint64 : int64;
  auto lo = astype(low, cmp, s), hi = astype(high, cmp, s);
  auto width =
      where(less_equal(hi, lo, s), u64_scalar(1), astype(subtract(hi, lo, s), uint64, s), s);
  auto [k1, k2] = split2(checked_key(key), s);
  auto raw = bitwise_or(left_shift(astype(bits(shape, k1, s), uint64, s), u64_scalar(32), s),
                        astype(bits(shape, k2, s), uint64, s), s);
  auto r = add(astype(lo, uint64, s), remainder(raw, width, s), s);
  return astype(r, dtype, s);
}

array bernoulli(const array& p, const std::optional<Shape>& shape, const std::optional<array>& key,
                StreamOrDevice s) {
  if (!is_floating(p.dtype())) {
    throw std::invalid_argument(
        std::string("[random.bernoulli] p must be a floating point scalar or array, got ") +
        p.dtype().name());
  }
  Shape out = shape.value_or(p.shape());
  if (!broadcasts_to(p.shape(), out)) {
    throw std::invalid_argument("[random.bernoulli] p with shape " + shape_str(p.shape()) +
                                " does not broadcast to shape " + shape_str(out));
  }
  return less(unit_uniform(out, checked_key(key), s), p, s);
}

array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape,
                       Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  require_float("truncated_normal", dtype);
  Shape bounds =
      broadcast_or_throw("truncated_normal", lower.shape(), upper.shape(), "lower and upper");
  Shape out = shape.value_or(bounds);
  if (!broadcasts_to(bounds, out)) {
    throw std::invalid_argument("[random.truncated_normal] lower and upper (broadcast shape " +
                                shape_str(bounds) + ") must broadcast to shape " + shape_str(out));
  }
  // Inverse CDF: erf maps the bounds to [a, b] in (-1, 1); a uniform there
  // maps back through sqrt(2) erfinv. The clip keeps rounding (and bounds
  // beyond ~5 deviations, where erf's resolution runs out) inside, and
  // gives `lower` when lower > upper.
  Dtype c = compute_type(dtype);
  auto sqrt2 = weak_scalar(M_SQRT2, c);
  auto lo = astype(lower, c, s), hi = astype(upper, c, s);
  auto a = erf(divide(lo, sqrt2, s), s), b = erf(divide(hi, sqrt2, s), s);
  auto u = unit_uniform(out, checked_key(key), s, c, /*open=*/true);
  auto x = multiply(sqrt2, erfinv(add(a, multiply(u, subtract(b, a, s), s), s), s), s);
  return astype(maximum(minimum(x, hi, s), lo, s), dtype, s);
}

array gumbel(const Shape& shape, Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  require_float("gumbel", dtype);
  Dtype c = compute_type(dtype);
  auto u = unit_uniform(shape, checked_key(key), s, c, /*open=*/true);
  return astype(negative(log(negative(log(u, s), s), s), s), dtype, s);
}

array laplace(const Shape& shape, Dtype dtype, double loc, double scale,
              const std::optional<array>& key, StreamOrDevice s) {
  require_float("laplace", dtype);
  // Inverse CDF: v = 2u - 1 is uniform on (-1, 1), symmetric and never +-1,
  // and -sign(v) log(1 - |v|) is a standard Laplace sample.
  Dtype c = compute_type(dtype);
  auto u = unit_uniform(shape, checked_key(key), s, c, /*open=*/true);
  auto v = subtract(multiply(u, weak_scalar(2.0, c), s), weak_scalar(1.0, c), s);
  auto x = negative(multiply(sign(v, s), log1p(negative(abs(v, s), s), s), s), s);
  x = astype(x, dtype, s);
  if (scale != 1.0) x = multiply(x, weak_scalar(scale, dtype), s);
  if (loc != 0.0) x = add(x, weak_scalar(loc, dtype), s);
  return x;
}

array categorical(const array& logits, int axis, const std::optional<Shape>& shape,
                  const std::optional<int64_t>& num_samples, const std::optional<array>& key,
                  StreamOrDevice s) {
  if (shape && num_samples) {
    throw std::invalid_argument(
        "[random.categorical] at most one of shape and num_samples can be given");
  }
  if (logits.ndim() == 0) {
    throw std::invalid_argument("[random.categorical] logits must have at least one dimension");
  }
  if (num_samples && *num_samples < 0) {
    throw std::invalid_argument("[random.categorical] num_samples must be non-negative, got " +
                                std::to_string(*num_samples));
  }
  axis = normalize_axis("random.categorical", axis, logits.ndim());
  Shape reduced = logits.shape();
  reduced.erase(reduced.begin() + axis);
  // Gumbel-max: argmax(logits + g) over the category axis samples
  // softmax(logits). The noise has the output's shape with the category
  // axis inserted where the (broadcast) logits have it.
  array l = logits;
  Shape out;
  if (num_samples) {
    l = expand_dims(logits, {-1}, s);
    out = reduced;
    out.push_back(*num_samples);
  } else if (shape) {
    out = *shape;
    if (!broadcasts_to(reduced, out)) {
      throw std::invalid_argument("[random.categorical] shape " + shape_str(out) +
                                  " is not broadcast compatible with the logits' shape without "
                                  "the category axis " +
                                  shape_str(reduced));
    }
  } else {
    out = reduced;
  }
  int offset = axis + static_cast<int>(out.size()) - (l.ndim() - 1);
  Shape noise = out;
  noise.insert(noise.begin() + offset, logits.shape(axis));
  auto g = gumbel(noise, float32, key, s);
  return argmax(add(g, l, s), offset, false, s);
}

array permutation(int64_t n, const std::optional<array>& key, StreamOrDevice s) {
  if (n < 0) {
    throw std::invalid_argument("[random.permutation] n must be non-negative, got " +
                                std::to_string(n));
  }
  // Sorting random keys: ties (p ~ n^2 / 2^33) keep index order, a
  // negligible bias.
  return argsort(bits({n}, key, s), 0, s);
}

array permutation(const array& x, int axis, const std::optional<array>& key, StreamOrDevice s) {
  if (x.ndim() == 0) {
    throw std::invalid_argument("[random.permutation] x must have at least one dimension");
  }
  axis = normalize_axis("random.permutation", axis, x.ndim());
  return take(x, permutation(x.shape(axis), key, s), axis, s);
}

array multivariate_normal(const array& mean, const array& cov, const Shape& shape, Dtype dtype,
                          const std::optional<array>& key, StreamOrDevice s) {
  if (dtype != float32 && dtype != float64) {
    throw std::invalid_argument(
        std::string("[random.multivariate_normal] dtype must be float32 or float64, got ") +
        dtype.name());
  }
  if (mean.ndim() < 1) {
    throw std::invalid_argument(
        "[random.multivariate_normal] mean must have at least one dimension");
  }
  if (cov.ndim() < 2) {
    throw std::invalid_argument(
        "[random.multivariate_normal] cov must have at least two dimensions");
  }
  int64_t n = mean.shape(-1);
  if (cov.shape(-1) != cov.shape(-2)) {
    throw std::invalid_argument(
        "[random.multivariate_normal] the last two dimensions of cov must be equal, got cov "
        "with shape " +
        shape_str(cov.shape()));
  }
  if (cov.shape(-1) != n) {
    throw std::invalid_argument("[random.multivariate_normal] mean with shape " +
                                shape_str(mean.shape()) + " and cov with shape " +
                                shape_str(cov.shape()) + " have different sizes n");
  }
  Shape mean_batch(mean.shape().begin(), mean.shape().end() - 1);
  Shape cov_batch(cov.shape().begin(), cov.shape().end() - 2);
  Shape out = broadcast_or_throw("multivariate_normal", mean_batch, cov_batch,
                                 "the batch shapes of mean and cov");
  out = broadcast_or_throw("multivariate_normal", out, shape,
                           "the batch shape of mean and cov, and shape");
  out.push_back(n);
  // x = mean + z L^T with L L^T = cov: its covariance is L L^T.
  auto l = psd_cholesky(cov, dtype, s);
  auto z = standard_normal(out, checked_key(key), dtype, s);
  array x = cov.ndim() == 2 ? matmul(z, transpose(l, s), s)
                            : squeeze(matmul(expand_dims(z, {-2}, s), swapaxes(l, -1, -2, s), s),
                                      std::vector<int>{-2}, s);
  return add(x, astype(mean, dtype, s), s);
}

}  // namespace fastsync::random

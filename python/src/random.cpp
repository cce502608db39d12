// Bindings for fastsync.random (a submodule of _core). Names, argument order
// and defaults are mlx.core.random's: every argument may be passed by
// position or keyword. Arguments are converted here; the C++ ops check them.
#include "ops/random.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace fastsync::py {

namespace {

// key= arguments: a key array, or None for the process-wide key.
std::optional<array> to_key(nb::handle key) { return to_optional<array>(key); }

// shape= of the samplers: None, like the default (), gives one sample.
Shape sample_shape(nb::handle shape) { return to_optional_shape(shape).value_or(Shape{}); }

// A bound or parameter of a sampler: arrays as they are, Python scalars in
// the output's dtype (weak-scalar rule).
array to_param(nb::handle x, Dtype d) { return to_operand(x, d); }

std::optional<array> to_optional_param(nb::handle x, Dtype d) {
  if (x.is_none()) return std::nullopt;
  return to_param(x, d);
}

// randint bounds: Python ints keep their exact value, up to uint64's range.
array to_bound(nb::handle x, Dtype d) {
  if (nb::isinstance<nb::int_>(x) && !nb::isinstance<nb::bool_>(x)) {
    int64_t v;
    uint64_t big;
    if (nb::try_cast(x, v)) return to_param(x, is_unsigned(d) ? uint64 : int64);
    if (nb::try_cast(x, big)) return array(&big, {}, uint64);
  }
  return to_param(x, d);
}

}  // namespace

void init_random(nb::module_& m) {
  nb::module_ r = m.def_submodule("random", "Counter-based random numbers (threefry-2x32).");
  r.def(
      "key", [](uint64_t seed) { return random::key(seed); }, nb::arg("seed"),
      "A key (uint32, shape (2,)) from an integer seed.");
  // mlx.core.random.state's form: a list holding the process-wide key (draws
  // without a key hash it with a counter). MLX code names it as compile
  // state; fastsync's compile draws fresh keys per call without it.
  nb::list state;
  state.append(random::key(0));
  r.attr("state") = state;
  r.def(
      "seed",
      [state](uint64_t seed) {
        random::seed(seed);
        state[0] = nb::cast(random::key(seed));
      },
      nb::arg("seed"), "Seed the process-wide key used when no key is passed.");
  r.def(
      "split",
      [](const array& key, int num, nb::handle s) {
        return random::split(key, num, to_stream_or_device(s));
      },
      nb::arg("key"), nb::arg("num") = 2, nb::arg("stream") = nb::none(),
      "`num` independent keys, shape (num, 2).");
  r.def(
      "bits",
      [](nb::handle shape, nb::handle key, nb::handle s) {
        return random::bits(sample_shape(shape), to_key(key), to_stream_or_device(s));
      },
      nb::arg("shape") = nb::make_tuple(), nb::arg("key") = nb::none(),
      nb::arg("stream") = nb::none(), "Random uint32 bits.");
  r.def(
      "uniform",
      [](nb::handle low, nb::handle high, nb::handle shape, nb::handle dtype, nb::handle key,
         nb::handle s) {
        Dtype d = to_dtype(dtype).value_or(float32);
        return random::uniform(to_param(low, d), to_param(high, d), sample_shape(shape), d,
                               to_key(key), to_stream_or_device(s));
      },
      nb::arg("low") = 0, nb::arg("high") = 1, nb::arg("shape") = nb::make_tuple(),
      nb::arg("dtype") = nb::none(), nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
      "Uniform samples in [low, high); low and high (scalars or arrays) broadcast to "
      "shape. dtype: a floating dtype, float32 by default.");
  r.def(
      "normal",
      [](nb::handle shape, nb::handle dtype, nb::handle loc, nb::handle scale, nb::handle key,
         nb::handle s) {
        Dtype d = to_dtype(dtype).value_or(float32);
        return random::normal(sample_shape(shape), d, to_optional_param(loc, d),
                              to_optional_param(scale, d), to_key(key), to_stream_or_device(s));
      },
      nb::arg("shape") = nb::make_tuple(), nb::arg("dtype") = nb::none(),
      nb::arg("loc") = nb::none(), nb::arg("scale") = nb::none(), nb::arg("key") = nb::none(),
      nb::arg("stream") = nb::none(),
      "Normal samples with mean loc and deviation scale (scalars or arrays that broadcast "
      "to shape; None: 0 and 1).");
  r.def(
      "multivariate_normal",
      [](nb::handle mean, nb::handle cov, nb::handle shape, nb::handle dtype, nb::handle key,
         nb::handle s) {
        return random::multivariate_normal(to_array(mean), to_array(cov), sample_shape(shape),
                                           to_dtype(dtype).value_or(float32), to_key(key),
                                           to_stream_or_device(s));
      },
      nb::arg("mean"), nb::arg("cov"), nb::arg("shape") = nb::make_tuple(),
      nb::arg("dtype") = nb::none(), nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
      "Jointly normal samples: mean (..., n), cov (..., n, n) symmetric positive "
      "semi-definite; the output has shape broadcast(shape, batch shapes) + (n,). dtype: "
      "float32 (default) or float64. cov is factored by a Cholesky decomposition composed "
      "of elementwise ops (O(n) graph nodes, n^3 / 3 multiply-adds) on any device; a cov "
      "that is not positive semi-definite gives NaN.");
  r.def(
      "randint",
      [](nb::handle low, nb::handle high, nb::handle shape, nb::handle dtype, nb::handle key,
         nb::handle s) {
        Dtype d = to_dtype(dtype).value_or(int32);
        return random::randint(to_bound(low, d), to_bound(high, d), sample_shape(shape), d,
                               to_key(key), to_stream_or_device(s));
      },
      nb::arg("low"), nb::arg("high"), nb::arg("shape") = nb::make_tuple(),
      nb::arg("dtype") = nb::none(), nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
      "Integers in [low, high) of an integer dtype or bool (int32 by default); high <= low "
      "gives low.");
  r.def(
      "bernoulli",
      [](nb::handle p, nb::handle shape, nb::handle key, nb::handle s) {
        return random::bernoulli(to_array(p), to_optional_shape(shape), to_key(key),
                                 to_stream_or_device(s));
      },
      nb::arg("p") = 0.5, nb::arg("shape") = nb::none(), nb::arg("key") = nb::none(),
      nb::arg("stream") = nb::none(),
      "True with probability p (a float or a floating array; shape defaults to p's).");
  r.def(
      "truncated_normal",
      [](nb::handle lower, nb::handle upper, nb::handle shape, nb::handle dtype, nb::handle key,
         nb::handle s) {
        Dtype d = to_dtype(dtype).value_or(float32);
        return random::truncated_normal(to_param(lower, d), to_param(upper, d),
                                        to_optional_shape(shape), d, to_key(key),
                                        to_stream_or_device(s));
      },
      nb::arg("lower"), nb::arg("upper"), nb::arg("shape") = nb::none(),
      nb::arg("dtype") = nb::none(), nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
      "Normal samples restricted to [lower, upper] (scalars or arrays; shape defaults to "
      "their broadcast shape), by the inverse CDF.");
  r.def(
      "gumbel",
      [](nb::handle shape, nb::handle dtype, nb::handle key, nb::handle s) {
        return random::gumbel(sample_shape(shape), to_dtype(dtype).value_or(float32), to_key(key),
                              to_stream_or_device(s));
      },
      nb::arg("shape") = nb::make_tuple(), nb::arg("dtype") = nb::none(),
      nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
      "Standard Gumbel samples (CDF exp(-exp(-x))).");
  r.def(
      "laplace",
      [](nb::handle shape, nb::handle dtype, double loc, double scale, nb::handle key,
         nb::handle s) {
        return random::laplace(sample_shape(shape), to_dtype(dtype).value_or(float32), loc, scale,
                               to_key(key), to_stream_or_device(s));
      },
      nb::arg("shape") = nb::make_tuple(), nb::arg("dtype") = nb::none(), nb::arg("loc") = 0.0,
      nb::arg("scale") = 1.0, nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
      "Laplace samples with mean loc and scale b.");
  r.def(
      "categorical",
      [](nb::handle logits, int axis, nb::handle shape, std::optional<int64_t> num_samples,
         nb::handle key, nb::handle s) {
        return random::categorical(to_array(logits), axis, to_optional_shape(shape), num_samples,
                                   to_key(key), to_stream_or_device(s));
      },
      nb::arg("logits"), nb::arg("axis") = -1, nb::arg("shape") = nb::none(),
      nb::arg("num_samples") = nb::none(), nb::arg("key") = nb::none(),
      nb::arg("stream") = nb::none(),
      "Indices (uint32) sampled from softmax(logits) along axis. At most one of shape "
      "(broadcast compatible with the logits' shape without axis) and num_samples (a new "
      "last axis); neither: one sample per distribution.");
  r.def(
      "permutation",
      [](nb::handle x, int axis, nb::handle key, nb::handle s) {
        if (nb::isinstance<nb::int_>(x) && !nb::isinstance<nb::bool_>(x)) {
          return random::permutation(nb::cast<int64_t>(x), to_key(key), to_stream_or_device(s));
        }
        return random::permutation(to_array(x), axis, to_key(key), to_stream_or_device(s));
      },
      nb::arg("x"), nb::arg("axis") = 0, nb::arg("key") = nb::none(),
      nb::arg("stream") = nb::none(),
      "A random permutation of arange(x) (uint32) for an int x, or x permuted along axis.");
}

}  // namespace fastsync::py

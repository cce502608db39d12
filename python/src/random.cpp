// Bindings for fastsync.random (a submodule of _core).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "ops/random.h"

namespace fastsync::py {

namespace {

// key= arguments: a key array, or None for the process-wide key.
std::optional<array> to_key(nb::handle key) { return to_optional<array>(key); }

// shape= of the samplers: None, like the default (), gives one sample.
Shape sample_shape(nb::handle shape) { return to_optional_shape(shape).value_or(Shape{}); }

}  // namespace

void init_random(nb::module_& m) {
  nb::module_ r = m.def_submodule("random", "Counter-based random numbers (threefry-2x32).");
  r.def("key", [](uint64_t seed) { return random::key(seed); }, nb::arg("seed"),
        "A key (uint32, shape (2,)) from an integer seed.");
  r.def("seed", [](uint64_t seed) { random::seed(seed); }, nb::arg("seed"),
        "Seed the process-wide key used when no key is passed.");
  r.def("split", [](const array& key, int num, nb::handle s) {
    return random::split(key, num, to_stream_or_device(s));
  }, nb::arg("key"), nb::arg("num") = 2, nb::kw_only(), nb::arg("stream") = nb::none(),
        "`num` independent keys, shape (num, 2).");
  r.def("bits", [](nb::handle shape, nb::handle key, nb::handle s) {
    return random::bits(sample_shape(shape), to_key(key), to_stream_or_device(s));
  }, nb::arg("shape") = nb::make_tuple(), nb::kw_only(), nb::arg("key") = nb::none(),
        nb::arg("stream") = nb::none(), "Random uint32 bits.");
  r.def("uniform", [](nb::handle low, nb::handle high, nb::handle shape, nb::handle dtype,
                      nb::handle key, nb::handle s) {
    Dtype d = to_dtype(dtype).value_or(float32);
    return random::uniform(to_operand(low, d), to_operand(high, d), sample_shape(shape), d,
                           to_key(key), to_stream_or_device(s));
  }, nb::arg("low") = 0.0, nb::arg("high") = 1.0, nb::arg("shape") = nb::make_tuple(),
        nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("key") = nb::none(),
        nb::arg("stream") = nb::none(), "Uniform samples in [low, high).");
  r.def("normal", [](nb::handle shape, nb::handle dtype, double loc, double scale,
                     nb::handle key, nb::handle s) {
    return random::normal(sample_shape(shape), to_dtype(dtype).value_or(float32), loc, scale,
                          to_key(key), to_stream_or_device(s));
  }, nb::arg("shape") = nb::make_tuple(), nb::arg("dtype") = nb::none(), nb::arg("loc") = 0.0,
        nb::arg("scale") = 1.0, nb::kw_only(), nb::arg("key") = nb::none(),
        nb::arg("stream") = nb::none(), "Normal samples with mean loc and deviation scale.");
  r.def("randint", [](nb::handle low, nb::handle high, nb::handle shape, nb::handle dtype,
                      nb::handle key, nb::handle s) {
    Dtype d = to_dtype(dtype).value_or(int32);
    return random::randint(to_operand(low, d), to_operand(high, d), sample_shape(shape), d,
                           to_key(key), to_stream_or_device(s));
  }, nb::arg("low"), nb::arg("high"), nb::arg("shape") = nb::make_tuple(),
        nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("key") = nb::none(),
        nb::arg("stream") = nb::none(), "Integers in [low, high).");
  r.def("bernoulli", [](nb::handle p, nb::handle shape, nb::handle key, nb::handle s) {
    return random::bernoulli(to_operand(p, float32), to_optional_shape(shape), to_key(key),
                             to_stream_or_device(s));
  }, nb::arg("p") = 0.5, nb::arg("shape") = nb::none(), nb::kw_only(),
        nb::arg("key") = nb::none(), nb::arg("stream") = nb::none(),
        "True with probability p.");
  r.def("categorical", [](const array& logits, int axis, nb::handle key, nb::handle s) {
    return random::categorical(logits, axis, to_key(key), to_stream_or_device(s));
  }, nb::arg("logits"), nb::arg("axis") = -1, nb::kw_only(), nb::arg("key") = nb::none(),
        nb::arg("stream") = nb::none(), "Samples of indices with probabilities softmax(logits).");
}

}  // namespace fastsync::py

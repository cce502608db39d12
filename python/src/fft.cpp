// Bindings for the fft submodule (ops/fft.h): argument conversion and
// docstrings only.
#include "ops/fft.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace fastsync::py {

namespace {

std::optional<int64_t> to_size(nb::handle n) {
  if (n.is_none()) return std::nullopt;
  return nb::cast<int64_t>(n);
}

}  // namespace

void init_fft(nb::module_& m) {
  nb::module_ f = m.def_submodule(
      "fft",
      "Discrete Fourier transforms with NumPy's semantics (MKL on the CPU, cuFFT on "
      "the GPU).");

  using One =
      array (*)(const array&, std::optional<int64_t>, int, const std::string&, StreamOrDevice);
  auto def_one = [&](const char* name, One fn, const char* doc) {
    f.def(
        name,
        [fn](nb::handle a, nb::handle n, int axis, const std::string& norm, nb::handle s) {
          return fn(to_array(a), to_size(n), axis, norm, to_stream_or_device(s));
        },
        nb::arg("a"), nb::arg("n") = nb::none(), nb::arg("axis") = -1, nb::arg("norm") = "backward",
        nb::kw_only(), nb::arg("stream") = nb::none(), doc);
  };
  def_one("fft", fft::fft, "One-dimensional DFT along axis (complex64); n cuts or zero-pads.");
  def_one("ifft", fft::ifft, "One-dimensional inverse DFT along axis.");
  def_one("rfft", fft::rfft,
          "One-dimensional DFT of a real input: the n // 2 + 1 non-negative frequencies.");
  def_one("irfft", fft::irfft,
          "Inverse of rfft: n real samples (default 2 * (m - 1)) from m frequencies.");

  using Many = array (*)(const array&, const fft::OptShape&, const fft::OptAxes&,
                         const std::string&, StreamOrDevice);
  // fft2 and friends default to axes (-2, -1); an explicit None means every axis, as in
  // NumPy.
  auto def_many = [&](const char* name, Many fn, bool two, const char* doc) {
    nb::object axes_default = two ? nb::object(nb::make_tuple(-2, -1)) : nb::none();
    f.def(
        name,
        [fn](nb::handle a, nb::handle sizes, nb::handle axes, const std::string& norm,
             nb::handle s) {
          return fn(to_array(a), to_optional_shape(sizes), to_axes(axes), norm,
                    to_stream_or_device(s));
        },
        nb::arg("a"), nb::arg("s") = nb::none(), nb::arg("axes").none() = axes_default,
        nb::arg("norm") = "backward", nb::kw_only(), nb::arg("stream") = nb::none(), doc);
  };
  def_many("fft2", fft::fftn, true, "Two-dimensional DFT (axes default to (-2, -1)).");
  def_many("ifft2", fft::ifftn, true, "Two-dimensional inverse DFT.");
  def_many("rfft2", fft::rfftn, true, "Two-dimensional DFT of a real input.");
  def_many("irfft2", fft::irfftn, true, "Inverse of rfft2.");
  def_many("fftn", fft::fftn, false,
           "N-dimensional DFT over axes (default: the last len(s) axes, or all).");
  def_many("ifftn", fft::ifftn, false, "N-dimensional inverse DFT.");
  def_many("rfftn", fft::rfftn, false,
           "N-dimensional DFT of a real input; the last axis keeps n // 2 + 1 frequencies.");
  def_many("irfftn", fft::irfftn, false, "Inverse of rfftn.");

  f.def(
      "fftshift",
      [](nb::handle a, nb::handle axes, nb::handle s) {
        return fft::fftshift(to_array(a), to_axes(axes), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axes") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Moves the zero frequency to the centre of each axis (all by default).");
  f.def(
      "ifftshift",
      [](nb::handle a, nb::handle axes, nb::handle s) {
        return fft::ifftshift(to_array(a), to_axes(axes), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axes") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "The inverse of fftshift.");
  f.def(
      "fftfreq",
      [](int64_t n, double d, nb::handle s) { return fft::fftfreq(n, d, to_stream_or_device(s)); },
      nb::arg("n"), nb::arg("d") = 1.0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Sample frequencies of an n-point fft with spacing d (float32).");
  f.def(
      "rfftfreq",
      [](int64_t n, double d, nb::handle s) { return fft::rfftfreq(n, d, to_stream_or_device(s)); },
      nb::arg("n"), nb::arg("d") = 1.0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Sample frequencies of an n-point rfft with spacing d (float32).");
}

}  // namespace fastsync::py

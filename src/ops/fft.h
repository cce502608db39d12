// mx.fft: NumPy's FFT functions. Complex transforms compute in complex64
// and real ones in float32 (other dtypes are cast, as in MLX); n / s resize
// each transformed axis first (truncate, or pad with zeros at the end);
// norm is "backward" (default: the inverse divides by n), "ortho" or
// "forward". Errors name the function: "[fft.rfftn] ...".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "array.h"
#include "stream.h"

namespace fastsync::fft {

using OptShape = std::optional<Shape>;
using OptAxes = std::optional<std::vector<int>>;

array fft(const array& a, std::optional<int64_t> n = {}, int axis = -1,
          const std::string& norm = "backward", StreamOrDevice s = {});
array ifft(const array& a, std::optional<int64_t> n = {}, int axis = -1,
           const std::string& norm = "backward", StreamOrDevice s = {});
array rfft(const array& a, std::optional<int64_t> n = {}, int axis = -1,
           const std::string& norm = "backward", StreamOrDevice s = {});
array irfft(const array& a, std::optional<int64_t> n = {}, int axis = -1,
            const std::string& norm = "backward", StreamOrDevice s = {});
// fft2 and friends are fftn with axes (-2, -1) by default; the n-d forms
// default to the last len(s) axes when s is given, else all axes.
array fftn(const array& a, const OptShape& s = {}, const OptAxes& axes = {},
           const std::string& norm = "backward", StreamOrDevice st = {});
array ifftn(const array& a, const OptShape& s = {}, const OptAxes& axes = {},
            const std::string& norm = "backward", StreamOrDevice st = {});
array rfftn(const array& a, const OptShape& s = {}, const OptAxes& axes = {},
            const std::string& norm = "backward", StreamOrDevice st = {});
array irfftn(const array& a, const OptShape& s = {}, const OptAxes& axes = {},
             const std::string& norm = "backward", StreamOrDevice st = {});

// Rolls the zero frequency to the centre (and back), over `axes` (all when
// absent).
array fftshift(const array& a, const OptAxes& axes = {}, StreamOrDevice s = {});
array ifftshift(const array& a, const OptAxes& axes = {}, StreamOrDevice s = {});

// The sample frequencies of an n-point (r)fft with sample spacing d
// (float32).
array fftfreq(int64_t n, double d = 1.0, StreamOrDevice s = {});
array rfftfreq(int64_t n, double d = 1.0, StreamOrDevice s = {});

}  // namespace fastsync::fft

// Dtypes and NumPy-compatible type promotion.
// Pure value types; safe to use from any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "complex.h"

namespace fastsync {

// bfloat16 stored as raw bits; arithmetic goes through float.
struct bfloat16_t {
  uint16_t bits = 0;
  bfloat16_t() = default;
  bfloat16_t(float f) {  // NOLINT: implicit like the builtin floats
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40u);  // keep NaN a NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  operator float() const {  // NOLINT
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

using float16_t = _Float16;

struct Dtype {
  enum class Val : uint8_t {
    bool_,
    uint8,
    uint16,
    uint32,
    uint64,
    int8,
    int16,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,  // two float32s, real part first (complex.h)
  };
  enum class Kind : uint8_t { b, u, i, f, c };

  Val val;
  constexpr Dtype(Val v) : val(v) {}  // NOLINT
  constexpr bool operator==(const Dtype& o) const { return val == o.val; }
  constexpr bool operator!=(const Dtype& o) const { return val != o.val; }
  int size() const;
  Kind kind() const;
  const char* name() const;
};

inline constexpr Dtype bool_{Dtype::Val::bool_};
inline constexpr Dtype uint8{Dtype::Val::uint8};
inline constexpr Dtype uint16{Dtype::Val::uint16};
inline constexpr Dtype uint32{Dtype::Val::uint32};
inline constexpr Dtype uint64{Dtype::Val::uint64};
inline constexpr Dtype int8{Dtype::Val::int8};
inline constexpr Dtype int16{Dtype::Val::int16};
inline constexpr Dtype int32{Dtype::Val::int32};
inline constexpr Dtype int64{Dtype::Val::int64};
inline constexpr Dtype float16{Dtype::Val::float16};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16};
inline constexpr Dtype float32{Dtype::Val::float32};
inline constexpr Dtype float64{Dtype::Val::float64};
inline constexpr Dtype complex64{Dtype::Val::complex64};
inline constexpr int kNumDtypes = 14;

bool is_floating(Dtype d);  // real floating types only (not complex64)
bool is_complex(Dtype d);
bool is_inexact(Dtype d);  // floating or complex
bool is_integral(Dtype d);  // bool excluded
bool is_unsigned(Dtype d);

// MLX's promotion between two array dtypes (JAX's lattice; a float beats
// any integer, see dtype.cpp).
Dtype promote_types(Dtype a, Dtype b);
// The dtype a Python scalar of the given kind takes next to an array of dtype
// `peer` (MLX's weak-scalar rule: a scalar never upcasts an array).
enum class ScalarKind { boolean, integer, floating, complex };
Dtype weak_scalar_type(ScalarKind k, Dtype peer);
// The dtype sum/prod/cumsum accumulate in and return (MLX's: int32 or
// uint32 for narrower integers and bools, 64-bit types keep theirs).
Dtype sum_type(Dtype d);
Dtype dtype_from_name(const std::string& name);  // throws std::invalid_argument

template <typename T>
struct type_to_dtype;
#define FASTSYNC_TYPE_DTYPE(T, D)     \
  template <>                         \
  struct type_to_dtype<T> {           \
    static constexpr Dtype value = D; \
  };
FASTSYNC_TYPE_DTYPE(bool, bool_)
FASTSYNC_TYPE_DTYPE(uint8_t, uint8)
FASTSYNC_TYPE_DTYPE(uint16_t, uint16)
FASTSYNC_TYPE_DTYPE(uint32_t, uint32)
FASTSYNC_TYPE_DTYPE(uint64_t, uint64)
FASTSYNC_TYPE_DTYPE(int8_t, int8)
FASTSYNC_TYPE_DTYPE(int16_t, int16)
FASTSYNC_TYPE_DTYPE(int32_t, int32)
FASTSYNC_TYPE_DTYPE(int64_t, int64)
FASTSYNC_TYPE_DTYPE(float16_t, float16)
FASTSYNC_TYPE_DTYPE(bfloat16_t, bfloat16)
FASTSYNC_TYPE_DTYPE(float, float32)
FASTSYNC_TYPE_DTYPE(double, float64)
FASTSYNC_TYPE_DTYPE(complex64_t, complex64)
#undef FASTSYNC_TYPE_DTYPE

// Calls f(T{}) with the C++ type of `d`. Kernels use it to instantiate loops.
// A float16 zero spelled without a float16 literal, which nvcc's front end
// turns into a suffix GCC rejects.
inline float16_t zero_half() {
  float16_t h;
  uint16_t zero = 0;
  std::memcpy(&h, &zero, sizeof h);
  return h;
}

template <typename F>
decltype(auto) dispatch_dtype(Dtype d, F&& f) {
  switch (d.val) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint16: return f(uint16_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::uint64: return f(uint64_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int16: return f(int16_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(zero_half());
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
    case Dtype::Val::complex64: return f(complex64_t{});
  }
  __builtin_unreachable();
}

// The type arithmetic is carried out in: half types compute in float.
template <typename T>
struct compute_type {
  using type = T;
};
template <>
struct compute_type<float16_t> {
  using type = float;
};
template <>
struct compute_type<bfloat16_t> {
  using type = float;
};
template <typename T>
using compute_t = typename compute_type<T>::type;

}  // namespace fastsync

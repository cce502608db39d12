#include "dtype.h"

#include <stdexcept>

namespace fastsync {

namespace {
constexpr int kSizes[kNumDtypes] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8, 8};
constexpr const char* kNames[kNumDtypes] = {
    "bool",  "uint8",   "uint16",   "uint32",  "uint64",  "int8",    "int16",
    "int32", "int64",   "float16",  "bfloat16", "float32", "float64", "complex64"};
int idx(Dtype d) { return static_cast<int>(d.val); }
}  // namespace

int Dtype::size() const { return kSizes[idx(*this)]; }

Dtype::Kind Dtype::kind() const {
  switch (val) {
    case Val::bool_: return Kind::b;
    case Val::uint8:
    case Val::uint16:
    case Val::uint32:
    case Val::uint64: return Kind::u;
    case Val::int8:
    case Val::int16:
    case Val::int32:
    case Val::int64: return Kind::i;
    case Val::complex64: return Kind::c;
    default: return Kind::f;
  }
}

const char* Dtype::name() const { return kNames[idx(*this)]; }

bool is_floating(Dtype d) { return d.kind() == Dtype::Kind::f; }
bool is_integral(Dtype d) { return d.kind() == Dtype::Kind::u || d.kind() == Dtype::Kind::i; }
bool is_unsigned(Dtype d) { return d.kind() == Dtype::Kind::u; }
bool is_complex(Dtype d) { return d.kind() == Dtype::Kind::c; }
bool is_inexact(Dtype d) { return is_floating(d) || is_complex(d); }

namespace {
Dtype signed_of_size(int bytes) {
  switch (bytes) {
    case 1: return int8;
    case 2: return int16;
    case 4: return int32;
    default: return int64;
  }
}
}  // namespace

// MLX's (and JAX's) lattice, not NumPy's: a float beats any integer without
// widening (int32 with float32 stays float32, int64 with float16 stays
// float16), and uint64 with a signed integer, which no integer type holds,
// gives float32. complex64 sits on top: anything with it gives complex64
// (float64 too, as in MLX).
Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  if (is_complex(a) || is_complex(b)) return complex64;
  auto ka = a.kind(), kb = b.kind();
  if (ka == Dtype::Kind::b) return b;
  if (kb == Dtype::Kind::b) return a;
  if (ka == Dtype::Kind::f || kb == Dtype::Kind::f) {
    if (ka == Dtype::Kind::f && kb == Dtype::Kind::f) {
      // float16 with bfloat16 has no common 16-bit type.
      if (a.size() == b.size()) return float32;
      return a.size() > b.size() ? a : b;
    }
    return ka == Dtype::Kind::f ? a : b;
  }
  if (ka == kb) return a.size() >= b.size() ? a : b;
  Dtype u = ka == Dtype::Kind::u ? a : b;
  Dtype s = ka == Dtype::Kind::u ? b : a;
  if (s.size() > u.size()) return s;
  if (u.size() >= 8) return float32;
  return signed_of_size(u.size() * 2);
}

Dtype weak_scalar_type(ScalarKind k, Dtype peer) {
  switch (k) {
    case ScalarKind::boolean: return peer;
    case ScalarKind::integer: return peer == bool_ ? int32 : peer;
    case ScalarKind::floating: return is_inexact(peer) ? peer : float32;
    case ScalarKind::complex: return complex64;
  }
  return peer;
}

// MLX's accumulator types: small integers (and bools) sum in 32 bits, so
// the result dtype never depends on how many elements are reduced.
Dtype sum_type(Dtype d) {
  switch (d.kind()) {
    case Dtype::Kind::b: return int32;
    case Dtype::Kind::i: return d == int64 ? int64 : int32;
    case Dtype::Kind::u: return d == uint64 ? uint64 : uint32;
    default: return d;
  }
}

Dtype dtype_from_name(const std::string& name) {
  for (int i = 0; i < kNumDtypes; ++i) {
    if (name == kNames[i]) return Dtype(static_cast<Dtype::Val>(i));
  }
  if (name == "bool_") return bool_;
  throw std::invalid_argument("unknown dtype '" + name + "'");
}

}  // namespace fastsync

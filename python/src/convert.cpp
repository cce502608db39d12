#include "convert.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>

#include "errors.h"
#include "format.h"
#include "gil.h"
#include "ops/ops.h"
#include "replay.h"
#include "transforms.h"

namespace fastsync::py {

namespace {

Dtype dtype_from_dlpack(nb::dlpack::dtype dt) {
  using C = nb::dlpack::dtype_code;
  auto code = static_cast<C>(dt.code);
  if (dt.lanes != 1) throw type_error("[array] vector dtypes are not supported");
  switch (code) {
    case C::Bool: return bool_;
    case C::Int:
      switch (dt.bits) {
        case 8: return int8;
        case 16: return int16;
        case 32: return int32;
        case 64: return int64;
      }
      break;
    case C::UInt:
      switch (dt.bits) {
        case 8: return uint8;
        case 16: return uint16;
        case 32: return uint32;
        case 64: return uint64;
      }
      break;
    case C::Float:
      switch (dt.bits) {
        case 16: return float16;
        case 32: return float32;
        case 64: return float64;
      }
      break;
    case C::Bfloat:
      if (dt.bits == 16) return bfloat16;
      break;
    case C::Complex:
      if (dt.bits == 64) return complex64;
      break;
    default: break;
  }
  throw std::invalid_argument("[array] unsupported input dtype (code " + std::to_string(dt.code) +
                              ", " + std::to_string(dt.bits) +
                              " bits): complex32 and object arrays are not supported");
}

nb::dlpack::dtype dlpack_of(Dtype d) {
  using C = nb::dlpack::dtype_code;
  C code = d == bool_                   ? C::Bool
           : d.kind() == Dtype::Kind::i ? C::Int
           : d.kind() == Dtype::Kind::u ? C::UInt
           : d.kind() == Dtype::Kind::c ? C::Complex
                                        : C::Float;
  return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(d.size() * 8), 1};
}

array from_numpy(nb::handle np_obj) {
  auto np = nb::module_::import_("numpy");
  nb::object c = np.attr("asarray")(np_obj, nb::arg("order") = "C");
  // complex128 (NumPy's default complex) becomes complex64, as in MLX.
  if (nb::cast<std::string>(c.attr("dtype").attr("kind")) == "c" &&
      nb::cast<int>(c.attr("dtype").attr("itemsize")) == 16) {
    c = c.attr("astype")("complex64");
  }
  // Kinds with no fastsync dtype get a TypeError naming the dtype; data of
  // the other byte order is swapped to the native one first.
  nb::object npdt = c.attr("dtype");
  const std::string kind = nb::cast<std::string>(npdt.attr("kind"));
  if (kind == "O" || kind == "U" || kind == "S" || kind == "V" || kind == "M" || kind == "m") {
    throw type_error("[array] NumPy arrays of dtype " + nb::cast<std::string>(nb::str(npdt)) +
                     " have no fastsync dtype (numbers and booleans only)");
  }
  if (!nb::cast<bool>(npdt.attr("isnative"))) {
    c = c.attr("astype")(npdt.attr("newbyteorder")("="));
  }
  auto nd = nb::cast<nb::ndarray<nb::ro, nb::c_contig>>(c);
  Dtype dt = dtype_from_dlpack(nd.dtype());
  Shape shape;
  for (size_t i = 0; i < nd.ndim(); ++i) {
    int64_t d = static_cast<int64_t>(nd.shape(i));
    if (d > INT32_MAX) {
      PyErr_SetString(PyExc_OverflowError,
                      ("shape dimension " + std::to_string(d) + " does not fit in int32").c_str());
      throw nb::python_error();
    }
    shape.push_back(d);
  }
  return array(nd.data(), std::move(shape), dt);
}

// A Python int as an array: int32 when it fits, else int64, else uint64;
// beyond uint64 an OverflowError naming the value (never a wrap).
array int_scalar(nb::handle obj, std::optional<Dtype> peer) {
  int64_t v;
  if (nb::try_cast<int64_t>(obj, v, false)) return peer ? weak_scalar(v, *peer) : scalar(v);
  uint64_t u;
  if (nb::try_cast<uint64_t>(obj, u, false)) {
    if (peer && is_inexact(*peer)) return weak_scalar(static_cast<double>(u), *peer);
    return scalar(u);
  }
  if (peer && is_inexact(*peer)) return weak_scalar(nb::cast<double>(obj), *peer);
  std::string text = nb::cast<std::string>(nb::str(obj));
  if (peer) throw std::invalid_argument("integer " + text + " is out of range for " + peer->name());
  PyErr_SetString(PyExc_OverflowError,
                  ("Python int " + text + " is too large for any fastsync integer dtype").c_str());
  throw nb::python_error();
}

}  // namespace

std::optional<Dtype> to_dtype(nb::handle dtype) {
  if (dtype.is_none()) return std::nullopt;
  Dtype d = float32;
  if (nb::try_cast<Dtype>(dtype, d)) return d;
  std::string got = nb::type_name(dtype.type()).c_str();
  if (nb::isinstance<nb::str>(dtype))
    got += " '" + std::string(nb::borrow<nb::str>(dtype).c_str()) + "'";
  throw type_error("dtype must be a fastsync dtype such as float32 (or None), not " + got);
}

bool is_python_scalar(nb::handle obj) {
  return nb::isinstance<nb::bool_>(obj) || nb::isinstance<nb::int_>(obj) ||
         nb::isinstance<nb::float_>(obj) || PyComplex_Check(obj.ptr());
}

namespace {
complex64_t to_complex(nb::handle obj) {
  Py_complex c = PyComplex_AsCComplex(obj.ptr());
  if (c.real == -1.0 && PyErr_Occurred()) throw nb::python_error();
  return {static_cast<float>(c.real), static_cast<float>(c.imag)};
}
}  // namespace

namespace {

// What MLX makes of a (nested) list holding fastsync arrays: the arrays'
// promoted dtype, with Python scalars beside them weak (a float makes an
// integer or bool result float32, an int makes a bool result int32).
// nullopt when the list holds no array.
struct ListKinds {
  std::optional<Dtype> arrays;
  bool has_int = false, has_float = false;
};
void scan_list(nb::handle obj, ListKinds& k) {
  if (nb::isinstance<array>(obj)) {
    Dtype d = nb::cast<array>(obj).dtype();
    k.arrays = k.arrays ? promote_types(*k.arrays, d) : d;
  } else if (nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) {
    for (auto h : obj) scan_list(h, k);
  } else if (nb::isinstance<nb::float_>(obj)) {
    k.has_float = true;
  } else if (nb::isinstance<nb::int_>(obj) && !nb::isinstance<nb::bool_>(obj)) {
    k.has_int = true;
  }
}
std::optional<Dtype> list_of_arrays_dtype(nb::handle obj) {
  ListKinds k;
  scan_list(obj, k);
  if (!k.arrays) return std::nullopt;
  Dtype d = *k.arrays;
  if (k.has_float && !is_inexact(d)) return float32;
  if (k.has_int && d == bool_) return int32;
  return d;
}

// A list (or nested lists) of fastsync arrays only: stacked with ops, so
// the result stays in the graph (gradients flow through mx.array([x, y])).
// nullopt when something else is in the list.
std::optional<array> stack_arrays(nb::handle obj) {
  if (!(nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) || nb::len(obj) == 0) {
    return std::nullopt;
  }
  std::vector<array> parts;
  for (auto h : obj) {
    if (nb::isinstance<array>(h)) {
      parts.push_back(nb::cast<array>(h));
    } else if (auto sub = stack_arrays(h)) {
      parts.push_back(*sub);
    } else {
      return std::nullopt;
    }
  }
  Dtype d = parts[0].dtype();
  for (auto& p : parts) {
    if (p.shape() != parts[0].shape()) {
      throw std::invalid_argument("Initialization encountered non-uniform length.");
    }
    d = promote_types(d, p.dtype());
  }
  for (auto& p : parts) p = astype(p, d);
  return stack(parts, 0);
}

}  // namespace

array array_from_object(nb::handle obj, std::optional<Dtype> dtype) {
  array a = [&] {
    if (nb::isinstance<array>(obj)) return nb::cast<array>(obj);
    if (nb::isinstance<nb::bool_>(obj)) return scalar(nb::cast<bool>(obj));
    if (nb::isinstance<nb::int_>(obj)) return int_scalar(obj, dtype);
    if (nb::isinstance<nb::float_>(obj)) {
      // With a dtype the value converts once, from double (float64 keeps it).
      double v = nb::cast<double>(obj);
      return dtype ? weak_scalar(v, *dtype) : scalar(v);
    }
    if (PyComplex_Check(obj.ptr())) return scalar(to_complex(obj));
    if (nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) {
      if (auto stacked = stack_arrays(obj)) return *stacked;
      // Python lists take MLX's defaults: int32 and float32.
      auto np = nb::module_::import_("numpy");
      nb::object arr;
      try {
        arr = np.attr("asarray")(obj);
      } catch (const nb::python_error& e) {
        if (std::string(e.what()).find("inhomogeneous") == std::string::npos) throw;
        throw std::invalid_argument("Initialization encountered non-uniform length.");
      }
      std::string kind = nb::cast<std::string>(arr.attr("dtype").attr("kind"));
      if (kind == "O" || kind == "U" || kind == "S") {
        throw std::invalid_argument(
            "[array] lists must hold numbers, booleans or arrays of one nesting depth");
      }
      if (!dtype) {
        if (auto d = list_of_arrays_dtype(obj)) return astype(from_numpy(arr), *d);
        // int32 unless a value needs int64 (as a Python int on its own).
        if (kind == "i") {
          bool fits = nb::cast<int64_t>(arr.attr("size")) == 0 ||
                      (nb::cast<int64_t>(nb::int_(arr.attr("min")())) >= INT32_MIN &&
                       nb::cast<int64_t>(nb::int_(arr.attr("max")())) <= INT32_MAX);
          if (fits) arr = arr.attr("astype")("int32");
        }
        if (kind == "f") arr = arr.attr("astype")("float32");
        if (kind == "c") arr = arr.attr("astype")("complex64");
      }
      return from_numpy(arr);
    }
    if (nb::hasattr(obj, "__array__") || nb::hasattr(obj, "__array_interface__") ||
        nb::hasattr(obj, "dtype")) {
      array x = from_numpy(obj);
      // As MLX: float64 data becomes float32 unless float64 is asked for.
      return !dtype && x.dtype() == float64 ? astype(x, float32) : x;
    }
    auto np = nb::module_::import_("numpy");
    // Raw bytes are uint8 values; other buffers (memoryview, array.array)
    // keep their element format.
    if (PyBytes_Check(obj.ptr()) || PyByteArray_Check(obj.ptr())) {
      return from_numpy(np.attr("frombuffer")(obj, nb::arg("dtype") = "uint8"));
    }
    if (PyObject_CheckBuffer(obj.ptr())) return from_numpy(np.attr("asarray")(obj));
    throw std::invalid_argument(std::string("[array] cannot convert object of type ") +
                                nb::cast<std::string>(nb::str(obj.type().attr("__name__"))) +
                                " to an array");
  }();
  return dtype ? astype(a, *dtype) : a;
}

array to_array(nb::handle obj) { return array_from_object(obj, std::nullopt); }

std::vector<array> to_arrays(nb::handle seq) {
  std::vector<array> out;
  for (auto h : seq) out.push_back(to_array(h));
  return out;
}

array to_operand(nb::handle obj, Dtype peer) {
  if (nb::isinstance<array>(obj)) return nb::cast<array>(obj);
  if (nb::isinstance<nb::bool_>(obj)) return weak_scalar(nb::cast<bool>(obj), peer);
  if (nb::isinstance<nb::int_>(obj)) return int_scalar(obj, peer);
  if (nb::isinstance<nb::float_>(obj)) return weak_scalar(nb::cast<double>(obj), peer);
  if (PyComplex_Check(obj.ptr())) return weak_scalar(to_complex(obj), peer);
  return to_array(obj);
}

std::pair<array, array> to_operands(nb::handle a, nb::handle b) {
  if (is_python_scalar(a) && !is_python_scalar(b)) {
    array y = to_array(b);
    array x = to_operand(a, y.dtype());
    return {std::move(x), std::move(y)};
  }
  array x = to_array(a);
  array y = to_operand(b, x.dtype());
  return {std::move(x), std::move(y)};
}

namespace {
std::string py_type_name(nb::handle h) {
  return nb::cast<std::string>(nb::str(h.type().attr("__name__")));
}
}  // namespace

Shape to_shape(nb::handle shape) {
  // Each dimension must fit int32 (MLX's limit): an OverflowError names it.
  auto dim = [](nb::handle h) {
    if (!PyIndex_Check(h.ptr())) {
      throw type_error("shape dimensions must be integers, got " + py_type_name(h));
    }
    int64_t d;
    if (!nb::try_cast<int64_t>(h, d) || d > INT32_MAX || d < INT32_MIN) {
      std::string text = nb::cast<std::string>(nb::str(h));
      PyErr_SetString(PyExc_OverflowError,
                      ("shape dimension " + text + " does not fit in int32").c_str());
      throw nb::python_error();
    }
    return d;
  };
  if (nb::isinstance<nb::int_>(shape)) return {dim(shape)};
  if (!PySequence_Check(shape.ptr())) {
    throw type_error("shape must be an int or a sequence of ints, got " + py_type_name(shape));
  }
  Shape out;
  for (auto h : shape) out.push_back(dim(h));
  return out;
}

std::optional<Shape> to_optional_shape(nb::handle shape) {
  if (shape.is_none()) return std::nullopt;
  return to_shape(shape);
}

std::vector<int> to_axis_list(nb::handle axis) {
  auto one = [](nb::handle h) {
    int64_t v;
    if (!PyIndex_Check(h.ptr()) || !nb::try_cast<int64_t>(h, v)) {
      if (PyIndex_Check(h.ptr())) {
        throw std::invalid_argument("axis " + nb::cast<std::string>(nb::str(h)) +
                                    " is out of bounds");
      }
      throw type_error("axis must be an int or a sequence of ints, got " + py_type_name(h));
    }
    if (v > INT32_MAX || v < INT32_MIN) {
      throw std::invalid_argument("axis " + std::to_string(v) + " is out of bounds");
    }
    return static_cast<int>(v);
  };
  if (PyIndex_Check(axis.ptr())) return {one(axis)};
  if (!PySequence_Check(axis.ptr())) {
    throw type_error("axis must be an int or a sequence of ints, got " + py_type_name(axis));
  }
  std::vector<int> out;
  for (auto h : axis) out.push_back(one(h));
  return out;
}

std::optional<std::vector<int>> to_axes(nb::handle axis) {
  if (axis.is_none()) return std::nullopt;
  return to_axis_list(axis);
}

namespace {

// Evaluates `a` (with the GIL released) and returns it, or its host copy when
// it lives on the GPU.
array readable(array& a) {
  ReleaseGil nogil;
  return host_readable(a);
}

// One element as a Python bool, int, float or complex.
template <class T>
nb::object py_scalar(T v) {
  if constexpr (std::is_same_v<T, bool>)
    return nb::bool_(v);
  else if constexpr (std::is_integral_v<T>)
    return nb::int_(v);
  else if constexpr (is_complex_v<T>)
    return nb::steal(PyComplex_FromDoubles(v.re, v.im));
  else
    return nb::float_(static_cast<double>(static_cast<compute_t<T>>(v)));
}

}  // namespace

nb::object to_scalar(array& a) {
  if (a.size() != 1) {
    throw std::invalid_argument(
        "[item] only arrays with one element can be converted to a "
        "Python scalar (this one has " +
        std::to_string(a.size()) + ")");
  }
  array h = readable(a);
  return dispatch_dtype(h.dtype(), [&](auto tag) -> nb::object {
    using T = decltype(tag);
    return py_scalar(*h.data<T>());
  });
}

nb::object to_list(array& in) {
  if (in.ndim() == 0) return to_scalar(in);
  array a = readable(in);
  return dispatch_dtype(a.dtype(), [&](auto tag) -> nb::object {
    using T = decltype(tag);
    const T* base = a.data<T>();
    auto rec = [&](auto& self, int dim, int64_t off) -> nb::object {
      nb::list l;
      for (int64_t i = 0; i < a.shape()[dim]; ++i) {
        int64_t o = off + i * a.strides()[dim];
        l.append(dim + 1 == a.ndim() ? py_scalar(base[o]) : self(self, dim + 1, o));
      }
      return l;
    };
    return rec(rec, 0, 0);
  });
}

std::string to_text(array& a) { return format_array(readable(a)); }

nb::object to_numpy(array& a, nb::handle dtype) {
  array evaluated = a.dtype() == bfloat16 ? astype(a, float32) : a;
  array src = readable(evaluated);
  std::vector<size_t> shape(src.shape().begin(), src.shape().end());
  std::vector<int64_t> strides(src.strides().begin(), src.strides().end());
  // The capsule owns a handle to the array, so NumPy's view keeps the buffer.
  auto* owner = new array(src);
  nb::capsule cap(owner, [](void* p) noexcept { delete static_cast<array*>(p); });
  nb::ndarray<nb::numpy> nd(src.raw_ptr(), src.ndim(), shape.data(), cap, strides.data(),
                            dlpack_of(src.dtype()));
  nb::object out = nb::cast(nd, nb::rv_policy::reference);
  if (!dtype.is_none()) out = out.attr("astype")(dtype);
  return out;
}

}  // namespace fastsync::py

namespace fastsync::py {

nb::ndarray<> to_dlpack(array& in) {
  array a = in;
  compile_trace::check_read(a);
  {
    ReleaseGil nogil;
    a.eval();
  }
  bool on_gpu = a.data_shared_ptr() && allocator::is_device(a.data_shared_ptr()->buffer);
  std::vector<size_t> shape(a.shape().begin(), a.shape().end());
  std::vector<int64_t> strides(a.strides().begin(), a.strides().end());
  auto* owner = new array(a);
  nb::capsule cap(owner, [](void* p) noexcept { delete static_cast<array*>(p); });
  int32_t dev_type = on_gpu ? nb::device::cuda::value : nb::device::cpu::value;
  return nb::ndarray<>(a.raw_ptr(), a.ndim(), shape.data(), cap, strides.data(),
                       dlpack_of(a.dtype()), dev_type, 0);
}

array from_dlpack(nb::handle obj) {
  auto nd = nb::cast<nb::ndarray<nb::ro>>(obj);
  if (nd.device_type() != nb::device::cpu::value) {
    // Device memory: let the exporter stage it on the host (NumPy reads
    // DLPack from CPU only, so ask the object itself).
    if (nb::hasattr(obj, "cpu")) return from_dlpack(obj.attr("cpu")());
    throw not_implemented(
        "[from_dlpack] only host (CPU) DLPack tensors, or objects with a "
        ".cpu() method, can be imported");
  }
  auto code = static_cast<nb::dlpack::dtype_code>(nd.dtype().code);
  if (code == nb::dlpack::dtype_code::Complex && nd.dtype().bits == 128) {
    // complex128 becomes complex64 (MLX): NumPy converts.
    return from_numpy(nb::module_::import_("numpy").attr("from_dlpack")(obj));
  }
  Dtype dt = dtype_from_dlpack(nd.dtype());
  Shape shape;
  for (size_t i = 0; i < nd.ndim(); ++i) shape.push_back(static_cast<int64_t>(nd.shape(i)));
  bool contiguous = true;
  int64_t expect = 1;
  for (int i = static_cast<int>(nd.ndim()) - 1; i >= 0; --i) {
    if (nd.shape(i) != 1 && nd.stride(i) != expect) contiguous = false;
    expect *= static_cast<int64_t>(nd.shape(i));
  }
  if (contiguous) return array(nd.data(), std::move(shape), dt);
  // A strided source: NumPy makes the row-major copy.
  return from_numpy(nb::module_::import_("numpy").attr("from_dlpack")(obj));
}

}  // namespace fastsync::py

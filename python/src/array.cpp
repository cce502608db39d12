// Bindings for the array class: construction, properties, conversion out,
// operators and basic indexing.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "errors.h"
#include "gil.h"
#include "ops/index.h"
#include "transforms.h"
#include "ops/ops.h"

namespace fastsync::py {

namespace {

using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

// The other operand of a Python operator: an array or a Python scalar
// (taking a's dtype, the weak-scalar rule). Lists, strings and other
// objects are a ValueError, as in MLX.
array operand(const array& a, nb::handle other) {
  if (!nb::isinstance<array>(other) && !is_python_scalar(other) &&
      !nb::hasattr(other, "__array__")) {
    throw std::invalid_argument(std::string("operators take arrays and Python scalars, not ") +
                                nb::cast<std::string>(nb::str(other.type().attr("__name__"))));
  }
  return to_operand(other, a.dtype());
}
array bin(const array& a, nb::handle other, BinaryFn f) { return f(a, operand(a, other), {}); }
array rbin(const array& a, nb::handle other, BinaryFn f) { return f(operand(a, other), a, {}); }

// a.reshape(2, 3) or a.reshape((2, 3)); the same for a.transpose.
template <class T>
std::vector<T> ints_or_sequence(const nb::args& args) {
  if (args.size() == 1 && !nb::isinstance<nb::int_>(args[0])) {
    return nb::cast<std::vector<T>>(args[0]);
  }
  return nb::cast<std::vector<T>>(args);
}

// A Python index (int, slice, None, Ellipsis, array, list, or a tuple of
// these) as the ops layer's index items.
Index to_index_item(nb::handle h) {
  if (h.is_none()) return Index::new_axis();
  if (h.is(nb::ellipsis())) return Index::ellipsis();
  if (nb::isinstance<nb::slice>(h)) {
    // The slice's fields read directly: attribute lookups by name cost a
    // string and a hash each, three per slice of every index.
    const auto* sl = reinterpret_cast<const PySliceObject*>(h.ptr());
    auto get = [&](PyObject* field) -> std::optional<int64_t> {
      nb::handle v(field);
      if (v.is_none()) return std::nullopt;
      // __index__, not int(): a float or a string is not a bound (as in
      // NumPy), where int() would truncate 1.5 and parse "3".
      nb::object as_int = nb::borrow(v);
      if (!PyLong_CheckExact(field)) {
        as_int = nb::steal(PyNumber_Index(field));
        if (!as_int.is_valid()) {
          PyErr_Clear();
          throw type_error("[getitem] slice bounds must be integers, None or have __index__, got " +
                           nb::cast<std::string>(nb::str(v.type().attr("__name__"))));
        }
      }
      int64_t x;
      const bool ok = nb::try_cast<int64_t>(as_int, x, false);
      if (!ok || x > INT32_MAX || x < INT32_MIN) {
        throw std::invalid_argument("[getitem] slice bound " + nb::cast<std::string>(nb::str(v)) +
                                    " is outside the supported (int32) range");
      }
      return x;  // __index__ objects too
    };
    return Index::slice(get(sl->start), get(sl->stop), get(sl->step));
  }
  // A Python bool is a 0-d mask (selects everything or nothing).
  if (nb::isinstance<nb::bool_>(h)) return Index::of(scalar(nb::cast<bool>(h)));
  if (nb::isinstance<nb::int_>(h)) {
    int64_t v;
    if (!nb::try_cast<int64_t>(h, v, false) || v > INT32_MAX || v < INT32_MIN) {
      throw std::invalid_argument("[getitem] index " + nb::cast<std::string>(nb::str(h)) +
                                  " is outside the supported (int32) range");
    }
    return Index::integer(v);
  }
  if (nb::isinstance<array>(h) || nb::isinstance<nb::list>(h) || nb::hasattr(h, "__array__")) {
    return Index::of(to_array(h));
  }
  if (nb::hasattr(h, "__index__")) return Index::integer(nb::cast<int64_t>(nb::int_(h)));
  throw type_error(std::string("[getitem] cannot index with an object of type ") +
                   nb::cast<std::string>(nb::str(h.type().attr("__name__"))));
}

std::vector<Index> to_index(nb::handle index) {
  std::vector<Index> out;
  if (nb::isinstance<nb::tuple>(index)) {
    for (auto h : index) out.push_back(to_index_item(h));
  } else {
    out.push_back(to_index_item(index));
  }
  return out;
}

// In-place operators rebind the Python object to the result, so every
// reference to this array object sees the new value (as MLX's do).
// The result must keep the array's dtype (a /= 2 on integers is an error).
nb::object inplace(nb::handle self, nb::handle other, BinaryFn f) {
  array& a = nb::cast<array&>(self);
  array r = bin(a, other, f);
  if (r.dtype() != a.dtype()) {
    throw std::invalid_argument(std::string("in-place operation would change the dtype from ") +
                                a.dtype().name() + " to " + r.dtype().name());
  }
  a = r;
  return nb::borrow(self);
}

// The Python buffer protocol (memoryview(a), bytes(a)): a view of the
// evaluated host data; the view holds the array (and so its buffer).
struct BufferView {
  array a;
  std::vector<Py_ssize_t> shape, strides;
};

const char* buffer_format(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_: return "?";
    case Dtype::Val::uint8: return "B";
    case Dtype::Val::uint16: return "H";
    case Dtype::Val::uint32: return "I";
    case Dtype::Val::uint64: return "Q";
    case Dtype::Val::int8: return "b";
    case Dtype::Val::int16: return "h";
    case Dtype::Val::int32: return "i";
    case Dtype::Val::int64: return "q";
    case Dtype::Val::float16: return "e";
    case Dtype::Val::float32: return "f";
    case Dtype::Val::float64: return "d";
    case Dtype::Val::complex64: return "Zf";
    default: return nullptr;  // bfloat16 has no buffer format character
  }
}

int get_buffer(PyObject* self, Py_buffer* view, int) {
  try {
    array& a = nb::cast<array&>(nb::handle(self));
    const char* format = buffer_format(a.dtype());
    if (!format) {
      PyErr_SetString(PyExc_BufferError, (std::string("[buffer] ") + a.dtype().name() +
                                          " has no buffer format; convert with astype first")
                                             .c_str());
      return -1;
    }
    auto* keep = new BufferView{[&] {
      ReleaseGil nogil;
      return host_readable(a);
    }(), {}, {}};
    for (int i = 0; i < keep->a.ndim(); ++i) {
      keep->shape.push_back(keep->a.shape()[i]);
      keep->strides.push_back(keep->a.strides()[i] * keep->a.itemsize());
    }
    view->buf = keep->a.raw_ptr();
    view->obj = Py_NewRef(self);
    view->len = keep->a.nbytes();
    view->readonly = 0;
    view->itemsize = keep->a.itemsize();
    view->format = const_cast<char*>(format);
    view->ndim = keep->a.ndim();
    view->shape = keep->shape.data();
    view->strides = keep->strides.data();
    view->suboffsets = nullptr;
    view->internal = keep;
    return 0;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
    return -1;
  }
}

void release_buffer(PyObject*, Py_buffer* view) { delete static_cast<BufferView*>(view->internal); }

PyType_Slot array_slots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(get_buffer)},
                             {Py_bf_releasebuffer, reinterpret_cast<void*>(release_buffer)},
                             {0, nullptr}};

// a.at[index] -> an object with add(v), set(v), ..., as MLX and JAX.
struct AtIndexer {
  array a;
};
struct AtTarget {
  array a;
  std::vector<Index> index;
};

}  // namespace

void init_array(nb::module_& m) {
  m.def("from_dlpack", [](nb::handle x, nb::handle device, std::optional<bool> copy) {
    if (copy && !*copy) {
      throw std::invalid_argument(
          "[from_dlpack] copy=False: fastsync cannot adopt foreign memory");
    }
    if (!device.is_none() && !nb::borrow<nb::tuple>(device)[0].equal(nb::int_(1))) {
      throw std::invalid_argument("[from_dlpack] only device=(kDLCPU, 0) or None is supported");
    }
    return from_dlpack(x);
  }, nb::arg("x"), nb::kw_only(), nb::arg("device") = nb::none(), nb::arg("copy") = nb::none(),
        "An array from any DLPack exporter (NumPy, PyTorch, ...), holding a copy of its values.");
  m.def("asarray", [](nb::handle a, std::optional<Dtype> dtype, std::optional<bool> copy) {
    if (copy && !*copy) {
      throw std::invalid_argument(
          "[asarray] copy=False: fastsync cannot adopt foreign memory, so the values must be "
          "copied (pass copy=None or copy=True)");
    }
    return array_from_object(a, dtype);
  }, nb::arg("a"), nb::arg("dtype") = nb::none(), nb::arg("copy") = nb::none(),
        "An array from a, as mx.array (arrays pass through unconverted when no dtype is given).");

  auto update = [](IndexUpdate op) {
    return [op](const AtTarget& t, nb::handle v) {
      return update_index(t.a, t.index, to_operand(v, t.a.dtype()), op);
    };
  };
  nb::class_<AtTarget>(m, "_AtTarget")
      .def("add", update(IndexUpdate::add), nb::arg("values"),
           "A copy with values added at the index (repeats accumulate).")
      .def("subtract", update(IndexUpdate::subtract), nb::arg("values"))
      .def("multiply", update(IndexUpdate::multiply), nb::arg("values"))
      .def("divide", update(IndexUpdate::divide), nb::arg("values"))
      .def("maximum", update(IndexUpdate::maximum), nb::arg("values"))
      .def("minimum", update(IndexUpdate::minimum), nb::arg("values"))
      .def("set", [](const AtTarget& t, nb::handle v) {
        return set_index(t.a, t.index, to_operand(v, t.a.dtype()));
      }, nb::arg("values"), "A copy with values written at the index.");
  auto unindexed = [](const AtIndexer&, nb::args, nb::kwargs) -> array {
    throw std::invalid_argument("[at] index the array first: a.at[index].add(values)");
  };
  nb::class_<AtIndexer>(m, "_AtIndexer")
      .def("__getitem__", [](const AtIndexer& at, nb::handle idx) {
        return AtTarget{at.a, to_index(idx)};
      }, nb::arg("index").none())
      .def("add", unindexed)
      .def("subtract", unindexed)
      .def("multiply", unindexed)
      .def("divide", unindexed)
      .def("maximum", unindexed)
      .def("minimum", unindexed)
      .def("set", unindexed);

  nb::class_<array>(m, "array", nb::is_weak_referenceable(), nb::type_slots(array_slots),
                    "A lazily evaluated N-dimensional array.")
      .def("__init__",
           [](array* self, nb::handle obj, std::optional<Dtype> dtype) {
             new (self) array(array_from_object(obj, dtype));
           },
           nb::arg("val"), nb::arg("dtype") = nb::none(),
           "Create an array from a Python scalar, a (nested) list, a NumPy array or another "
           "array, optionally converting it to ``dtype``.")
      .def_prop_ro("shape",
                   [](const array& a) {
                     nb::list l;
                     for (auto d : a.shape()) l.append(d);
                     return nb::tuple(l);
                   })
      .def_prop_ro("dtype", &array::dtype)
      .def_prop_ro("ndim", &array::ndim)
      .def_prop_ro("size", &array::size)
      .def_prop_ro("itemsize", &array::itemsize)
      .def_prop_ro("nbytes", &array::nbytes)
      .def("__len__",
           [](const array& a) {
             if (a.ndim() == 0) throw nb::type_error("len() of a 0-d array");
             return a.shape()[0];
           })
      .def("item", [](array& a) { return to_scalar(a); },
           "The single element as a Python scalar (evaluates the array).")
      .def("tolist", [](array& a) { return to_list(a); },
           "The array as nested Python lists (evaluates the array).")
      .def("__array__",
           [](array& a, nb::handle dtype, nb::handle) { return to_numpy(a, dtype); },
           nb::arg("dtype") = nb::none(), nb::arg("copy") = nb::none())
      .def("__repr__", [](array& a) { return to_text(a); })
      .def("__format__", [](nb::handle self, nb::handle spec) {
             array& a = nb::cast<array&>(self);
             if (nb::len(spec) == 0) return nb::str(self);
             if (a.size() != 1) {
               throw type_error("[format] a format spec applies only to one-element arrays");
             }
             return nb::str(nb::module_::import_("builtins").attr("format")(to_scalar(a), spec));
           })
      // The capsule is a view of the array's buffer; the data is computed
      // before it is handed out, so the consumer's stream need not wait.
      .def("__dlpack__", [](array& a, nb::kwargs) { return nb::cast(to_dlpack(a)); },
           "The array as a DLPack capsule (no copy; evaluates and waits first).")
      .def("__dlpack_device__", [](array& a) {
             auto nd = to_dlpack(a);
             return nb::make_tuple(nd.device_type(), nd.device_id());
           })
      .def("__array_namespace__", [](const array&, nb::handle) {
             return nb::module_::import_("fastsync");
           }, nb::arg("api_version") = nb::none())
      .def("__bool__",
           [](array& a) {
             if (a.size() != 1) {
               throw std::invalid_argument(
                   "The truth value of an array with more than one element is ambiguous");
             }
             return nb::cast<bool>(nb::bool_(to_scalar(a)));
           })
      .def("__int__", [](array& a) { return nb::int_(to_scalar(a)); })
      .def("__float__", [](array& a) { return nb::float_(to_scalar(a)); })
      .def("__complex__",
           [](array& a) {
             nb::object v = to_scalar(a);
             Py_complex c = PyComplex_AsCComplex(v.ptr());
             if (c.real == -1.0 && PyErr_Occurred()) throw nb::python_error();
             return nb::steal(PyComplex_FromCComplex(c));
           })
      .def_prop_ro("real", [](const array& a) { return real(a); },
                   "The real part (the array itself when it is not complex).")
      .def_prop_ro("imag", [](const array& a) { return imag(a); },
                   "The imaginary part (zeros when the array is not complex).")
      .def("astype", [](const array& a, Dtype d, nb::handle s) {
             return astype(a, d, to_stream_or_device(s));
           }, nb::arg("dtype"), nb::arg("stream") = nb::none())
      .def("reshape", [](const array& a, nb::args shape, nb::handle s) {
             return reshape(a, ints_or_sequence<int64_t>(shape), to_stream_or_device(s));
           }, nb::arg("shape"), nb::kw_only(), nb::arg("stream") = nb::none())
      .def("transpose", [](const array& a, nb::args axes, nb::handle s) {
             if (axes.size() == 0) return transpose(a, to_stream_or_device(s));
             return transpose(a, ints_or_sequence<int>(axes), to_stream_or_device(s));
           }, nb::arg("axes"), nb::kw_only(), nb::arg("stream") = nb::none())
      .def_prop_ro("T", [](const array& a) { return transpose(a); })
      .def_prop_ro("at", [](const array& a) { return AtIndexer{a}; },
                   "Functional updates: a.at[idx].add(v) / a.at[idx].set(v).")
      .def("sum", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return sum(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("prod", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return prod(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("max", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return max(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("min", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return min(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("mean", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return mean(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("all", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return all(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("any", [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {
             return any(a, to_axes(axis), keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("argmax", [](const array& a, std::optional<int> axis, bool keepdims, nb::handle s) {
             return argmax(a, axis, keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("argmin", [](const array& a, std::optional<int> axis, bool keepdims, nb::handle s) {
             return argmin(a, axis, keepdims, to_stream_or_device(s));
           }, nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
           nb::arg("stream") = nb::none())
      .def("__getitem__", [](const array& a, nb::handle idx) {
             return get_index(a, to_index(idx));
           }, nb::arg("index").none())
      .def("__setitem__", [](array& a, nb::handle idx, nb::handle v) {
             a = set_index(a, to_index(idx), to_operand(v, a.dtype()));
           }, nb::arg("index").none(), nb::arg("value").none(),
           "Replace the selected elements (the array object is updated in place).")
      .def("__neg__", [](const array& a) { return negative(a); })
      .def("__abs__", [](const array& a) { return abs(a); })
      .def("__add__", [](const array& a, nb::handle o) { return bin(a, o, add); })
      .def("__radd__", [](const array& a, nb::handle o) { return rbin(a, o, add); })
      .def("__sub__", [](const array& a, nb::handle o) { return bin(a, o, subtract); })
      .def("__rsub__", [](const array& a, nb::handle o) { return rbin(a, o, subtract); })
      .def("__mul__", [](const array& a, nb::handle o) { return bin(a, o, multiply); })
      .def("__rmul__", [](const array& a, nb::handle o) { return rbin(a, o, multiply); })
      .def("__truediv__", [](const array& a, nb::handle o) { return bin(a, o, divide); })
      .def("__rtruediv__", [](const array& a, nb::handle o) { return rbin(a, o, divide); })
      .def("__floordiv__", [](const array& a, nb::handle o) { return bin(a, o, floor_divide); })
      .def("__rfloordiv__",
           [](const array& a, nb::handle o) { return rbin(a, o, floor_divide); })
      .def("__mod__", [](const array& a, nb::handle o) { return bin(a, o, remainder); })
      .def("__rmod__", [](const array& a, nb::handle o) { return rbin(a, o, remainder); })
      .def("__divmod__",
           [](const array& a, nb::handle o) {
             auto r = divmod(a, to_operand(o, a.dtype()));
             return nb::make_tuple(r[0], r[1]);
           })
      .def("__rdivmod__",
           [](const array& a, nb::handle o) {
             auto r = divmod(to_operand(o, a.dtype()), a);
             return nb::make_tuple(r[0], r[1]);
           })
      .def("__pow__", [](const array& a, nb::handle o) { return bin(a, o, power); })
      .def("__rpow__", [](const array& a, nb::handle o) { return rbin(a, o, power); })
      // == and != compare elementwise with arrays and Python scalars; any other
      // object (a list, a tuple, None) is simply unequal, as in MLX.
      .def("__eq__", [](const array& a, nb::handle o) -> nb::object {
             if (!nb::isinstance<array>(o) && !is_python_scalar(o)) return nb::bool_(false);
             return nb::cast(bin(a, o, equal));
           })
      .def("__ne__", [](const array& a, nb::handle o) -> nb::object {
             if (!nb::isinstance<array>(o) && !is_python_scalar(o)) return nb::bool_(true);
             return nb::cast(bin(a, o, not_equal));
           })
      .def("__lt__", [](const array& a, nb::handle o) { return bin(a, o, less); })
      .def("__le__", [](const array& a, nb::handle o) { return bin(a, o, less_equal); })
      .def("__gt__", [](const array& a, nb::handle o) { return bin(a, o, greater); })
      .def("__ge__", [](const array& a, nb::handle o) { return bin(a, o, greater_equal); })
      .def("__and__", [](const array& a, nb::handle o) { return bin(a, o, bitwise_and); })
      .def("__rand__", [](const array& a, nb::handle o) { return rbin(a, o, bitwise_and); })
      .def("__or__", [](const array& a, nb::handle o) { return bin(a, o, bitwise_or); })
      .def("__ror__", [](const array& a, nb::handle o) { return rbin(a, o, bitwise_or); })
      .def("__xor__", [](const array& a, nb::handle o) { return bin(a, o, bitwise_xor); })
      .def("__rxor__", [](const array& a, nb::handle o) { return rbin(a, o, bitwise_xor); })
      .def("__lshift__", [](const array& a, nb::handle o) { return bin(a, o, left_shift); })
      .def("__rlshift__", [](const array& a, nb::handle o) { return rbin(a, o, left_shift); })
      .def("__rshift__", [](const array& a, nb::handle o) { return bin(a, o, right_shift); })
      .def("__rrshift__", [](const array& a, nb::handle o) { return rbin(a, o, right_shift); })
      .def("__invert__", [](const array& a) { return bitwise_invert(a); })
      .def("__hash__", [](const array& a) { return reinterpret_cast<intptr_t>(a.id()); })
      .def("__iadd__", [](nb::handle a, nb::handle o) { return inplace(a, o, add); })
      .def("__isub__", [](nb::handle a, nb::handle o) { return inplace(a, o, subtract); })
      .def("__imul__", [](nb::handle a, nb::handle o) { return inplace(a, o, multiply); })
      .def("__itruediv__", [](nb::handle a, nb::handle o) { return inplace(a, o, divide); })
      .def("__ifloordiv__", [](nb::handle a, nb::handle o) { return inplace(a, o, floor_divide); })
      .def("__imod__", [](nb::handle a, nb::handle o) { return inplace(a, o, remainder); })
      .def("__ipow__", [](nb::handle a, nb::handle o) { return inplace(a, o, power); })
      .def("__iand__", [](nb::handle a, nb::handle o) { return inplace(a, o, bitwise_and); })
      .def("__ior__", [](nb::handle a, nb::handle o) { return inplace(a, o, bitwise_or); })
      .def("__ixor__", [](nb::handle a, nb::handle o) { return inplace(a, o, bitwise_xor); })
      .def("__ilshift__", [](nb::handle a, nb::handle o) { return inplace(a, o, left_shift); })
      .def("__irshift__", [](nb::handle a, nb::handle o) { return inplace(a, o, right_shift); });
}

}  // namespace fastsync::py

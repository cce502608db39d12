// Bindings for the rearranging and combining ops (ops/rearrange.cpp), the
// sort-based ops and the window functions. Arguments are converted here;
// all checking happens in the C++ ops.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "ops/ops.h"
#include "primitives/binary.h"

namespace fastsync::py {

namespace {

nb::list to_list_of(const std::vector<array>& v) {
  nb::list out;
  for (auto& a : v) out.append(a);
  return out;
}

// atleast_1d(x) -> array; atleast_1d(x, y) -> list, as MLX.
nb::object atleast(const nb::args& arys, int n, nb::handle s) {
  std::vector<array> out;
  for (auto h : arys) out.push_back(atleast_nd(to_array(h), n, to_stream_or_device(s)));
  if (out.size() == 1) return nb::cast(out[0]);
  return to_list_of(out);
}

bool side_is_right(const std::string& side) {
  if (side == "left") return false;
  if (side == "right") return true;
  throw std::invalid_argument("[searchsorted] side must be 'left' or 'right', got '" + side + "'");
}

bool indexing_is_xy(const std::string& indexing) {
  if (indexing == "xy") return true;
  if (indexing == "ij") return false;
  throw std::invalid_argument("[meshgrid] indexing must be 'xy' or 'ij', got '" + indexing + "'");
}

}  // namespace

void init_rearrange(nb::module_& m) {
  m.def(
      "contiguous",
      [](nb::handle a, nb::handle s) { return contiguous(to_array(a), to_stream_or_device(s)); },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(), "A row-contiguous copy.");
  m.def(
      "flatten",
      [](nb::handle a, int start_axis, int end_axis, nb::handle s) {
        return flatten(to_array(a), start_axis, end_axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("start_axis") = 0, nb::arg("end_axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Merge the axes start_axis..end_axis into one.");
  m.def(
      "unflatten",
      [](nb::handle a, int axis, nb::handle shape, nb::handle s) {
        return unflatten(to_array(a), axis, to_shape(shape), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis"), nb::arg("shape"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Split one axis into the given shape.");
  m.def(
      "unstack",
      [](nb::handle a, int axis, nb::handle s) {
        return to_list_of(unstack(to_array(a), axis, to_stream_or_device(s)));
      },
      nb::arg("a"), nb::arg("axis") = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "The slices along an axis, as a list.");
  m.def(
      "atleast_1d", [](nb::args arys, nb::handle s) { return atleast(arys, 1, s); },
      nb::arg("arys"), nb::arg("stream") = nb::none());
  m.def(
      "atleast_2d", [](nb::args arys, nb::handle s) { return atleast(arys, 2, s); },
      nb::arg("arys"), nb::arg("stream") = nb::none());
  m.def(
      "atleast_3d", [](nb::args arys, nb::handle s) { return atleast(arys, 3, s); },
      nb::arg("arys"), nb::arg("stream") = nb::none());
  m.def(
      "broadcast_arrays",
      [](nb::args arrays, nb::handle s) {
        return nb::tuple(to_list_of(broadcast_arrays(to_arrays(arrays), to_stream_or_device(s))));
      },
      nb::arg("arrays"), nb::arg("stream") = nb::none(),
      "Broadcast the arrays against each other (views).");
  m.def(
      "broadcast_shapes",
      [](nb::args shapes) {
        if (shapes.size() == 0) throw std::invalid_argument("[broadcast_shapes] needs a shape");
        Shape out;
        for (auto h : shapes) out = broadcast_shapes(out, to_shape(h));
        return nb::tuple(nb::cast(out));
      },
      nb::arg("shapes"), "The shape the given shapes broadcast to.");
  m.def(
      "roll",
      [](nb::handle a, nb::handle shift, nb::handle axis, nb::handle s) {
        return roll(to_array(a), to_shape(shift), to_axes(axis), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("shift"), nb::arg("axis") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Shift elements cyclically along axes.");
  m.def(
      "flip",
      [](nb::handle a, nb::handle axis, nb::handle s) {
        return flip(to_array(a), to_axes(axis), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Reverse the order of elements along axes (all when None; a view).");
  m.def(
      "view",
      [](nb::handle a, Dtype dtype, nb::handle s) {
        return view(to_array(a), dtype, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("dtype"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "The same bytes read as another dtype (the last axis scales by the size ratio).");
  m.def(
      "diagonal",
      [](nb::handle a, int64_t offset, int axis1, int axis2, nb::handle s) {
        return diagonal(to_array(a), offset, axis1, axis2, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("offset") = 0, nb::arg("axis1") = 0, nb::arg("axis2") = 1,
      nb::kw_only(), nb::arg("stream") = nb::none(), "The diagonals as a last axis (a view).");
  m.def(
      "diag",
      [](nb::handle a, int64_t k, nb::handle s) {
        return diag(to_array(a), k, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("k") = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "A 2-D input's k-th diagonal, or the matrix with a 1-D input on it.");
  m.def(
      "trace",
      [](nb::handle a, int64_t offset, int axis1, int axis2, nb::handle dtype, nb::handle s) {
        return trace(to_array(a), offset, axis1, axis2, to_dtype(dtype), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("offset") = 0, nb::arg("axis1") = 0, nb::arg("axis2") = 1,
      nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Sum along the diagonals.");
  m.def(
      "meshgrid",
      [](nb::args arrays, bool sparse, const std::string& indexing, nb::handle s) {
        return nb::tuple(to_list_of(
            meshgrid(to_arrays(arrays), sparse, indexing_is_xy(indexing), to_stream_or_device(s))));
      },
      nb::arg("arrays"), nb::arg("sparse") = false, nb::arg("indexing") = "xy",
      nb::arg("stream") = nb::none(), "Coordinate grids from 1-D arrays.");
  m.def(
      "diff",
      [](nb::handle a, int n, int axis, nb::handle s) {
        return diff(to_array(a), n, axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("n") = 1, nb::arg("axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(), "The n-th discrete difference along an axis.");
  m.def(
      "as_strided",
      [](nb::handle a, nb::handle shape, nb::handle strides, int64_t offset, nb::handle s) {
        array x = to_array(a);
        Shape sh = shape.is_none() ? x.shape() : to_shape(shape);
        Strides st = strides.is_none() ? row_major_strides(sh) : nb::cast<Strides>(strides);
        return as_strided(x, sh, st, offset, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("shape") = nb::none(), nb::arg("strides") = nb::none(),
      nb::arg("offset") = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "A view with the given shape, strides and offset over a's row-major elements.");
  m.def(
      "slice",
      [](nb::handle a, nb::handle start, nb::handle axes, nb::handle size, nb::handle s) {
        return dynamic_slice(to_array(a), to_array(start), to_axis_list(axes), to_shape(size),
                             to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("start_indices"), nb::arg("axes"), nb::arg("slice_size"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "A slice of static size whose start is an array.");
  m.def(
      "slice_update",
      [](nb::handle a, nb::handle update, nb::handle start, nb::handle axes, nb::handle s) {
        return slice_update(to_array(a), to_array(update), to_array(start), to_axis_list(axes),
                            to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("update"), nb::arg("start_indices"), nb::arg("axes"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "a with a block replaced by update.");
  m.def(
      "put_along_axis",
      [](nb::handle a, nb::handle indices, nb::handle values, std::optional<int> axis,
         nb::handle s) {
        array x = to_array(a);
        return put_along_axis(x, to_array(indices), to_operand(values, x.dtype()), axis,
                              to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("indices"), nb::arg("values"), nb::arg("axis") = nb::none(),
      nb::kw_only(), nb::arg("stream") = nb::none(),
      "a with values written at per-position indices along an axis.");

  m.def("depends", [](nb::handle inputs, nb::handle deps, nb::handle s) -> nb::object {
    // A single array in gives a single array out, a list gives a list (MLX).
    bool single = nb::isinstance<array>(inputs);
    auto ins = single ? std::vector<array>{nb::cast<array>(inputs)} : to_arrays(inputs);
    auto ds = nb::isinstance<array>(deps) ? std::vector<array>{nb::cast<array>(deps)}
                                          : to_arrays(deps);
    auto out = depends(ins, ds, to_stream_or_device(s));
    if (single) return nb::cast(out[0]);
    return to_list_of(out);
  }, nb::arg("inputs"), nb::arg("dependencies"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "The inputs, unchanged, computed only after the dependencies.");
  m.def(
      "outer",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return outer(to_array(a), to_array(b), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none());
  m.def(
      "inner",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return inner(to_array(a), to_array(b), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none());
  m.def(
      "tensordot",
      [](nb::handle a, nb::handle b, nb::handle axes, nb::handle s) {
        array x = to_array(a), y = to_array(b);
        if (nb::isinstance<nb::int_>(axes)) {
          return tensordot(x, y, nb::cast<int>(axes), to_stream_or_device(s));
        }
        auto pair = nb::cast<std::vector<nb::object>>(axes);
        if (pair.size() != 2) {
          throw std::invalid_argument("[tensordot] axes must be an int or a pair of axis lists");
        }
        return tensordot(x, y, to_axis_list(pair[0]), to_axis_list(pair[1]),
                         to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("axes") = 2, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Contraction over the given axes.");
  m.def(
      "vecdot",
      [](nb::handle a, nb::handle b, int axis, nb::handle s) {
        return vecdot(to_array(a), to_array(b), axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Dot products along an axis.");
  m.def(
      "kron",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return kron(to_array(a), to_array(b), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Kronecker product.");

  m.def(
      "partition",
      [](nb::handle a, int kth, std::optional<int> axis, nb::handle s) {
        return partition(to_array(a), kth, axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("kth"), nb::arg("axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(),
      "Element kth in its sorted place, no larger ones before it and no smaller after.");
  m.def(
      "argpartition",
      [](nb::handle a, int kth, std::optional<int> axis, nb::handle s) {
        return argpartition(to_array(a), kth, axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("kth"), nb::arg("axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Positions that partition the array.");
  m.def(
      "searchsorted",
      [](nb::handle a, nb::handle v, const std::string& side, nb::handle s) {
        array x = to_array(a);
        return searchsorted(x, to_operand(v, x.dtype()), side_is_right(side),
                            to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("v"), nb::arg("side") = "left", nb::kw_only(),
      nb::arg("stream") = nb::none(), "Insertion points of v into the sorted 1-D a.");
  m.def(
      "median",
      [](nb::handle a, nb::handle axis, bool keepdims, nb::handle s) {
        return median(to_array(a), to_axes(axis), keepdims, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Median over the axes (all when None).");
  m.def(
      "count_nonzero",
      [](nb::handle a, nb::handle axis, bool keepdims, nb::handle s) {
        return count_nonzero(to_array(a), to_axes(axis), keepdims, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Number of nonzero elements over the axes (int32).");
  m.def(
      "logcumsumexp",
      [](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, nb::handle s) {
        return logcumsumexp(to_array(a), axis, reverse, inclusive, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::kw_only(), nb::arg("reverse") = false,
      nb::arg("inclusive") = true, nb::arg("stream") = nb::none(),
      "Running log(sum(exp(a))) along an axis.");

  m.def(
      "hanning", [](int64_t n, nb::handle s) { return hanning(n, to_stream_or_device(s)); },
      nb::arg("M"), nb::kw_only(), nb::arg("stream") = nb::none(), "Hann window.");
  m.def(
      "hamming", [](int64_t n, nb::handle s) { return hamming(n, to_stream_or_device(s)); },
      nb::arg("M"), nb::kw_only(), nb::arg("stream") = nb::none(), "Hamming window.");
  m.def(
      "blackman", [](int64_t n, nb::handle s) { return blackman(n, to_stream_or_device(s)); },
      nb::arg("M"), nb::kw_only(), nb::arg("stream") = nb::none(), "Blackman window.");
  m.def(
      "bartlett", [](int64_t n, nb::handle s) { return bartlett(n, to_stream_or_device(s)); },
      nb::arg("M"), nb::kw_only(), nb::arg("stream") = nb::none(), "Bartlett window.");
}

}  // namespace fastsync::py

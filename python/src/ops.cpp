// Bindings for the graph-building ops. Arguments are converted here; all
// checking happens in the C++ ops.
#include "ops/ops.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "defs.h"
#include "errors.h"

namespace fastsync::py {

namespace {

using ReduceFn = array (*)(const array&, const Axes&, bool, StreamOrDevice);
using ArgReduceFn = array (*)(const array&, std::optional<int>, bool, StreamOrDevice);
using ScanFn = array (*)(const array&, std::optional<int>, bool, bool, StreamOrDevice);

void def_reduce(nb::module_& m, const char* name, ReduceFn f, const char* doc) {
  m.def(
      name,
      [f](nb::handle a, nb::handle axis, bool keepdims, nb::handle s) {
        return f(to_array(a), to_axes(axis), keepdims, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
      nb::arg("stream") = nb::none(), doc);
}

void def_arg_reduce(nb::module_& m, const char* name, ArgReduceFn f, const char* doc) {
  m.def(
      name,
      [f](nb::handle a, std::optional<int> axis, bool keepdims, nb::handle s) {
        return f(to_array(a), axis, keepdims, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
      nb::arg("stream") = nb::none(), doc);
}

void def_scan(nb::module_& m, const char* name, ScanFn f, const char* doc) {
  m.def(
      name,
      [f](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, nb::handle s) {
        return f(to_array(a), axis, reverse, inclusive, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::kw_only(), nb::arg("reverse") = false,
      nb::arg("inclusive") = true, nb::arg("stream") = nb::none(), doc);
}

// pad_width: n, (before, after), or ((before, after) or (n,), ...) with one
// entry per axis; a single pair the op applies to every axis.
std::vector<std::pair<int64_t, int64_t>> to_pad_widths(nb::handle pad_width) {
  if (nb::isinstance<nb::int_>(pad_width)) {
    int64_t v = nb::cast<int64_t>(pad_width);
    return {{v, v}};
  }
  auto seq = nb::cast<std::vector<nb::object>>(pad_width);
  if (!seq.empty() && nb::isinstance<nb::int_>(seq[0])) {
    auto p = nb::cast<std::vector<int64_t>>(pad_width);
    if (p.size() == 1) p.push_back(p[0]);  // (n,): n on both sides
    if (p.size() != 2) throw std::invalid_argument("[pad] pad_width must be (before, after)");
    return {{p[0], p[1]}};
  }
  std::vector<std::pair<int64_t, int64_t>> w;
  for (auto& o : seq) {
    auto p = nb::cast<std::vector<int64_t>>(o);
    if (p.size() == 1) p.push_back(p[0]);
    if (p.size() != 2) throw std::invalid_argument("[pad] each pad width is (before, after)");
    w.push_back({p[0], p[1]});
  }
  return w;
}

}  // namespace

void init_ops(nb::module_& m) {
  def_unary(m, "negative", negative, "Elementwise negation.");
  def_unary(m, "abs", abs, "Elementwise absolute value.");
  def_unary(m, "sign", sign, "Elementwise sign (-1, 0 or 1; NaN stays NaN).");
  def_unary(m, "exp", exp, "Elementwise exponential (integers compute in float32).");
  def_unary(m, "expm1", expm1, "exp(x) - 1, accurate near 0.");
  def_unary(m, "log", log, "Elementwise natural logarithm (integers compute in float32).");
  def_unary(m, "log1p", log1p, "log(1 + x), accurate near 0.");
  def_unary(m, "log2", log2, "Elementwise base-2 logarithm.");
  def_unary(m, "sqrt", sqrt, "Elementwise square root (integers compute in float32).");
  def_unary(m, "rsqrt", rsqrt, "Elementwise 1 / sqrt(x).");
  def_unary(m, "square", square, "Elementwise square.");
  def_unary(m, "sin", sin, "Elementwise sine.");
  def_unary(m, "cos", cos, "Elementwise cosine.");
  def_unary(m, "tanh", tanh, "Elementwise hyperbolic tangent.");
  def_unary(m, "sigmoid", sigmoid, "Elementwise logistic sigmoid 1 / (1 + exp(-x)).");
  def_unary(m, "_silu", silu, "x * sigmoid(x) as one op (what nn.silu calls).");
  def_unary(m, "erf", erf, "Elementwise error function.");
  def_unary(m, "floor", floor, "Elementwise floor (integers unchanged).");
  def_unary(m, "ceil", ceil, "Elementwise ceiling (integers unchanged).");
  def_unary(m, "logical_not", logical_not, "Elementwise logical not (output bool).");
  def_unary(m, "bitwise_invert", bitwise_invert, "Elementwise bitwise not of integers.");
  m.def(
      "round",
      [](nb::handle a, int decimals, nb::handle s) {
        return round(to_array(a), decimals, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("decimals") = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Round half to even to `decimals` places (integers unchanged).");

  def_binary(m, "add", add, "Elementwise sum with broadcasting.");
  def_binary(m, "subtract", subtract, "Elementwise difference with broadcasting.");
  def_binary(m, "multiply", multiply, "Elementwise product with broadcasting.");
  def_binary(m, "divide", divide, "Elementwise true division (integers give float32).");
  def_binary(m, "floor_divide", floor_divide, "Elementwise floor division.");
  def_binary(m, "remainder", remainder, "Elementwise remainder with the sign of the divisor.");
  def_binary(m, "power", power, "Elementwise power.");
  def_binary(m, "maximum", maximum, "Elementwise maximum; NaN propagates.");
  def_binary(m, "minimum", minimum, "Elementwise minimum; NaN propagates.");
  def_binary(m, "arctan2", arctan2, "Elementwise arc tangent of a / b, by quadrant.");
  def_binary(m, "logical_and", logical_and, "Elementwise logical and (output bool).");
  def_binary(m, "logical_or", logical_or, "Elementwise logical or (output bool).");
  def_binary(m, "bitwise_and", bitwise_and, "Elementwise bitwise and (integers, bool).");
  def_binary(m, "bitwise_or", bitwise_or, "Elementwise bitwise or (integers, bool).");
  def_binary(m, "bitwise_xor", bitwise_xor, "Elementwise bitwise xor (integers, bool).");
  def_binary(m, "left_shift", left_shift, "Elementwise left shift of integers.");
  def_binary(m, "right_shift", right_shift, "Elementwise right shift of integers.");
  def_binary(m, "equal", equal, "Elementwise a == b (output bool).");
  def_binary(m, "not_equal", not_equal, "Elementwise a != b (output bool).");
  def_binary(m, "less", less, "Elementwise a < b (output bool).");
  def_binary(m, "less_equal", less_equal, "Elementwise a <= b (output bool).");
  def_binary(m, "greater", greater, "Elementwise a > b (output bool).");
  def_binary(m, "greater_equal", greater_equal, "Elementwise a >= b (output bool).");

  m.def(
      "where",
      [](nb::handle c, nb::handle x, nb::handle y, nb::handle s) {
        auto [a, b] = to_operands(x, y);
        return where(to_array(c), a, b, to_stream_or_device(s));
      },
      nb::arg("condition"), nb::arg("x"), nb::arg("y"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Elements of x where condition holds, else of y.");
  m.def(
      "clip",
      [](nb::handle a, nb::handle lo, nb::handle hi, nb::handle s) {
        array x = to_array(a);
        auto bound = [&](nb::handle h) -> std::optional<array> {
          if (h.is_none()) return std::nullopt;
          return to_operand(h, x.dtype());
        };
        return clip(x, bound(lo), bound(hi), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("a_min").none(), nb::arg("a_max").none(), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Limit values to [a_min, a_max] (either may be None).");

  m.def(
      "divmod",
      [](nb::handle a, nb::handle b, nb::handle s) {
        auto [x, y] = to_operands(a, b);
        auto r = divmod(x, y, to_stream_or_device(s));
        return nb::make_tuple(r[0], r[1]);
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Floor quotient and remainder, two outputs of one primitive.");

  def_reduce(m, "sum", sum,
             "Sum over the given axes (all when None); narrow integers sum in int32.");
  def_reduce(m, "prod", prod, "Product over the given axes; narrow integers multiply in int32.");
  def_reduce(m, "max", max, "Maximum over the given axes; NaN propagates.");
  def_reduce(m, "min", min, "Minimum over the given axes; NaN propagates.");
  def_reduce(m, "all", all, "True where every element over the axes is nonzero.");
  def_reduce(m, "any", any, "True where some element over the axes is nonzero.");
  def_reduce(m, "mean", mean, "Mean over the given axes (integers in float32).");
  def_reduce(m, "logsumexp", logsumexp, "log(sum(exp(a))) over the axes, computed stably.");
  m.def(
      "var",
      [](nb::handle a, nb::handle axis, bool keepdims, int ddof, nb::handle s) {
        return var(to_array(a), to_axes(axis), keepdims, ddof, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::arg("ddof") = 0,
      nb::kw_only(), nb::arg("stream") = nb::none(), "Variance.");
  m.def(
      "std",
      [](nb::handle a, nb::handle axis, bool keepdims, int ddof, nb::handle s) {
        return std(to_array(a), to_axes(axis), keepdims, ddof, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::arg("ddof") = 0,
      nb::kw_only(), nb::arg("stream") = nb::none(), "Standard deviation.");
  // precise: accepted for MLX code; half-precision inputs always accumulate
  // in float32 here.
  m.def(
      "softmax",
      [](nb::handle a, nb::handle axis, bool, nb::handle s) {
        return softmax(to_array(a), to_axes(axis), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::kw_only(), nb::arg("precise") = false,
      nb::arg("stream") = nb::none(),
      "exp(a) / sum(exp(a)) over the axes (all when None), computed stably.");
  def_arg_reduce(m, "argmax", argmax, "Index of the maximum along an axis (flattened if None).");
  def_arg_reduce(m, "argmin", argmin, "Index of the minimum along an axis (flattened if None).");
  def_scan(m, "cumsum", cumsum, "Running sum along an axis (flattened if None).");
  def_scan(m, "cumprod", cumprod, "Running product along an axis (flattened if None).");
  def_scan(m, "cummax", cummax, "Running maximum along an axis (flattened if None).");
  def_scan(m, "cummin", cummin, "Running minimum along an axis (flattened if None).");

  m.def(
      "astype",
      [](nb::handle a, Dtype d, nb::handle s) {
        return astype(to_array(a), d, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("dtype"), nb::kw_only(), nb::arg("stream") = nb::none());

  m.def(
      "reshape",
      [](nb::handle a, nb::handle shape, nb::handle s) {
        return reshape(to_array(a), to_shape(shape), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("shape"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Reshape; a view when the input is row-contiguous, a copy otherwise.");

  m.def(
      "transpose",
      [](nb::handle a, nb::handle axes, nb::handle s) {
        array x = to_array(a);
        if (axes.is_none()) return transpose(x, to_stream_or_device(s));
        return transpose(x, nb::cast<std::vector<int>>(axes), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axes") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Permute axes (reverse them by default); a view.");

  m.def(
      "expand_dims",
      [](nb::handle a, nb::handle axis, nb::handle s) {
        return expand_dims(to_array(a), to_axis_list(axis), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Insert axes of size 1 (a view).");
  m.def(
      "squeeze",
      [](nb::handle a, nb::handle axis, nb::handle s) {
        return squeeze(to_array(a), to_axes(axis), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Remove axes of size 1 (all of them when None; a view).");
  m.def(
      "swapaxes",
      [](nb::handle a, int x, int y, nb::handle s) {
        return swapaxes(to_array(a), x, y, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis1"), nb::arg("axis2"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Swap two axes (a view).");
  m.def(
      "moveaxis",
      [](nb::handle a, int src, int dst, nb::handle s) {
        return moveaxis(to_array(a), src, dst, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("source"), nb::arg("destination"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Move an axis to a new position (a view).");
  m.def(
      "concatenate",
      [](nb::handle arrays, std::optional<int> axis, nb::handle s) {
        auto xs = to_arrays(arrays);
        if (!axis) {  // None: the flattened arrays, end to end
          for (auto& x : xs) x = flatten(x, 0, -1, to_stream_or_device(s));
        }
        return concatenate(xs, axis.value_or(0), to_stream_or_device(s));
      },
      nb::arg("arrays"), nb::arg("axis").none() = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Join arrays along an existing axis (flattened when axis is None).");
  m.def(
      "stack",
      [](nb::handle arrays, int axis, nb::handle s) {
        return stack(to_arrays(arrays), axis, to_stream_or_device(s));
      },
      nb::arg("arrays"), nb::arg("axis") = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Join same-shaped arrays along a new axis.");
  m.def(
      "split",
      [](nb::handle a, nb::handle indices_or_sections, int axis, nb::handle s) {
        array x = to_array(a);
        auto parts =
            nb::isinstance<nb::int_>(indices_or_sections)
                ? split(x, nb::cast<int>(indices_or_sections), axis, to_stream_or_device(s))
                : split(x, nb::cast<std::vector<int64_t>>(indices_or_sections), axis,
                        to_stream_or_device(s));
        nb::list out;
        for (auto& p : parts) out.append(p);
        return out;
      },
      nb::arg("a"), nb::arg("indices_or_sections"), nb::arg("axis") = 0, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Split into equal sections or at the given indices (views).");

  m.def(
      "tile",
      [](nb::handle a, nb::handle reps, nb::handle s) {
        return tile(to_array(a), to_shape(reps), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("reps"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Repeat the whole array reps times along each axis.");
  m.def(
      "repeat",
      [](nb::handle a, int64_t repeats, std::optional<int> axis, nb::handle s) {
        return repeat(to_array(a), repeats, axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("repeats"), nb::arg("axis") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Repeat each element (flattened when axis is None).");
  m.def(
      "pad",
      [](nb::handle a, nb::handle pad_width, const std::string& mode, nb::handle value,
         nb::handle s) {
        array x = to_array(a);
        if (mode == "edge") return pad_edge(x, to_pad_widths(pad_width), to_stream_or_device(s));
        if (mode == "reflect" || mode == "symmetric") {
          return pad_mirror(x, to_pad_widths(pad_width), mode == "symmetric",
                            to_stream_or_device(s));
        }
        if (mode != "constant") {
          throw std::invalid_argument(
              "[pad] mode must be 'constant', 'edge', 'reflect' or 'symmetric', got '" + mode +
              "'");
        }
        return pad(x, to_pad_widths(pad_width), to_operand(value, x.dtype()),
                   to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("pad_width"), nb::arg("mode") = "constant",
      nb::arg("constant_values") = 0, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Constant or edge padding, NumPy's pad_width forms.");

  m.def(
      "take",
      [](nb::handle a, nb::handle indices, std::optional<int> axis, nb::handle s) {
        return take(to_array(a), to_array(indices), axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("indices"), nb::arg("axis") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Elements at integer indices along an axis.");
  m.def(
      "take_along_axis",
      [](nb::handle a, nb::handle indices, std::optional<int> axis, nb::handle s) {
        return take_along_axis(to_array(a), to_array(indices), axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("indices"), nb::arg("axis"), nb::kw_only(),
      nb::arg("stream") = nb::none(), "Elements at per-position indices along an axis.");
  m.def(
      "sort",
      [](nb::handle a, std::optional<int> axis, nb::handle s) {
        return sort(to_array(a), axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = -1, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Sorted copy along an axis (flattened when None); stable, NaN last.");
  m.def(
      "argsort",
      [](nb::handle a, std::optional<int> axis, nb::handle s) {
        return argsort(to_array(a), axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("axis") = -1, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Positions (uint32) that sort the array along an axis; stable.");
  m.def(
      "topk",
      [](nb::handle a, int k, std::optional<int> axis, nb::handle s) {
        return topk(to_array(a), k, axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("k"), nb::arg("axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(), "The k largest values along an axis, ascending.");

  m.def(
      "broadcast_to",
      [](nb::handle a, nb::handle shape, nb::handle s) {
        return broadcast_to(to_array(a), to_shape(shape), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("shape"), nb::kw_only(), nb::arg("stream") = nb::none());

  m.def(
      "zeros",
      [](nb::handle shape, nb::handle dtype, nb::handle s) {
        return zeros(to_shape(shape), to_dtype(dtype).value_or(float32), to_stream_or_device(s));
      },
      nb::arg("shape"), nb::arg("dtype") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none());
  m.def(
      "ones",
      [](nb::handle shape, nb::handle dtype, nb::handle s) {
        return ones(to_shape(shape), to_dtype(dtype).value_or(float32), to_stream_or_device(s));
      },
      nb::arg("shape"), nb::arg("dtype") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none());
  m.def(
      "full",
      [](nb::handle shape, nb::handle vals, nb::handle dtype, nb::handle s) {
        auto d = to_dtype(dtype);
        return full(to_shape(shape), array_from_object(vals, d), d, to_stream_or_device(s));
      },
      nb::arg("shape"), nb::arg("vals"), nb::arg("dtype") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none());
  m.def(
      "zeros_like",
      [](const array& a, nb::handle dtype, nb::handle s) {
        // zeros_like(a) itself, not a fill of a's shape: under compile its shape
        // follows a through a shapeless replay.
        auto so = to_stream_or_device(s);
        auto dt = to_dtype(dtype);
        array out = zeros_like(a, so);
        return dt && *dt != a.dtype() ? astype(out, *dt, so) : out;
      },
      nb::arg("a"), nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none());
  m.def(
      "ones_like",
      [](const array& a, nb::handle dtype, nb::handle s) {
        // ones_like(a) itself, not a fill of a's shape: under compile its shape
        // follows a through a shapeless replay.
        auto so = to_stream_or_device(s);
        auto dt = to_dtype(dtype);
        array out = ones_like(a, so);
        return dt && *dt != a.dtype() ? astype(out, *dt, so) : out;
      },
      nb::arg("a"), nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none());
  // Contents unspecified, as MLX's; fastsync fills zeros.
  m.def(
      "empty_like",
      [](const array& a, nb::handle dtype, nb::handle s) {
        return zeros(a.shape(), to_dtype(dtype).value_or(a.dtype()), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none());

  // NumPy's argument order: endpoint before dtype.
  m.def(
      "linspace",
      [](double start, double stop, int64_t num, bool endpoint, nb::handle dtype, nb::handle s) {
        return linspace(start, stop, num, to_dtype(dtype).value_or(float32), endpoint,
                        to_stream_or_device(s));
      },
      nb::arg("start"), nb::arg("stop"), nb::arg("num") = 50, nb::arg("endpoint") = true,
      nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "num evenly spaced values in [start, stop] (stop left out when endpoint=False).");
  m.def(
      "eye",
      [](int64_t n, std::optional<int64_t> m_, int k, nb::handle dtype, nb::handle s) {
        return eye(n, m_, k, to_dtype(dtype).value_or(float32), to_stream_or_device(s));
      },
      nb::arg("n"), nb::arg("m") = nb::none(), nb::arg("k") = 0, nb::arg("dtype") = nb::none(),
      nb::kw_only(), nb::arg("stream") = nb::none(), "Ones on the k-th diagonal.");
  m.def(
      "identity",
      [](int64_t n, nb::handle dtype, nb::handle s) {
        return identity(n, to_dtype(dtype).value_or(float32), to_stream_or_device(s));
      },
      nb::arg("n"), nb::arg("dtype") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none());
  m.def(
      "tri",
      [](int64_t n, std::optional<int64_t> m_, int k, nb::handle dtype, nb::handle s) {
        return tri(n, m_, k, to_dtype(dtype).value_or(float32), to_stream_or_device(s));
      },
      nb::arg("n"), nb::arg("m") = nb::none(), nb::arg("k") = 0, nb::arg("dtype") = nb::none(),
      nb::kw_only(), nb::arg("stream") = nb::none(), "Ones on and below the k-th diagonal.");
  m.def(
      "tril",
      [](nb::handle a, int k, nb::handle s) {
        return tril(to_array(a), k, to_stream_or_device(s));
      },
      nb::arg("x"), nb::arg("k") = 0, nb::kw_only(), nb::arg("stream") = nb::none());
  m.def(
      "triu",
      [](nb::handle a, int k, nb::handle s) {
        return triu(to_array(a), k, to_stream_or_device(s));
      },
      nb::arg("x"), nb::arg("k") = 0, nb::kw_only(), nb::arg("stream") = nb::none());

  m.def(
      "arange",
      [](nb::args args, nb::handle start_kw, nb::handle stop_kw, nb::handle step_kw,
         nb::handle dtype, nb::handle s) {
        // MLX's forms: arange(stop), arange(start, stop[, step]), and any of
        // start/stop/step as keywords (arange(-3, step=-1) counts down from 0).
        if (args.size() > 3) {
          throw std::invalid_argument("[arange] takes at most 3 positional arguments");
        }
        nb::object start, stop, step = nb::borrow(step_kw);
        // arange(stop), and arange(stop, None, step): the single bound is stop.
        bool only_stop = (args.size() == 1 && stop_kw.is_none()) ||
                         (args.size() >= 2 && args[1].is_none() && stop_kw.is_none());
        if (only_stop) {
          stop = args[0];
          if (args.size() == 3) step = args[2];
        } else {
          if (args.size() >= 1) start = args[0];
          if (args.size() >= 2) stop = args[1];
          if (args.size() == 3) step = args[2];
        }
        if (!start_kw.is_none()) start = nb::borrow(start_kw);
        if (!stop_kw.is_none()) stop = nb::borrow(stop_kw);
        if (!stop.is_valid() || stop.is_none()) throw type_error("[arange] needs a stop");
        bool all_int = true, wide = false;
        auto value = [&](const nb::object& h, double dflt) {
          if (!h.is_valid() || h.is_none()) return dflt;
          bool is_int = nb::isinstance<nb::int_>(h);
          all_int &= is_int;
          double v = nb::cast<double>(h);
          if (is_int) wide |= v > 2147483647.0 || v < -2147483648.0;
          return v;
        };
        double b = value(start, 0), e = value(stop, 0), st = value(step, 1);
        // Integers that need int64 make an int64 range, as mx.array's inference.
        Dtype d = to_dtype(dtype).value_or(all_int ? (wide ? int64 : int32) : float32);
        return arange(b, e, st, d, to_stream_or_device(s));
      },
      nb::arg("args"), nb::arg("start") = nb::none(), nb::arg("stop") = nb::none(),
      nb::arg("step") = nb::none(), nb::arg("dtype") = nb::none(), nb::arg("stream") = nb::none(),
      "arange(stop) / arange(start, stop[, step]): int32 for integer arguments, else "
      "float32.");
}

}  // namespace fastsync::py

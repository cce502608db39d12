// vmap (see vmap.h) and the default batching rule of a primitive.
#include "vmap.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include "ops/ops.h"
#include "primitives/tracing.h"
#include "tape.h"
#include "trace_scope.h"
#include "transforms.h"

namespace fastsync {

namespace {

struct Batched {
  array value;
  int axis;  // -1: the same for every entry
};

// Entry b of a batched array: the batch axis sliced away (a view).
array entry(const array& x, int axis, int64_t b, Stream s) {
  std::vector<std::optional<int64_t>> start(axis + 1), stop(axis + 1), step(axis + 1);
  start[axis] = b;
  stop[axis] = b + 1;
  return squeeze(slice(x, start, stop, step, s), std::vector<int>{axis}, s);
}

}  // namespace

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  // One node per entry, stacked: correct for every primitive, since each
  // entry has the shapes the primitive was built for.
  int64_t n = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) n = inputs[i].shape()[axes[i]];
  }
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  std::vector<std::vector<array>> per_output(outputs.size());
  for (int64_t b = 0; b < n; ++b) {
    std::vector<array> ins;
    for (size_t i = 0; i < inputs.size(); ++i) {
      ins.push_back(axes[i] >= 0 ? entry(inputs[i], axes[i], b, stream()) : inputs[i]);
    }
    auto outs = array::make_arrays(shapes, dtypes, self, std::move(ins));
    for (size_t k = 0; k < outs.size(); ++k) per_output[k].push_back(outs[k]);
  }
  std::vector<array> result;
  for (auto& v : per_output) result.push_back(stack(v, 0, stream()));
  return {result, std::vector<int>(result.size(), 0)};
}

std::vector<array> vmap(const ArrayFn& fun, const std::vector<array>& inputs,
                        const std::vector<int>& in_axes, const std::vector<int>& out_axes) {
  if (in_axes.size() != inputs.size()) {
    throw std::invalid_argument("[vmap] " + std::to_string(in_axes.size()) + " in_axes for " +
                                std::to_string(inputs.size()) + " inputs");
  }
  int64_t n = -1;
  std::vector<array> args;
  std::vector<array> placeholders;
  std::unordered_map<const void*, Batched> batched;
  Stream s = default_stream(default_device());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const array& x = inputs[i];
    int ax = in_axes[i];
    if (ax < 0) {
      args.push_back(x);
      continue;
    }
    if (ax >= x.ndim()) {
      throw std::invalid_argument("[vmap] in_axes " + std::to_string(ax) +
                                  " is out of range for "
                                  "an input of shape " +
                                  shape_str(x.shape()));
    }
    if (n >= 0 && x.shape()[ax] != n) {
      throw std::invalid_argument("[vmap] inputs have different sizes along their mapped axes (" +
                                  std::to_string(n) + " and " + std::to_string(x.shape()[ax]) +
                                  ")");
    }
    n = x.shape()[ax];
    // The function sees entry 0, behind a node of its own: the replay finds
    // it by identity.
    array first = entry(x, ax, 0, s);
    array p(first.shape(), first.dtype(), std::make_shared<Identity>(s), {first});
    batched.emplace(p.id(), Batched{x, ax});
    placeholders.push_back(p);
    args.push_back(p);
  }
  if (n < 0) throw std::invalid_argument("[vmap] no input is mapped (every in_axes is None)");

  std::vector<array> outputs;
  {
    autodiff::TracingScope scope;  // keep the traced graph intact
    // The function runs once, on entry 0: a value it reads (item, a branch)
    // would be entry 0's for the whole batch, so reading one raises.
    compile_trace::Scope values(placeholders, compile_trace::Tracer::vmap);
    outputs = fun(args);
  }
  // One out axis serves every output.
  std::vector<int> oaxes_all =
      out_axes.size() == 1 ? std::vector<int>(outputs.size(), out_axes[0]) : out_axes;
  if (oaxes_all.size() != outputs.size()) {
    throw std::invalid_argument("[vmap] " + std::to_string(out_axes.size()) + " out_axes for " +
                                std::to_string(outputs.size()) + " outputs");
  }

  Tape tape(outputs, placeholders, /*every_input=*/true);
  for (auto& node : tape.order()) {
    Node& nd = *node;
    std::vector<array> ins;
    std::vector<int> axes;
    for (auto& in : nd.inputs) {
      auto it = batched.find(in.id());
      if (it != batched.end()) {
        ins.push_back(it->second.value);
        axes.push_back(it->second.axis);
      } else {
        ins.push_back(in);
        axes.push_back(-1);
      }
    }
    // Every output (dropped ones recreated): the rule needs their shapes.
    std::vector<array> traced = node_outputs(nd);
    auto [outs, oaxes] = nd.primitive->vmap(ins, axes, traced, nd.primitive);
    for (size_t k = 0; k < outs.size(); ++k) {
      batched.insert_or_assign(traced[k].id(), Batched{outs[k], oaxes[k]});
    }
  }

  std::vector<array> result;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const array& o = outputs[k];
    int oa = oaxes_all[k] < 0 ? oaxes_all[k] + o.ndim() + 1 : oaxes_all[k];
    if (oa < 0 || oa > o.ndim()) {
      throw std::invalid_argument("[vmap] out_axes " + std::to_string(oa) +
                                  " is out of range for an output with " +
                                  std::to_string(o.ndim()) + " dimensions per entry");
    }
    auto it = batched.find(o.id());
    if (it == batched.end()) {
      // Not computed from a mapped input: the same for every entry.
      Shape shape = o.shape();
      shape.insert(shape.begin() + oa, n);
      result.push_back(broadcast_to(expand_dims(o, {oa}), shape));
    } else {
      result.push_back(moveaxis(it->second.value, it->second.axis, oa));
    }
  }
  return result;
}

}  // namespace fastsync

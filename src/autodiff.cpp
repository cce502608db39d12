// vjp, jvp, stop_gradient and custom functions: see autodiff.h for the
// contract. The walks below only read graph structure (shapes, dtypes,
// nodes), which never changes once built, so they need no lock; they run on
// the caller's thread.
#include "autodiff.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include "ops/ops.h"
#include "primitives/batching.h"
#include "primitives/grad_util.h"
#include "primitives/tracing.h"
#include "tape.h"
#include "transforms.h"

namespace fastsync {

namespace autodiff {

// Per thread: the transforms trace on the calling thread and the eval
// driver encodes on the calling thread, so no other thread reads it.
static thread_local int tracing_depth = 0;

bool is_tracing() { return tracing_depth > 0; }
TracingScope::TracingScope() { ++tracing_depth; }
TracingScope::~TracingScope() { --tracing_depth; }

}  // namespace autodiff

namespace {

using Id = const void*;

void accumulate(std::unordered_map<Id, array>& acc, const array& key, array value) {
  auto it = acc.find(key.id());
  if (it == acc.end()) {
    acc.emplace(key.id(), std::move(value));
  } else {
    it->second = add(it->second, value);
  }
}

// A derivative for `like`: its shape, and its dtype when that is inexact.
array fit(array d, const array& like) {
  if (d.shape() != like.shape()) d = grad::broadcast_like(d, like, to_stream({}));
  if (d.dtype() != like.dtype() && is_inexact(like.dtype())) d = astype(d, like.dtype());
  return d;
}

void check_same_shapes(const char* op, const char* what, const std::vector<array>& a,
                       const std::vector<array>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) {
      throw std::invalid_argument(std::string("[") + op + "] " + what + " " + std::to_string(i) +
                                  " has shape " + shape_str(b[i].shape()) + " but must have " +
                                  shape_str(a[i].shape()));
    }
  }
}

std::vector<array> trace(const ArrayFn& fun, const std::vector<array>& primals,
                         std::vector<array>& tracers) {
  for (auto& p : primals) {
    tracers.push_back(array(p.shape(), p.dtype(),
                            std::make_shared<Identity>(default_stream(default_device())), {p}));
  }
  return fun(tracers);
}

}  // namespace

std::vector<array> backward(const std::vector<array>& outputs, const std::vector<array>& cotangents,
                            const std::vector<array>& targets) {
  Tape tape(outputs, targets);
  std::unordered_map<Id, array> cots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (tape.reaches(outputs[i])) accumulate(cots, outputs[i], cotangents[i]);
  }
  const auto& order = tape.order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = **it;
    std::vector<array> outs = node_outputs(n);
    if (outs.empty()) continue;
    std::vector<array> seeds;
    bool any = false;
    for (auto& o : outs) {
      auto c = cots.find(o.id());
      if (c != cots.end()) {
        seeds.push_back(c->second);
        cots.erase(c);
        any = true;
      } else {
        seeds.push_back(zeros(o.shape(), o.dtype(), n.primitive->stream()));
      }
    }
    if (!any) continue;
    std::vector<int> argnums = tape.argnums(n);
    std::vector<array> grads = n.primitive->vjp(n.inputs, seeds, argnums, outs);
    for (size_t j = 0; j < argnums.size(); ++j) {
      const array& in = n.inputs[argnums[j]];
      accumulate(cots, in, fit(grads[j], in));
    }
  }
  std::vector<array> result;
  for (auto& t : targets) {
    auto c = cots.find(t.id());
    result.push_back(c != cots.end() ? c->second : zeros_like(t));
  }
  return result;
}

// Tangents of `outputs` given `tangents` of `inputs` (forward mode).
static std::vector<array> forward(const std::vector<array>& inputs,
                                  const std::vector<array>& tangents,
                                  const std::vector<array>& outputs) {
  Tape tape(outputs, inputs);
  std::unordered_map<Id, array> tans;
  for (size_t i = 0; i < inputs.size(); ++i) tans.insert_or_assign(inputs[i].id(), tangents[i]);
  for (auto& np : tape.order()) {
    Node& n = *np;
    std::vector<int> argnums;
    std::vector<array> ts;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      auto t = tans.find(n.inputs[i].id());
      if (t == tans.end() || !n.primitive->passes_gradient(static_cast<int>(i))) continue;
      argnums.push_back(static_cast<int>(i));
      ts.push_back(t->second);
    }
    if (argnums.empty()) continue;
    std::vector<array> outs = node_outputs(n);
    if (outs.empty()) continue;
    std::vector<array> out_t = n.primitive->jvp(n.inputs, ts, argnums, outs);
    for (size_t k = 0; k < outs.size(); ++k) tans.insert_or_assign(outs[k].id(), out_t[k]);
  }
  std::vector<array> result;
  for (auto& o : outputs) {
    auto t = tans.find(o.id());
    result.push_back(t != tans.end() ? fit(t->second, o) : zeros_like(o));
  }
  return result;
}

std::pair<std::vector<array>, std::vector<array>> vjp(const ArrayFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  autodiff::TracingScope scope;
  std::vector<array> tracers;
  std::vector<array> outputs = trace(fun, primals, tracers);
  if (outputs.size() != cotangents.size()) {
    throw std::invalid_argument("[vjp] the function has " + std::to_string(outputs.size()) +
                                " outputs but " + std::to_string(cotangents.size()) +
                                " cotangents were given");
  }
  check_same_shapes("vjp", "cotangent", outputs, cotangents);
  std::vector<array> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) seeds.push_back(fit(cotangents[i], outputs[i]));
  return {outputs, backward(outputs, seeds, tracers)};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const ArrayFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (primals.size() != tangents.size()) {
    throw std::invalid_argument("[jvp] " + std::to_string(primals.size()) + " primals but " +
                                std::to_string(tangents.size()) + " tangents were given");
  }
  check_same_shapes("jvp", "tangent", primals, tangents);
  autodiff::TracingScope scope;
  std::vector<array> tracers;
  std::vector<array> outputs = trace(fun, primals, tracers);
  return {outputs, forward(tracers, tangents, outputs)};
}

array stop_gradient(const array& a, StreamOrDevice s) {
  return array(a.shape(), a.dtype(), std::make_shared<StopGradient>(to_stream(s)), {a});
}

std::vector<array> custom_function(const std::vector<array>& inputs,
                                   const std::vector<array>& outputs, CustomVjp vjp_rule,
                                   CustomJvp jvp_rule) {
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  std::vector<array> all = outputs;
  all.insert(all.end(), inputs.begin(), inputs.end());
  auto prim = std::make_shared<CustomTransforms>(default_stream(default_device()),
                                                 static_cast<int>(outputs.size()),
                                                 std::move(vjp_rule), std::move(jvp_rule));
  return array::make_arrays(std::move(shapes), std::move(dtypes), std::move(prim), std::move(all));
}

// --- the transforms' own primitives ------------------------------------

void Identity::view(const array& in, array& out) const { out.copy_shared_buffer(in); }

std::vector<array> Identity::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                 const std::vector<int>&, const std::vector<array>&) {
  return {cotangents[0]};
}

std::pair<std::vector<array>, std::vector<int>> Identity::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  return batching::elementwise(self, inputs, axes, outputs);
}

std::vector<array> Identity::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                 const std::vector<int>&, const std::vector<array>&) {
  return {tangents[0]};
}

std::vector<array> CustomTransforms::vjp(const std::vector<array>& primals,
                                         const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums,
                                         const std::vector<array>& outputs) {
  std::vector<array> fun_outputs(primals.begin(), primals.begin() + n_);
  std::vector<array> inputs(primals.begin() + n_, primals.end());
  std::vector<array> all;
  if (vjp_) {
    all = vjp_(inputs, cotangents, outputs);
    if (all.size() != inputs.size()) {
      throw std::invalid_argument("[custom_function] the vjp returned " +
                                  std::to_string(all.size()) + " arrays for " +
                                  std::to_string(inputs.size()) + " inputs");
    }
  } else {
    all = backward(fun_outputs, cotangents, inputs);
  }
  std::vector<array> out;
  for (int i : argnums) out.push_back(all[i - n_]);
  return out;
}

std::vector<array> CustomTransforms::jvp(const std::vector<array>& primals,
                                         const std::vector<array>& tangents,
                                         const std::vector<int>& argnums,
                                         const std::vector<array>& outputs) {
  std::vector<array> fun_outputs(primals.begin(), primals.begin() + n_);
  std::vector<array> inputs(primals.begin() + n_, primals.end());
  std::vector<array> all_t;
  for (auto& in : inputs) all_t.push_back(zeros_like(in, stream()));
  for (size_t j = 0; j < argnums.size(); ++j) all_t[argnums[j] - n_] = tangents[j];
  if (jvp_) {
    auto out = jvp_(inputs, all_t);
    if (out.size() != outputs.size()) {
      throw std::invalid_argument("[custom_function] the jvp returned " +
                                  std::to_string(out.size()) + " arrays for " +
                                  std::to_string(outputs.size()) + " outputs");
    }
    return out;
  }
  return forward(inputs, all_t, fun_outputs);
}

}  // namespace fastsync

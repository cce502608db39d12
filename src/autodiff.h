// Reverse and forward mode differentiation over the lazy graph.
//
// Called from any thread that builds graphs (the Python thread, usually);
// nothing here computes: the transforms trace a function on tracer arrays,
// then build the derivative graph from each primitive's vjp/jvp, on the
// primitive's own stream. While a transform traces on a thread, evaluation
// on that thread neither detaches graphs nor donates buffers, so arrays the
// function evaluates mid-trace keep the edges the backward pass walks.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "array.h"

namespace fastsync {

using ArrayFn = std::function<std::vector<array>(const std::vector<array>&)>;

// outputs = fun(primals), and the vector-Jacobian products of the outputs
// with `cotangents` (one per output, same shapes) for each primal.
std::pair<std::vector<array>, std::vector<array>> vjp(const ArrayFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
// outputs = fun(primals), and the Jacobian-vector products of the outputs
// with `tangents` (one per primal, same shapes).
std::pair<std::vector<array>, std::vector<array>> jvp(const ArrayFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);

// The cotangents reaching `targets` when `cotangents` flow back from
// `outputs` through the graph between them (targets matched by identity);
// zeros for a target nothing reaches. The building block of vjp, also used
// by custom functions and the default jvp of a primitive.
std::vector<array> backward(const std::vector<array>& outputs, const std::vector<array>& cotangents,
                            const std::vector<array>& targets);

// The same values, but a wall for derivatives.
array stop_gradient(const array& a, StreamOrDevice s = {});

// A function with its own derivative rules. `outputs` were computed from
// `inputs` by the forward function; the returned arrays equal them and carry
// a node whose vjp/jvp call the given rules (or differentiate the forward
// graph when a rule is absent).
using CustomVjp = std::function<std::vector<array>(const std::vector<array>& primals,
                                                   const std::vector<array>& cotangents,
                                                   const std::vector<array>& outputs)>;
using CustomJvp = std::function<std::vector<array>(const std::vector<array>& primals,
                                                   const std::vector<array>& tangents)>;
std::vector<array> custom_function(const std::vector<array>& inputs,
                                   const std::vector<array>& outputs, CustomVjp vjp, CustomJvp jvp);

namespace autodiff {
// True while a transform traces a function on this thread.
bool is_tracing();
// RAII: marks this thread as tracing.
class TracingScope {
 public:
  TracingScope();
  ~TracingScope();
  TracingScope(const TracingScope&) = delete;
  TracingScope& operator=(const TracingScope&) = delete;
};
}  // namespace autodiff

}  // namespace fastsync

// Replay: the recorded graphs behind fastsync.compile.
//
// python/fastsync/_compile.py runs a compiled function once per input
// signature inside a compile_trace::Scope on the calling thread, fuses the
// graph it built (fuse.h), and records the graph between the function's
// inputs and its outputs as a Tape. Later calls with that signature call the
// tape, which builds the same nodes (sharing their primitive objects) over
// the new inputs without running Python: one C++ loop per call.
//
// While a scope is open on a thread (trace_scope.h), evaluating a pending
// array or reading an input's value raises: the value would be fixed into
// every replay. Keys drawn from the global random state are logged, and the
// tape treats them as inputs, so each replay can draw fresh ones (random
// numbers in a compiled function differ from call to call, as they do
// uncompiled).
//
// A tape is immutable once built; any thread may call it. Recording takes
// the eval driver's lock (another thread may be encoding the same nodes).
#pragma once

#include <memory>
#include <unordered_set>
#include <vector>

#include "array.h"
#include "trace_scope.h"

namespace fastsync {

class Primitive;

class Tape {
 public:
  // Records the pending graph behind `outputs` down to `inputs`. Arrays
  // already evaluated (or in flight) that are not inputs are captured as
  // constants; every pending node is a step, rebuilt on each call, so a
  // tape holds no memory beyond the arrays its function captured.
  Tape(const std::vector<array>& inputs, const std::vector<array>& outputs);
  // The outputs of the recorded graph over `inputs` (same count, dtypes and,
  // unless `shapeless`, shapes as at recording). With `shapeless`, nodes
  // whose inputs changed shape derive their output shapes from them, and a
  // node whose shapes were fixed when it was built raises.
  std::vector<array> operator()(const std::vector<array>& inputs, bool shapeless) const;
  // What a compiled call's cache key needs of its arrays: for each, the
  // first position holding the same array (aliasing changes the graph), its
  // dtype, rank and, unless `shapeless`, its shape.
  static std::vector<int64_t> signature(const std::vector<array>& arrays, bool shapeless);
  int64_t nodes() const { return static_cast<int64_t>(steps_.size()); }
  int64_t constants() const { return static_cast<int64_t>(constants_.size()); }

 private:
  enum class From : uint8_t { input, constant, step };
  struct Ref {
    From from;
    int index;       // input, constant or step number
    int output = 0;  // which output of a step
  };
  struct Step {
    std::shared_ptr<Primitive> primitive;
    std::vector<Ref> inputs;
    std::vector<Shape> input_shapes;
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
  };
  size_t n_inputs_ = 0;
  std::vector<Step> steps_;
  std::vector<array> constants_;
  std::vector<Ref> outputs_;
};

}  // namespace fastsync

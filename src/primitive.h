// The Primitive base class: one computation in the graph.
//
// A primitive knows its output shapes and how to encode itself on each
// backend. eval_cpu/eval_gpu run on the encoding thread (under the eval
// driver's lock): they allocate or donate outputs, set strides, and hand the
// compute to the stream's encoder. They must not read input data directly:
// inputs may still be in flight.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "array.h"
#include "errors.h"
#include "stream.h"

// Declares eval_gpu in a primitive that the GPU backend implements (in
// src/cuda); without a GPU backend the base class's eval_gpu raises.
#ifdef FASTSYNC_CUDA
#define FASTSYNC_EVAL_GPU \
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
#else
#define FASTSYNC_EVAL_GPU
#endif

// Declares vjp in a primitive: each family defines its rules beside its
// other methods.
#define FASTSYNC_VJP                                                                              \
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents, \
                         const std::vector<int>& argnums, const std::vector<array>& outputs)      \
      override;

// Declares vmap in a primitive with its own batching rule.
#define FASTSYNC_VMAP                                                 \
  std::pair<std::vector<array>, std::vector<int>> vmap(               \
      const std::vector<array>& inputs, const std::vector<int>& axes, \
      const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) override;

namespace fastsync {

class Primitive {
 public:
  explicit Primitive(Stream s) : stream_(s) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  const Stream& stream() const { return stream_; }
  Device device() const { return stream_.device; }

  virtual const char* name() const = 0;
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs) const;
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  // Raises: no GPU backend is built yet.
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs);
  // Derivatives, as graph-building code over ops on this primitive's
  // stream (so they run wherever the forward ran). vjp: for each input in
  // `argnums`, the cotangent it receives from the outputs' `cotangents`
  // (one per output). jvp: the tangent of each output, given `tangents` of
  // the inputs in `argnums`. The default jvp transposes vjp (which is linear
  // in the cotangents), so every primitive with a vjp has a jvp.
  virtual std::vector<array> vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  virtual std::vector<array> jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  // Batching (vmap): `inputs` carry a batch axis at `axes[i]` (-1: not
  // batched); returns the outputs for every batch entry and the batch axis of
  // each. `self` is this primitive's handle and `outputs` the per-entry
  // outputs it was traced with. The default runs the primitive once per
  // entry and stacks the results, so every primitive batches; families with
  // a direct rule override it (one node instead of one per entry).
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(
      const std::vector<array>& inputs, const std::vector<int>& axes,
      const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self);
  // False for inputs derivatives never flow into (the ordering inputs of
  // depends, the wall of stop_gradient).
  virtual bool passes_gradient(int /*input*/) const { return true; }
  // False when output_shapes returns shapes fixed when the node was built
  // (a reshape's target, a slice's bounds) instead of deriving them from the
  // inputs: a shapeless compile (replay.h) cannot replay such a node on
  // inputs of new shapes.
  virtual bool shapes_from_inputs() const { return true; }
  // True when the output is always a view of an input's buffer: no kernel
  // runs and nothing is written (the eval driver counts such an op as free
  // when it sizes runs of ops, RunHint).
  virtual bool is_view() const { return false; }

 private:
  Stream stream_;
};

}  // namespace fastsync

// Fused: a chain of elementwise ops (Unary, Binary) of one floating dtype,
// computed in one pass. fuse.cpp builds it from a graph; the backends run
// its program over blocks of elements (backend/cpu/fused.cpp) or one
// element per thread (backend/cuda/fused.cu), so the chain reads its inputs
// and writes its output once, intermediates never reaching memory.
//
// Program: inputs occupy slots 0..n_inputs-1; op j writes slot n_inputs + j
// from slots before it. Output 0 is the last op's slot; further outputs are
// members whose value is also needed outside the chain (a moment an
// optimizer keeps, an activation the backward reads), written by the same
// pass. Every slot holds the outputs' compute type (float for half types,
// else the dtype itself); all outputs share one dtype and shape. Inputs
// broadcast to that shape.
#pragma once

#include "primitive.h"

namespace fastsync {

struct FusedOp {
  bool unary = true;
  int op = 0;  // a UnaryOp or BinaryOp value
  int a = 0, b = 0;
};

struct FusedProgram {
  int n_inputs = 0;
  std::vector<FusedOp> ops;
  // The slots of outputs 1, 2, ... (output 0 is the last op's).
  std::vector<int> extra_outputs;
  // Every output's slot, in output order.
  std::vector<int> output_slots() const {
    std::vector<int> s{n_inputs + static_cast<int>(ops.size()) - 1};
    s.insert(s.end(), extra_outputs.begin(), extra_outputs.end());
    return s;
  }
  // At most this many slots (inputs + ops): a block of each fits the
  // CPU's L1 and the GPU's registers spill little.
  static constexpr int kMaxSlots = 32;
};

class Fused : public Primitive {
 public:
  Fused(Stream s, FusedProgram program) : Primitive(s), program_(std::move(program)) {}
  const char* name() const override { return "Fused"; }
  // Every member is elementwise with the outputs' shape, so each output is
  // the inputs' broadcast (what a shapeless replay asks for).
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  // Fusion never happens inside a transform (fuse.cpp skips traced
  // graphs), so no derivative is ever asked of a fused node.
  FASTSYNC_VJP
  const FusedProgram& program() const { return program_; }

 private:
  FusedProgram program_;
};

// How each input of a fused node is read, per element i of the output.
enum class FusedRead : uint8_t {
  dense,   // in[i]: the output's shape, row-contiguous
  cyclic,  // in[i % size]: a row-contiguous trailing block of the output's shape
  scalar,  // in[0]
};

// The read mode for `in` (evaluated) against output shape `shape`, or
// nullopt when it needs a dense copy first.
std::optional<FusedRead> fused_read(const array& in, const Shape& shape);

}  // namespace fastsync

// Collective and point-to-point communication as graph primitives.
//
// Each runs on the stream the ops layer picked for its group's backend, and
// is ordered with that stream's other work by the same fences and events as
// any op (encoding thread, under the eval driver's lock):
//   - MPI, a CPU stream: eval_cpu (backend/cpu/distributed.cpp) allocates
//     or donates the output and dispatches one task that calls the group's
//     HostCollectives (distributed/collectives.h) on the stream's worker
//     thread. The task holds the communicator (through an InflightTicket),
//     so it outlives the graph.
//   - NCCL, a GPU stream: eval_gpu (backend/cuda/distributed.cpp, CUDA
//     builds only) allocates or donates the output and enqueues the call on
//     the stream through the group's DeviceCollectives; nothing waits on the
//     host. NCCL communicators live until exit, so the GPU work outlives the
//     graph as well.
// Either raises std::runtime_error naming the op when the group's backend
// lacks that kind of collectives (a primitive made by hand, not by ops.h).
// Every primitive holds its Group.
#pragma once

#include "distributed/group.h"
#include "primitive.h"

namespace fastsync::distributed {

// all_sum / all_max / all_min: every rank gets the elementwise reduction.
class AllReduce : public Primitive {
 public:
  AllReduce(Stream s, Group g, ReduceOp op) : Primitive(s), group_(std::move(g)), op_(op) {}
  const char* name() const override;
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  ReduceOp op() const { return op_; }

 private:
  Group group_;
  ReduceOp op_;
};

// Concatenation along axis 0 of every rank's array, in rank order (a 0-d
// input gathers into shape (size,)).
class AllGather : public Primitive {
 public:
  AllGather(Stream s, Group g) : Primitive(s), group_(std::move(g)) {}
  const char* name() const override { return "AllGather"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  Group group_;
};

// Sends its input to rank `dst`. The output is the input itself (shared
// buffer): a handle to evaluate, or to make later work depend on the send.
class Send : public Primitive {
 public:
  Send(Stream s, Group g, int dst) : Primitive(s), group_(std::move(g)), dst_(dst) {}
  const char* name() const override { return "Send"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  Group group_;
  int dst_;
};

// Receives an array of a given shape and dtype from rank `src`; no inputs.
class Recv : public Primitive {
 public:
  Recv(Stream s, Group g, int src, Shape shape)
      : Primitive(s), group_(std::move(g)), src_(src), shape_(std::move(shape)) {}
  const char* name() const override { return "Recv"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  Group group_;
  int src_;
  Shape shape_;
};

// The shape all_gather produces from `in` over `group_size` ranks.
Shape gathered_shape(const Shape& in, int group_size);

}  // namespace fastsync::distributed

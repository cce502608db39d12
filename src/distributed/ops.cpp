// The graph-building API of distributed (ops.h): argument checks, the
// stream a collective runs on (the group's backend decides), graph nodes.
// Any thread; nothing here communicates.
#include "distributed/ops.h"

#include <stdexcept>
#include <string>

#include "distributed/primitives.h"
#include "errors.h"

namespace fastsync::distributed {

namespace {

std::string tagged(const char* op, const std::string& msg) {
  return std::string("[") + op + "] " + msg;
}

// MPI computes on the host, NCCL on the GPU: the stream must be on the
// device of the group's backend (a GPU one when its Comm provides device
// collectives). A group of one process runs nothing, so any stream does
// (code written for NCCL's GPU streams runs in one process).
Stream stream_for(const char* op, const Group& g, const StreamOrDevice& s) {
  Comm* comm = g.comm().get();
  bool on_gpu = comm && comm->device();
  if (std::holds_alternative<std::monostate>(s)) {
    return default_stream(on_gpu ? gpu_device : cpu_device);
  }
  Stream st = to_stream(s);
  if (!comm) return st;
  if (on_gpu && st.device.type != Device::Type::gpu) {
    throw std::invalid_argument(
        tagged(op, "the NCCL backend runs on a GPU stream, got " + st.str() +
                       "; pass stream=mx.gpu (or another GPU stream), or use an MPI group"));
  }
  if (!on_gpu && st.device.type != Device::Type::cpu) {
    throw std::invalid_argument(tagged(
        op, "the MPI backend runs on a CPU stream, got " + st.str() + "; pass stream=mx.cpu"));
  }
  return st;
}

// Every dtype of the core set is supported over MPI; the check guards types
// added later (complex, say) that no MPI datatype is mapped for.
void check_dtype(const char* op, Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_:
    case Dtype::Val::uint8:
    case Dtype::Val::uint16:
    case Dtype::Val::uint32:
    case Dtype::Val::uint64:
    case Dtype::Val::int8:
    case Dtype::Val::int16:
    case Dtype::Val::int32:
    case Dtype::Val::int64:
    case Dtype::Val::float16:
    case Dtype::Val::bfloat16:
    case Dtype::Val::float32:
    case Dtype::Val::float64: return;
    case Dtype::Val::complex64: break;  // no MPI / NCCL datatype mapped for it yet
  }
  throw type_error(tagged(op, std::string("dtype ") + d.name() + " is not supported"));
}

// NCCL has no 16-bit integer type to reduce (moving them is fine: bytes).
// Raised here, when the op is built, rather than at eval.
void check_reducible(const char* op, Dtype d, const Group& g) {
  if (!g.comm() || !g.comm()->device()) return;
  if (d == int16 || d == uint16) {
    throw type_error(tagged(op, std::string("the NCCL backend cannot reduce ") + d.name() +
                                    " arrays (NCCL has no 16-bit integer type); cast to int32 "
                                    "first, or use an MPI group"));
  }
}

void check_peer(const char* op, const char* role, int peer, const Group& g) {
  if (g.size() == 1) {
    throw std::invalid_argument(
        tagged(op, "the group has a single process: there is no other rank to talk to"));
  }
  if (peer < 0 || peer >= g.size()) {
    throw std::invalid_argument(tagged(op, std::string(role) + " rank " + std::to_string(peer) +
                                               " is outside the group of size " +
                                               std::to_string(g.size())));
  }
  if (peer == g.rank()) {
    throw std::invalid_argument(
        tagged(op, std::string(role) + " rank " + std::to_string(peer) +
                       " is this process: a rank cannot send to or receive from itself"));
  }
}

array all_reduce(const char* op_name, const array& x, std::optional<Group> group, StreamOrDevice s,
                 ReduceOp op) {
  check_dtype(op_name, x.dtype());
  Group g = group ? std::move(*group) : default_group();
  Stream st = stream_for(op_name, g, s);
  check_reducible(op_name, x.dtype(), g);
  if (g.size() == 1) return x;
  return array(x.shape(), x.dtype(), std::make_shared<AllReduce>(st, std::move(g), op), {x});
}

}  // namespace

array all_sum(const array& x, std::optional<Group> group, StreamOrDevice s) {
  return all_reduce("all_sum", x, std::move(group), s, ReduceOp::sum);
}
array all_max(const array& x, std::optional<Group> group, StreamOrDevice s) {
  return all_reduce("all_max", x, std::move(group), s, ReduceOp::max);
}
array all_min(const array& x, std::optional<Group> group, StreamOrDevice s) {
  return all_reduce("all_min", x, std::move(group), s, ReduceOp::min);
}

array all_gather(const array& x, std::optional<Group> group, StreamOrDevice s) {
  check_dtype("all_gather", x.dtype());
  Group g = group ? std::move(*group) : default_group();
  Stream st = stream_for("all_gather", g, s);
  if (g.size() == 1) return x;
  Shape shape = gathered_shape(x.shape(), g.size());
  return array(std::move(shape), x.dtype(), std::make_shared<AllGather>(st, std::move(g)), {x});
}

array send(const array& x, int dst, std::optional<Group> group, StreamOrDevice s) {
  check_dtype("send", x.dtype());
  Group g = group ? std::move(*group) : default_group();
  check_peer("send", "destination", dst, g);
  Stream st = stream_for("send", g, s);
  return array(x.shape(), x.dtype(), std::make_shared<Send>(st, std::move(g), dst), {x});
}

array recv(Shape shape, Dtype dtype, int src, std::optional<Group> group, StreamOrDevice s) {
  check_dtype("recv", dtype);
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[recv] negative dimension in shape");
  }
  Group g = group ? std::move(*group) : default_group();
  check_peer("recv", "source", src, g);
  Stream st = stream_for("recv", g, s);
  auto prim = std::make_shared<Recv>(st, std::move(g), src, shape);
  return array(std::move(shape), dtype, std::move(prim), {});
}

array recv_like(const array& x, int src, std::optional<Group> group, StreamOrDevice s) {
  return recv(x.shape(), x.dtype(), src, std::move(group), s);
}

}  // namespace fastsync::distributed

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

// The MPI backend computes on the host: collectives take a CPU stream.
Stream cpu_stream(const char* op, const StreamOrDevice& s) {
  Stream st = std::holds_alternative<std::monostate>(s) ? default_stream(cpu_device) : to_stream(s);
  if (st.device.type != Device::Type::cpu) {
    throw std::invalid_argument(tagged(
        op, "the MPI backend runs on a CPU stream, got " + st.str() + "; pass stream=mx.cpu"));
  }
  return st;
}

// Every dtype of the core set is supported; the check guards types added
// later (complex, say) that no MPI datatype is mapped for.
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
  }
  throw type_error(tagged(op, std::string("dtype ") + d.name() + " is not supported"));
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
  Stream st = cpu_stream(op_name, s);
  check_dtype(op_name, x.dtype());
  Group g = group ? std::move(*group) : default_group();
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
  Stream st = cpu_stream("all_gather", s);
  check_dtype("all_gather", x.dtype());
  Group g = group ? std::move(*group) : default_group();
  if (g.size() == 1) return x;
  Shape shape = gathered_shape(x.shape(), g.size());
  return array(std::move(shape), x.dtype(), std::make_shared<AllGather>(st, std::move(g)), {x});
}

array send(const array& x, int dst, std::optional<Group> group, StreamOrDevice s) {
  Stream st = cpu_stream("send", s);
  check_dtype("send", x.dtype());
  Group g = group ? std::move(*group) : default_group();
  check_peer("send", "destination", dst, g);
  return array(x.shape(), x.dtype(), std::make_shared<Send>(st, std::move(g), dst), {x});
}

array recv(Shape shape, Dtype dtype, int src, std::optional<Group> group, StreamOrDevice s) {
  Stream st = cpu_stream("recv", s);
  check_dtype("recv", dtype);
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[recv] negative dimension in shape");
  }
  Group g = group ? std::move(*group) : default_group();
  check_peer("recv", "source", src, g);
  auto prim = std::make_shared<Recv>(st, std::move(g), src, shape);
  return array(std::move(shape), dtype, std::move(prim), {});
}

array recv_like(const array& x, int src, std::optional<Group> group, StreamOrDevice s) {
  return recv(x.shape(), x.dtype(), src, std::move(group), s);
}

}  // namespace fastsync::distributed

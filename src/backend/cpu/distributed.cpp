// CPU encoding of the communication primitives: the group's host
// collectives (distributed/collectives.h), called by a task on the stream's
// worker. eval_cpu runs on the encoding thread: it checks the group's
// backend has host collectives (std::runtime_error naming the op if not),
// gives the output a buffer (the input's, when the input is donatable) and
// dispatches one task that calls them. The task captures raw pointers and
// plain values, plus the ticket that keeps the communicator (and so its
// HostCollectives) alive; only a non-contiguous input (which must be packed
// before MPI can read it) makes it capture array views.
#include "backend/cpu/copy.h"
#include "backend/cpu/utils.h"
#include "distributed/collectives.h"
#include "distributed/primitives.h"

namespace fastsync::distributed {

namespace {

// A cheap fingerprint of a shape, so all_gather can tell ranks whose arrays
// hold as many elements in different shapes.
int64_t shape_tag(const Shape& shape) {
  uint64_t h = 1469598103934665603ull ^ shape.size();
  for (auto d : shape) h = (h ^ static_cast<uint64_t>(d)) * 1099511628211ull;
  return static_cast<int64_t>(h >> 1);
}

}  // namespace

void AllReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* what = op_name(op_);
  HostCollectives* host = &host_collectives(group_, what);
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  detail::InflightTicket ticket(group_.comm(), /*collective=*/true);
  if (in.flags().row_contiguous) {
    // MPI reads the input where it lies, or reduces in place in a donated
    // one. Donation first: declaring the input retains its buffer, which
    // would make it look shared.
    cpu::donate_or_alloc(in, out);
    enc.set_input_array(in);
    enc.set_output_array(out);
    const void* src = out.raw_ptr() == in.raw_ptr() ? nullptr : in.raw_ptr();
    enc.dispatch_always([t = std::move(ticket), host, what, src, dst = out.raw_ptr(),
                         n = out.size(), d = out.dtype(),
                         op = op_] { host->all_reduce(what, src, dst, n, d, op); });
  } else {
    // Pack into the output, then reduce there in place.
    cpu::alloc(out);
    enc.set_input_array(in);
    enc.set_output_array(out);
    enc.dispatch_always([t = std::move(ticket), host, what, in = in.unsafe_weak_copy(),
                         out = out.unsafe_weak_copy(), op = op_]() mutable {
      cpu::copy_kernel(in, out);
      host->all_reduce(what, nullptr, out.raw_ptr(), out.size(), out.dtype(), op);
    });
  }
}

void AllGather::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  HostCollectives* host = &host_collectives(group_, "all_gather");
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(in);
  cpu::alloc(out);
  enc.set_output_array(out);
  detail::InflightTicket ticket(group_.comm(), /*collective=*/true);
  int64_t tag = shape_tag(in.shape());
  if (in.flags().row_contiguous) {
    enc.dispatch_always([t = std::move(ticket), host, src = in.raw_ptr(), dst = out.raw_ptr(),
                         n = in.size(), d = in.dtype(),
                         tag] { host->all_gather("all_gather", src, dst, n, d, tag); });
  } else {
    // Pack this rank's block straight into its slot of the output, then
    // gather in place.
    array slot = in.unsafe_weak_copy();
    slot.copy_shared_buffer(out, row_major_strides(in.shape()), Flags{}, in.size(),
                            static_cast<int64_t>(group_.rank()) * in.size());
    enc.dispatch_always([t = std::move(ticket), host, in = in.unsafe_weak_copy(),
                         slot = std::move(slot), dst = out.raw_ptr(), tag]() mutable {
      cpu::copy_kernel(in, slot);
      host->all_gather("all_gather", nullptr, dst, in.size(), in.dtype(), tag);
    });
  }
}

void Send::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  HostCollectives* host = &host_collectives(group_, "send");
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(in);
  detail::InflightTicket ticket(group_.comm(), /*collective=*/false);
  if (in.flags().row_contiguous) {
    out.copy_shared_buffer(in);
    enc.dispatch_always([t = std::move(ticket), host, src = in.raw_ptr(), n = in.size(),
                         d = in.dtype(), dst = dst_] { host->send("send", src, n, d, dst); });
  } else {
    // The output is the packed copy, and what is sent.
    cpu::alloc(out);
    enc.set_output_array(out);
    enc.dispatch_always([t = std::move(ticket), host, in = in.unsafe_weak_copy(),
                         out = out.unsafe_weak_copy(), dst = dst_]() mutable {
      cpu::copy_kernel(in, out);
      host->send("send", out.raw_ptr(), out.size(), out.dtype(), dst);
    });
  }
}

void Recv::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  HostCollectives* host = &host_collectives(group_, "recv");
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  cpu::alloc(out);
  enc.set_output_array(out);
  detail::InflightTicket ticket(group_.comm(), /*collective=*/false);
  enc.dispatch_always([t = std::move(ticket), host, dst = out.raw_ptr(), n = out.size(),
                       d = out.dtype(), src = src_] { host->recv("recv", dst, n, d, src); });
}

}  // namespace fastsync::distributed

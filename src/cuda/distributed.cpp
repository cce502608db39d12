// GPU encoding of the communication primitives: an NCCL group's collectives
// as NCCL calls on the primitive's GPU stream.
//
// Contract (as every eval_gpu, encoding thread): inputs are on the device
// already (the driver moved any host input, ordered by events), possibly
// strided views. Each eval_gpu allocates or donates its output, packs a
// strided input with a GPU copy on the same stream, and enqueues one NCCL
// call there. Nothing waits on the host: the driver's events and fences
// order the call after its inputs' producers and before its consumers, on
// this stream or others. Inputs stay alive until the GPU is past the op
// (the driver's commit retains them; packed copies are temporaries).
//
// Zero-element arrays enqueue nothing, on every rank alike (ranks pass the
// same shapes: NCCL neither checks nor needs to).
#include <stdexcept>
#include <string>

#include "cuda/copy.h"
#include "cuda/encoder.h"
#include "cuda/nccl.h"
#include "distributed/primitives.h"

namespace fastsync::distributed {

namespace {

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "all_sum";
    case ReduceOp::max: return "all_max";
    case ReduceOp::min: return "all_min";
  }
  return "all_reduce";
}

// The ops layer puts only NCCL groups on GPU streams; a primitive made by
// hand with another group gets a clear error instead of a crash.
cuda::nccl::NcclComm& nccl_of(const Group& g, const char* what) {
  auto* c = dynamic_cast<cuda::nccl::NcclComm*>(g.comm().get());
  if (!c) {
    throw std::invalid_argument(std::string("[") + what +
                                "] only an NCCL group's collectives run on a GPU stream; this "
                                "group's backend is " + g.backend() + ": pass stream=mx.cpu");
  }
  return *c;
}

size_t bytes_of(const array& a) { return static_cast<size_t>(a.size() * a.itemsize()); }

}  // namespace

void AllReduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* what = op_name(op_);
  auto& comm = nccl_of(group_, what);
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  const void* src;
  if (in.flags().row_contiguous) {
    // NCCL reads the input where it lies, or reduces in place in a donated
    // one. Donation first: declaring the input retains its buffer, which
    // would make it look shared.
    cuda::donate_or_alloc(in, out);
    enc.set_input_array(in);
    src = in.raw_ptr();
  } else {
    // Pack into the output, then reduce there in place.
    cuda::alloc(out);
    enc.set_input_array(in);
    cuda::copy_gpu(enc, in, out);
    src = out.raw_ptr();
  }
  enc.set_output_array(out);
  if (out.size() == 0) return;
  comm.enqueue_all_reduce(what, src, out.raw_ptr(), static_cast<size_t>(out.size()), out.dtype(),
                          op_, enc.stream());
}

void AllGather::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& comm = nccl_of(group_, "all_gather");
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_output_array(out);
  enc.set_input_array(in);
  if (in.size() == 0) return;
  array src = cuda::contiguous_gpu(enc, in);
  comm.enqueue_all_gather("all_gather", src.raw_ptr(), out.raw_ptr(), bytes_of(in),
                          enc.stream());
}

void Send::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& comm = nccl_of(group_, "send");
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  if (in.flags().row_contiguous) {
    out.copy_shared_buffer(in);
  } else {
    // The output is the packed copy, and what is sent.
    cuda::alloc(out);
    cuda::copy_gpu(enc, in, out);
    enc.set_output_array(out);
  }
  enc.set_input_array(in);
  if (out.size() == 0) return;
  comm.enqueue_send("send", out.raw_ptr(), bytes_of(out), dst_, enc.stream());
}

void Recv::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& comm = nccl_of(group_, "recv");
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  comm.enqueue_recv("recv", out.raw_ptr(), bytes_of(out), src_, enc.stream());
}

}  // namespace fastsync::distributed

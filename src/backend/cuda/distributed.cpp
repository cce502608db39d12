// GPU encoding of the communication primitives: the group's device
// collectives (distributed/collectives.h; NCCL's), enqueued on the
// primitive's GPU stream. A group whose backend has none raises
// std::runtime_error naming the op.
//
// Contract (as every eval_gpu, encoding thread): inputs are on the device
// already (the driver moved any host input, ordered by events), possibly
// strided views. Each eval_gpu allocates or donates its output, packs a
// strided input with a GPU copy on the same stream, and enqueues one
// collective there. Nothing waits on the host: the driver's events and fences
// order the call after its inputs' producers and before its consumers, on
// this stream or others. Inputs stay alive until the GPU is past the op
// (the driver's commit retains them; packed copies are temporaries).
//
// Collectives are launched, never captured into a graph (encoder.h): a
// replayed graph would hide from NCCL the order its peers rely on.
//
// Zero-element arrays enqueue nothing, on every rank alike (ranks pass the
// same shapes: NCCL neither checks nor needs to).
#include "backend/cuda/copy.h"
#include "backend/cuda/encoder.h"
#include "distributed/collectives.h"
#include "distributed/primitives.h"

namespace fastsync::distributed {

namespace {

size_t bytes_of(const array& a) { return static_cast<size_t>(a.size() * a.itemsize()); }

}  // namespace

void AllReduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* what = op_name(op_);
  auto& dev = device_collectives(group_, what);
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
  enc.end_graph();
  dev.enqueue_all_reduce(what, src, out.raw_ptr(), static_cast<size_t>(out.size()), out.dtype(),
                         op_, enc.cuda_stream());
}

void AllGather::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& dev = device_collectives(group_, "all_gather");
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_output_array(out);
  enc.set_input_array(in);
  if (in.size() == 0) return;
  array src = cuda::contiguous_gpu(enc, in);
  enc.end_graph();
  dev.enqueue_all_gather("all_gather", src.raw_ptr(), out.raw_ptr(), bytes_of(in),
                         enc.cuda_stream());
}

void Send::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& dev = device_collectives(group_, "send");
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
  enc.end_graph();
  dev.enqueue_send("send", out.raw_ptr(), bytes_of(out), dst_, enc.cuda_stream());
}

void Recv::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& dev = device_collectives(group_, "recv");
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  enc.end_graph();
  dev.enqueue_recv("recv", out.raw_ptr(), bytes_of(out), src_, enc.cuda_stream());
}

}  // namespace fastsync::distributed

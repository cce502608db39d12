// GPU eval of shape and layout primitives. Views (reshape of a row-contiguous
// array, transpose, slice, broadcast) share the input's buffer exactly as on
// the CPU (make_view) and launch nothing; copies (astype, reshape of a
// strided array, concatenate) go through copy_gpu on the op's stream.
#include "cuda/copy.h"
#include "cuda/kernel_utils.cuh"
#include "primitives/shape.h"

namespace fastsync {

void Reshape::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (in.flags().row_contiguous) {
    make_view(in, out, row_major_strides(out.shape()));
    return;
  }
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  // Copy in the input's logical (row-major) order into out's buffer.
  cuda::copy_gpu(enc, in, out.unsafe_weak_copy(in.shape(), row_major_strides(in.shape())));
}

void Transpose::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  Strides s;
  for (int a : axes_) s.push_back(in.strides()[a]);
  make_view(in, outputs[0], std::move(s));
}

void Slice::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  Strides s(in.ndim());
  int64_t offset = 0;
  for (int i = 0; i < in.ndim(); ++i) {
    s[i] = in.strides()[i] * step_[i];
    if (out.shape()[i] > 0) offset += start_[i] * in.strides()[i];
  }
  make_view(in, out, std::move(s), out.size() > 0 ? offset : 0);
}

void Broadcast::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  make_view(in, outputs[0], cpu::broadcast_strides(in, shape_));
}

void AsType::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(outputs[0]);
  enc.set_input_array(inputs[0]);
  enc.set_output_array(outputs[0]);
  cuda::copy_gpu(enc, inputs[0], outputs[0]);
}

void Concatenate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_output_array(out);
  // Each input is copied into its slab of the output, viewed in place.
  int64_t at = 0;
  for (auto& in : inputs) {
    enc.set_input_array(in);
    cuda::copy_gpu(enc, in,
                   out.unsafe_weak_copy(in.shape(), out.strides(), at * out.strides()[axis_]));
    at += in.shape()[axis_];
  }
}

}  // namespace fastsync

// GPU eval of the shape and layout primitives that copy (astype, reshape of
// a strided array, concatenate), through copy_gpu on the op's stream
// (views: backend/common/views.cpp).
#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/shape.h"

namespace fastsync {

void Reshape::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (reshape_view(in, out)) return;
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  // Copy in the input's logical (row-major) order into out's buffer.
  cuda::copy_gpu(enc, in, out.unsafe_weak_copy(in.shape(), row_major_strides(in.shape())));
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

// CPU eval of the shape and layout primitives that copy, through the
// strided copy kernel (views: backend/common/views.cpp).
#include "backend/cpu/copy.h"
#include "backend/common/strided.h"
#include "backend/cpu/utils.h"
#include "primitives/shape.h"

namespace fastsync {

namespace {
void encode_copy(const Primitive& p, const array& in, array& out) {
  auto& enc = cpu::begin_op(p, in, out);
  enc.dispatch([in = in.unsafe_weak_copy(), out = out.unsafe_weak_copy()]() mutable {
    cpu::copy_kernel(in, out);
  });
}
}  // namespace

void Reshape::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!reshape_view(in, out)) {
    // Copy in the input's logical (row-major) order into out's buffer.
    auto& enc = cpu::begin_op(*this, in, out);
    enc.dispatch([in = in.unsafe_weak_copy(),
                  dst = out.unsafe_weak_copy(in.shape(), row_major_strides(in.shape()))]() mutable {
      cpu::copy_kernel(in, dst);
    });
  }
}

void AsType::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_copy(*this, inputs[0], outputs[0]);
}

}  // namespace fastsync

namespace fastsync {

void Concatenate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  cpu::alloc(out);
  auto& enc = cpu::encoder_for(*this);
  // Each input is copied into its slab of the output, viewed in place.
  std::vector<std::pair<array, array>> parts;
  int64_t at = 0;
  for (auto& in : inputs) {
    enc.set_input_array(in);
    parts.emplace_back(in.unsafe_weak_copy(),
                       out.unsafe_weak_copy(in.shape(), out.strides(), at * out.strides()[axis_]));
    at += in.shape()[axis_];
  }
  enc.set_output_array(out);
  enc.dispatch([parts = std::move(parts)]() mutable {
    for (auto& [src, slab] : parts) cpu::copy_kernel(src, slab);
  });
}

}  // namespace fastsync

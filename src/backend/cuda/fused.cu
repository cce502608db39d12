// GPU kernel for Fused (primitives/fused.h): one thread per output element
// runs the program over registers (slots in local memory when indexed
// dynamically), reading each input once and writing the output once. The
// program is interpreted (a switch per op), not compiled for the chain:
// the kernel count and memory traffic are those of one fused kernel, the
// arithmetic pays for the dispatch. Inputs that are neither dense, a
// repeating trailing block, nor a scalar are first copied dense.
#include <stdexcept>

#include "backend/common/elementwise.h"
#include "backend/common/strided.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/fused.h"

namespace fastsync {

namespace {

constexpr int kMaxInputs = FusedProgram::kMaxSlots;

struct DeviceProgram {
  int n_inputs, n_ops;
  FusedOp ops[FusedProgram::kMaxSlots];
  const void* in[kMaxInputs];
  FusedRead read[kMaxInputs];
  int64_t size[kMaxInputs];
};

template <typename C>
__device__ inline C apply_unary(int op, C x) {
  switch (static_cast<UnaryOp>(op)) {
#define FASTSYNC_CASE(o, Name)                                                      \
  case UnaryOp::o:                                                                  \
    if constexpr (elementwise::unary_supports<UnaryOp::o, C>() &&                   \
                  std::is_same_v<elementwise::unary_result_t<UnaryOp::o, C>, C>) { \
      return elementwise::UnaryFn<UnaryOp::o>{}(x);                                 \
    }                                                                               \
    break;
    FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  return C(0);  // the fusion pass sends only ops that compute in C
}

template <typename C>
__device__ inline C apply_binary(int op, C a, C b) {
  switch (static_cast<BinaryOp>(op)) {
#define FASTSYNC_CASE(o, Name)                                                        \
  case BinaryOp::o:                                                                   \
    if constexpr (elementwise::binary_supports<BinaryOp::o, C>() &&                   \
                  std::is_same_v<elementwise::binary_result_t<BinaryOp::o, C>, C>) { \
      return elementwise::BinaryFn<BinaryOp::o>{}(a, b);                              \
    }                                                                                 \
    break;
    FASTSYNC_BINARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  return C(0);
}

template <typename T>
__global__ void fused_kernel(DeviceProgram p, T* out, int64_t n) {
  using C = decltype(cuda::widen(T{}));
  C slot[FusedProgram::kMaxSlots];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    for (int k = 0; k < p.n_inputs; ++k) {
      const T* src = static_cast<const T*>(p.in[k]);
      int64_t at = p.read[k] == FusedRead::dense    ? i
                   : p.read[k] == FusedRead::cyclic ? i % p.size[k]
                                                    : 0;
      slot[k] = static_cast<C>(cuda::widen(src[at]));
    }
    for (int j = 0; j < p.n_ops; ++j) {
      const FusedOp& o = p.ops[j];
      slot[p.n_inputs + j] =
          o.unary ? apply_unary<C>(o.op, slot[o.a]) : apply_binary<C>(o.op, slot[o.a], slot[o.b]);
    }
    out[i] = cuda::narrow<T>(slot[p.n_inputs + p.n_ops - 1]);
  }
}

}  // namespace

void Fused::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  array& out = outputs[0];
  const Shape& shape = out.shape();
  DeviceProgram p{};
  p.n_inputs = program_.n_inputs;
  p.n_ops = static_cast<int>(program_.ops.size());
  for (int j = 0; j < p.n_ops; ++j) p.ops[j] = program_.ops[j];
  std::optional<array> donor;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const array& in = inputs[k];
    enc.set_input_array(in);
    auto read = fused_read(in, shape);
    if (!read) {
      array dense(shape, in.dtype(), nullptr, {});
      dense.detach();
      cuda::alloc(dense);
      cuda::copy_gpu(enc, in.unsafe_weak_copy(shape, broadcast_strides(in, shape)), dense);
      enc.add_temporary(dense);
      p.in[k] = dense.raw_ptr();
      p.read[k] = FusedRead::dense;
      p.size[k] = dense.size();
      continue;
    }
    if (*read == FusedRead::dense && !donor && in.is_donatable() && in.dtype() == out.dtype()) {
      donor = in;
    }
    p.in[k] = in.raw_ptr();
    p.read[k] = *read;
    p.size[k] = in.size();
  }
  // Each thread reads its element before writing it: a dense input may be
  // the output.
  if (donor) {
    cuda::donate_or_alloc(*donor, out);
  } else {
    cuda::alloc(out);
  }
  enc.set_output_array(out);
  int64_t n = out.size();
  if (n == 0) return;
  auto go = [&](auto tag) {
    using T = decltype(tag);
    fused_kernel<T><<<cuda::grid_for(n), cuda::kBlock, 0, enc.cuda_stream()>>>(
        p, static_cast<T*>(out.raw_ptr()), n);
  };
  switch (out.dtype().val) {
    case Dtype::Val::float16: go(__half{}); break;
    case Dtype::Val::bfloat16: go(__nv_bfloat16{}); break;
    case Dtype::Val::float32: go(float{}); break;
    case Dtype::Val::float64: go(double{}); break;
    default: throw std::logic_error("[compile] fused chains are floating point only");
  }
  cuda::check_launch("[compile] fused kernel");
}

}  // namespace fastsync

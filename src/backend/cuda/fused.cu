// GPU kernels for Fused (primitives/fused.h): one thread per output element
// (a run of them where every dense operand is 16-byte aligned) computes the
// whole chain in registers, reading each input once and writing each
// output once.
//
// The kernel is generated for the chain and compiled at run time with NVRTC
// (jit.h): straight-line code calling the same scalar functors as the
// unfused kernels (backend/common/elementwise.h), specialized for the dtype
// and the way each input is read. Where NVRTC cannot be loaded, or with
// FASTSYNC_FUSED_KERNELS=interpreted, a precompiled kernel interprets the
// program instead (a switch per op): the same single pass over memory, the
// arithmetic paying for the dispatch. device_info(gpu)["fused_kernels"] says
// which runs; FASTSYNC_FUSED_KERNELS=nvrtc makes a missing NVRTC an error.
// Inputs that are neither dense, a repeating trailing block, nor a scalar
// are first copied dense.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/common/elementwise.h"
#include "backend/common/strided.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/fused_source.h"
#include "backend/cuda/jit.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/fused.h"

namespace fastsync {

namespace {

constexpr int kMaxInputs = FusedProgram::kMaxSlots;

struct DeviceProgram {
  int n_inputs, n_ops, n_outputs;
  FusedOp ops[FusedProgram::kMaxSlots];
  const void* in[kMaxInputs];
  FusedRead read[kMaxInputs];
  int64_t size[kMaxInputs];
  void* out[FusedProgram::kMaxSlots];
  int out_slot[FusedProgram::kMaxSlots];
};

template <typename C>
__device__ inline C apply_unary(int op, C x) {
  switch (static_cast<UnaryOp>(op)) {
#define FASTSYNC_CASE(o, Name)                                                     \
  case UnaryOp::o:                                                                 \
    if constexpr (elementwise::unary_supports<UnaryOp::o, C>() &&                  \
                  std::is_same_v<elementwise::unary_result_t<UnaryOp::o, C>, C>) { \
      return elementwise::UnaryFn<UnaryOp::o>{}(x);                                \
    }                                                                              \
    break;
    FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  return C(0);  // the fusion pass sends only ops that compute in C
}

template <typename C>
__device__ inline C apply_binary(int op, C a, C b) {
  switch (static_cast<BinaryOp>(op)) {
#define FASTSYNC_CASE(o, Name)                                                       \
  case BinaryOp::o:                                                                  \
    if constexpr (elementwise::binary_supports<BinaryOp::o, C>() &&                  \
                  std::is_same_v<elementwise::binary_result_t<BinaryOp::o, C>, C>) { \
      return elementwise::BinaryFn<BinaryOp::o>{}(a, b);                             \
    }                                                                                \
    break;
    FASTSYNC_BINARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  return C(0);
}

template <typename T>
__global__ void fused_kernel(DeviceProgram p, int64_t n) {
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
    for (int o = 0; o < p.n_outputs; ++o) {
      static_cast<T*>(p.out[o])[i] = cuda::narrow<T>(slot[p.out_slot[o]]);
    }
  }
}

enum class Mode { nvrtc, interpreted };

// FASTSYNC_FUSED_KERNELS, read once: auto (NVRTC when it loads), nvrtc or
// interpreted.
Mode mode() {
  static const Mode m = [] {
    const char* env = std::getenv("FASTSYNC_FUSED_KERNELS");
    std::string v = env ? env : "auto";
    if (v != "auto" && v != "nvrtc" && v != "interpreted") {
      throw std::invalid_argument(
          "[compile] FASTSYNC_FUSED_KERNELS must be auto, nvrtc or interpreted, got '" + v + "'");
    }
    if (v == "interpreted") return Mode::interpreted;
    std::string why;
    if (cuda::jit::available(&why)) return Mode::nvrtc;
    if (v == "nvrtc") {
      throw std::runtime_error("[compile] FASTSYNC_FUSED_KERNELS=nvrtc, but " + why);
    }
    return Mode::interpreted;
  }();
  return m;
}

// What decides a generated kernel: the dtype, the program and how each input
// is read. A compact key, so a launch finds its kernel without generating
// the source again.
std::string kernel_key(const FusedProgram& prog, Dtype dtype, const FusedRead* reads,
                       bool vectorized) {
  std::string key;
  key.push_back(static_cast<char>(dtype.val));
  key.push_back(vectorized ? 'v' : 's');
  for (int k = 0; k < prog.n_inputs; ++k) key.push_back(static_cast<char>(reads[k]));
  key.push_back('|');
  for (const FusedOp& o : prog.ops) {
    key.push_back(static_cast<char>(o.unary));
    key.push_back(static_cast<char>(o.op));
    key.push_back(static_cast<char>(o.a));
    key.push_back(static_cast<char>(o.b));
  }
  key.push_back('|');
  for (int slot : prog.extra_outputs) key.push_back(static_cast<char>(slot));
  return key;
}

// Kernels by key and device. Encoding is serialized by the eval driver, but
// the mutex keeps this safe from any caller.
std::mutex kernels_mutex;
std::unordered_map<std::string, cudaKernel_t> kernels;

cudaKernel_t generated_kernel(const FusedProgram& prog, Dtype dtype, const FusedRead* reads,
                              bool vectorized) {
  int dev = 0;
  cuda::check(cudaGetDevice(&dev), "cudaGetDevice");
  std::string key = kernel_key(prog, dtype, reads, vectorized) + "@" + std::to_string(dev);
  std::lock_guard lk(kernels_mutex);
  auto it = kernels.find(key);
  if (it == kernels.end()) {
    cudaKernel_t k =
        cuda::jit::kernel(cuda::fused_kernel_source(prog, dtype, reads, vectorized), "fused");
    it = kernels.emplace(std::move(key), k).first;
  }
  return it->second;
}

}  // namespace

std::string cuda::fused_kernels_description() {
  if (mode() == Mode::nvrtc) return "nvrtc (" + cuda::jit::nvrtc_path() + ")";
  const char* env = std::getenv("FASTSYNC_FUSED_KERNELS");
  if (env && std::string(env) == "interpreted") return "interpreted (FASTSYNC_FUSED_KERNELS)";
  std::string why;
  cuda::jit::available(&why);
  return "interpreted (" + why + ")";
}

namespace {

void launch_generated(const FusedProgram& prog, const DeviceProgram& p, Dtype dtype, int64_t n,
                      cudaStream_t stream) {
  // 16-byte units when every dense operand sits on a 16-byte boundary (the
  // allocator's buffers do; a view's offset may not).
  bool vectorized = true;
  for (int i = 0; i < prog.n_inputs; ++i) {
    if (p.read[i] == FusedRead::dense) vectorized = vectorized && cuda::aligned16({p.in[i]});
  }
  for (int o = 0; o < p.n_outputs; ++o) vectorized = vectorized && cuda::aligned16({p.out[o]});
  cudaKernel_t k = generated_kernel(prog, dtype, p.read, vectorized);
  const int64_t items = vectorized ? std::max<int64_t>(1, n / (16 / dtype.size())) : n;
  std::vector<void*> args;
  long long nn = n;
  long long m[kMaxInputs];
  for (int i = 0; i < prog.n_inputs; ++i) args.push_back(const_cast<void**>(&p.in[i]));
  for (int o = 0; o < p.n_outputs; ++o) args.push_back(const_cast<void**>(&p.out[o]));
  args.push_back(&nn);
  for (int i = 0; i < prog.n_inputs; ++i) {
    if (p.read[i] == FusedRead::cyclic) {
      m[i] = p.size[i];
      args.push_back(&m[i]);
    }
  }
  cuda::check(cudaLaunchKernel(reinterpret_cast<const void*>(k), dim3(cuda::grid_for(items)),
                               dim3(cuda::kBlock), args.data(), 0, stream),
              "[compile] fused kernel (generated)");
}

}  // namespace

void Fused::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const Shape& shape = outputs[0].shape();
  const Dtype dtype = outputs[0].dtype();
  DeviceProgram p{};
  p.n_inputs = program_.n_inputs;
  p.n_ops = static_cast<int>(program_.ops.size());
  p.n_outputs = static_cast<int>(outputs.size());
  for (int j = 0; j < p.n_ops; ++j) p.ops[j] = program_.ops[j];
  const std::vector<int> slots = program_.output_slots();
  for (int o = 0; o < p.n_outputs; ++o) p.out_slot[o] = slots[o];
  // Inputs read in place are declared after the outputs' buffers are
  // chosen: a declaration holds a reference, which would rule out donating
  // it. Each output may take a different dense input's buffer.
  std::vector<const array*> donors;
  std::vector<bool> staged(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    const array& in = inputs[k];
    auto read = fused_read(in, shape);
    if (!read) {
      enc.set_input_array(in);
      staged[k] = true;
      array dense = cuda::temporary(enc, shape, in.dtype());
      cuda::copy_gpu(enc, in.unsafe_weak_copy(shape, broadcast_strides(in, shape)), dense);
      p.in[k] = dense.raw_ptr();
      p.read[k] = FusedRead::dense;
      p.size[k] = dense.size();
      continue;
    }
    if (*read == FusedRead::dense && donors.size() < outputs.size() && in.is_donatable() &&
        in.dtype() == dtype) {
      donors.push_back(&in);
    }
    p.in[k] = in.raw_ptr();
    p.read[k] = *read;
    p.size[k] = in.size();
  }
  // Each thread reads its element before writing it: a dense input may be
  // an output.
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (o < donors.size()) {
      cuda::donate_or_alloc(*donors[o], outputs[o]);
    } else {
      cuda::alloc(outputs[o]);
    }
    p.out[o] = outputs[o].raw_ptr();
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!staged[k]) enc.set_input_array(inputs[k]);
  }
  for (array& out : outputs) enc.set_output_array(out);
  int64_t n = outputs[0].size();
  if (n == 0) return;
  if (mode() == Mode::nvrtc) {
    for (const FusedOp& o : program_.ops) {
      if (!cuda::fused_op_computes_in(o, dtype)) {
        throw std::logic_error("[compile] a fused op does not compute in its dtype");
      }
    }
    launch_generated(program_, p, dtype, n, enc.cuda_stream());
    return;
  }
  auto go = [&](auto tag) {
    using T = decltype(tag);
    fused_kernel<T><<<cuda::grid_for(n), cuda::kBlock, 0, enc.cuda_stream()>>>(p, n);
  };
  switch (dtype.val) {
    case Dtype::Val::float16: go(__half{}); break;
    case Dtype::Val::bfloat16: go(__nv_bfloat16{}); break;
    case Dtype::Val::float32: go(float{}); break;
    case Dtype::Val::float64: go(double{}); break;
    default: throw std::logic_error("[compile] fused chains are floating point only");
  }
  cuda::check_launch("[compile] fused kernel");
}

}  // namespace fastsync

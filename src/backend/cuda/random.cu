// GPU eval of RandomBits.
//
// Contract: bit for bit the CPU's output (src/backend/cpu/random.cpp), so a key
// draws the same numbers on either device: element i is word i % 2 of
// threefry2x32(key, counter = (i / 2 low 32 bits, i / 2 high 32 bits)),
// the block function both backends take from backend/common/threefry.h.
// The key is a (2,) uint32 device array, possibly strided.
#include <cstdint>

#include "backend/common/threefry.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/random.h"

namespace fastsync {

namespace {

// One thread per block of two outputs; `pairs` says whether the output is
// 8-byte aligned, so both words go out in one store.
__global__ void random_bits_kernel(const uint32_t* key, int64_t kstride, uint32_t* out,
                                   int64_t n, bool pairs) {
  uint32_t k0 = key[0], k1 = key[kstride];
  int64_t blocks = (n + 1) / 2;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; b < blocks;
       b += stride) {
    uint32_t o0, o1;
    threefry::block(k0, k1, static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), o0, o1);
    if (pairs && 2 * b + 1 < n) {
      reinterpret_cast<uint2*>(out)[b] = make_uint2(o0, o1);
    } else {
      out[2 * b] = o0;
      if (2 * b + 1 < n) out[2 * b + 1] = o1;
    }
  }
}

}  // namespace

void RandomBits::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& key = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_input_array(key);
  enc.set_output_array(out);
  int64_t n = out.size();
  if (n == 0) return;
  bool pairs = reinterpret_cast<uintptr_t>(out.raw_ptr()) % 8 == 0;
  random_bits_kernel<<<cuda::grid_for((n + 1) / 2), cuda::kBlock, 0, enc.cuda_stream()>>>(
      static_cast<const uint32_t*>(key.raw_ptr()), key.strides()[0],
      static_cast<uint32_t*>(out.raw_ptr()), n, pairs);
  cuda::check_launch("[random_bits] kernel");
}

}  // namespace fastsync

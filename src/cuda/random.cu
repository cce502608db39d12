// GPU eval of RandomBits.
//
// Contract: bit for bit the CPU's output (src/cpu/random.cpp), so a key
// draws the same numbers on either device: element i is word i % 2 of
// threefry2x32(key, counter = (i / 2 low 32 bits, i / 2 high 32 bits)).
// The key is a (2,) uint32 device array, possibly strided.
#include <cstdint>

#include "cuda/kernel_utils.cuh"
#include "primitives/random.h"

namespace fastsync {

namespace {

__device__ inline uint32_t rotl(uint32_t x, int r) { return __funnelshift_l(x, x, r); }

__device__ constexpr int rotation(int r) {
  constexpr int kRot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  return kRot[r % 8];
}

// Mirrors fastsync::threefry2x32 (host); the loop unrolls so rotations and
// key-schedule indices are constants.
__device__ inline void threefry2x32_device(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1,
                                           uint32_t& o0, uint32_t& o1) {
  const uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};
  uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
#pragma unroll
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = rotl(x1, rotation(r));
    x1 ^= x0;
    if (r % 4 == 3) {
      uint32_t i = static_cast<uint32_t>(r / 4 + 1);
      x0 += ks[i % 3];
      x1 += ks[(i + 1) % 3] + i;
    }
  }
  o0 = x0;
  o1 = x1;
}

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
    threefry2x32_device(k0, k1, static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), o0, o1);
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
  random_bits_kernel<<<cuda::grid_for((n + 1) / 2), cuda::kBlock, 0, enc.stream()>>>(
      static_cast<const uint32_t*>(key.raw_ptr()), key.strides()[0],
      static_cast<uint32_t*>(out.raw_ptr()), n, pairs);
  cuda::check_launch("[random_bits] kernel");
}

}  // namespace fastsync

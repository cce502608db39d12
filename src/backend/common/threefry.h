// The threefry-2x32 block function (20 rounds, Salmon et al. 2011, as
// Random123 and JAX), written once for both backends so a key draws the
// same bits on the CPU (backend/cpu/random.cpp) and the GPU
// (backend/cuda/random.cu). Pure integer arithmetic on uint32 (wrapping is
// defined), so the two are bit-identical by construction; the known-answer
// test is tests/cpp/test_random.cpp.
#pragma once

#include <cstdint>

#include "backend/common/host_device.h"

namespace fastsync::threefry {

// Rotation of round r (the 2x32 schedule repeats every 8 rounds).
FASTSYNC_HD constexpr int rotation(int r) {
  constexpr int kRot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  return kRot[r % 8];
}

FASTSYNC_HD inline uint32_t rotl(uint32_t x, int r) {
#if defined(__CUDA_ARCH__)
  return __funnelshift_l(x, x, r);  // one SHF instruction
#else
  return (x << r) | (x >> (32 - r));  // r in 1..31: recognized as a rotate
#endif
}

// (o0, o1) = threefry2x32(key (k0, k1), counter (c0, c1)). The rounds are
// fully unrolled so rotations and key-schedule indices are constants.
FASTSYNC_HD inline void block(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t& o0,
                              uint32_t& o1) {
  const uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};  // parity constant of the schedule
  uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
  FASTSYNC_UNROLL
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = rotl(x1, rotation(r));
    x1 ^= x0;
    if (r % 4 == 3) {  // key injection every 4 rounds
      uint32_t i = static_cast<uint32_t>(r / 4 + 1);
      x0 += ks[i % 3];
      x1 += ks[(i + 1) % 3] + i;
    }
  }
  o0 = x0;
  o1 = x1;
}

}  // namespace fastsync::threefry

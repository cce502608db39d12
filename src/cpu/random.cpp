// CPU kernel for RandomBits.
#include "cpu/parallel.h"
#include "cpu/utils.h"
#include "primitives/random.h"

namespace fastsync {

namespace {
inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
}  // namespace

void threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t& o0,
                  uint32_t& o1) {
  static constexpr int kRot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  const uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};
  uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = rotl(x1, kRot[r % 8]);
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

void RandomBits::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& key = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(key);
  enc.set_output_array(out);
  enc.dispatch([key = static_cast<const uint32_t*>(key.raw_ptr()), kstride = key.strides()[0],
                dst = static_cast<uint32_t*>(out.raw_ptr()), n = out.size()] {
    uint32_t k0 = key[0], k1 = key[kstride];
    // Element i takes word i % 2 of block i / 2: counters (block, 0).
    int64_t blocks = (n + 1) / 2;
    cpu::parallel_for(blocks, cpu::kParallelGrain / 2, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        uint32_t o0, o1;
        threefry2x32(k0, k1, static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), o0, o1);
        dst[2 * i] = o0;
        if (2 * i + 1 < n) dst[2 * i + 1] = o1;
      }
    });
  });
}

}  // namespace fastsync

// CPU kernel for RandomBits. The bits are backend/common/threefry.h's, as
// on the GPU, so a key draws the same numbers on either device.
#include "backend/common/threefry.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"
#include "primitives/random.h"

namespace fastsync {

// The exported block function (ops/random.cpp and the known-answer test
// call it); the kernel below inlines the shared one directly.
void threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t& o0,
                  uint32_t& o1) {
  threefry::block(k0, k1, c0, c1, o0, o1);
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
    // Element i takes word i % 2 of block i / 2: counter (low, high 32 bits
    // of the block index).
    int64_t blocks = (n + 1) / 2;
    cpu::parallel_for(blocks, cpu::kParallelGrain / 2, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        uint32_t o0, o1;
        threefry::block(k0, k1, static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), o0, o1);
        dst[2 * i] = o0;
        if (2 * i + 1 < n) dst[2 * i + 1] = o1;
      }
    });
  });
}

}  // namespace fastsync

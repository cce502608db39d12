// CPU kernels for creation primitives.
#include "backend/cpu/copy.h"
#include "backend/cpu/utils.h"
#include "primitives/creation.h"

namespace fastsync {

void Full::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  cpu::alloc(out);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(inputs[0]);
  enc.set_output_array(out);
  enc.dispatch([v = cpu::broadcast_view(inputs[0], out.shape()),
                out = out.unsafe_weak_copy()]() mutable { cpu::copy_kernel(v, out); });
}

void Arange::eval_cpu(const std::vector<array>&, std::vector<array>& outputs) {
  array& out = outputs[0];
  cpu::alloc(out);
  cpu::encoder_for(*this).dispatch(
      [start = start_, step = step_, out = out.unsafe_weak_copy()]() mutable {
        dispatch_dtype(out.dtype(), [&](auto tag) {
          using T = decltype(tag);
          T* dst = out.data<T>();
          for (int64_t i = 0, n = out.size(); i < n; ++i) {
            if constexpr (std::is_integral_v<T>) {
              dst[i] = static_cast<T>(static_cast<int64_t>(start) + i * static_cast<int64_t>(step));
            } else {
              dst[i] = static_cast<T>(start + i * step);
            }
          }
        });
      });
}

}  // namespace fastsync

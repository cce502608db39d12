// CPU eval of the test primitive (see testing.h): a task that throws.
#include <stdexcept>

#include "backend/cpu/utils.h"
#include "testing/testing.h"

namespace fastsync {

void FailInTask::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::alloc(outputs[0]);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(inputs[0]);
  enc.dispatch([msg = message_] { throw std::runtime_error(msg); });
}

}  // namespace fastsync
